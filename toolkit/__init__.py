"""mongo-ops-toolkit: run MongoDB from a catalog kept in git."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mongo-ops-toolkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
