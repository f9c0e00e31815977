"""Wait until the local mongod answers and, in a replica set, has a usable state.

Installed by the mongodb_server role and run by its restart handler: after a
restart, the next host of a rolling (serial) run must wait until this member is
PRIMARY, SECONDARY or ARBITER again. `hello` needs no credentials, so this works
before the first user exists and never handles a password.

Exit 0 when the member is ready (or is a standalone, an uninitiated replica-set
member or a mongos), 1 on timeout with the last state seen on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def describe(hello: dict) -> tuple[bool, str]:
    """Given a hello reply, return (ready, state in words)."""
    if hello.get("msg") == "isdbgrid":
        return True, "mongos"
    if "setName" not in hello:
        if hello.get("isreplicaset"):
            return True, "replica-set member not initiated yet"
        return True, "standalone"
    if hello.get("isWritablePrimary") or hello.get("ismaster"):
        return True, "PRIMARY"
    if hello.get("secondary"):
        return True, "SECONDARY"
    if hello.get("arbiterOnly"):
        return True, "ARBITER"
    return False, "in replica set " + str(
        hello["setName"]
    ) + " but not PRIMARY/SECONDARY/ARBITER yet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--tls-ca-file")
    options = parser.parse_args(argv)

    connection = {"directConnection": True, "serverSelectionTimeoutMS": 2000}
    if options.tls:
        # The certificate names the host, not 127.0.0.1: this is a liveness
        # check of the local process, not an authenticated client.
        connection.update(tls=True, tlsAllowInvalidHostnames=True)
        if options.tls_ca_file:
            connection["tlsCAFile"] = options.tls_ca_file

    deadline = time.monotonic() + options.timeout
    state = "no answer yet"
    while True:
        client = MongoClient(options.host, options.port, **connection)
        try:
            ready, state = describe(client.admin.command("hello"))
            if ready:
                print(f"mongod on {options.host}:{options.port}: {state}")
                return 0
        except PyMongoError as error:
            state = f"no answer: {error}"
        finally:
            client.close()
        if time.monotonic() >= deadline:
            print(
                f"mongod on {options.host}:{options.port} not ready after {options.timeout:.0f} s: "
                f"{state}",
                file=sys.stderr,
            )
            return 1
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
