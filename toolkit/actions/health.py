"""`mongo-toolkit health`: observe the server and judge it."""

from __future__ import annotations

import pymongo

from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.observe import observe_server
from toolkit.plan.health import HealthReport, assess_health


def check_health(settings: ConnectionSettings, max_lag_seconds: float) -> HealthReport:
    """Connect, observe and assess. Raise ConnectionFailed when nothing answers in time.

    The whole observation is bounded (three times --timeout): a server that
    accepts the connection and then hangs fails the check instead of holding it.
    """
    client = connect(settings)
    try:
        with translate_errors(settings, "checking health"), pymongo.timeout(settings.timeout * 3):
            observation = observe_server(client)
    finally:
        client.close()
    return assess_health(observation, max_lag_seconds)
