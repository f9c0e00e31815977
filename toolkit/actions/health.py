"""`mongo-toolkit health`: observe the server and judge it."""

from __future__ import annotations

from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.observe import observe_server
from toolkit.plan.health import HealthReport, assess_health


def check_health(settings: ConnectionSettings, max_lag_seconds: float) -> HealthReport:
    """Connect, observe and assess. Raise ConnectionFailed when nothing answers in time.

    Finding the server takes at most --timeout; what follows the first ping is
    bounded by three times --timeout: a server that answers and then hangs
    fails the check instead of holding it.
    """
    client = connect(settings)
    try:
        with translate_errors(settings, "checking health"):
            observation = observe_server(client, budget_seconds=settings.timeout * 3)
    finally:
        client.close()
    return assess_health(observation, max_lag_seconds)
