"""Suite-wide pytest configuration.

The fixtures that start the wire-protocol test server (``server``,
``mongo_server``, ``replset``, ``mongos_server``) live in
tests/support/pytest_plugin.py; see README "How the tests are organised".
"""

pytest_plugins = ["tests.support.pytest_plugin"]
