#!/usr/bin/env bash
# Run a command with MONGODB_URI pointing at the mongos of the `make up-sharded`
# cluster, built from .env. The password travels in the environment, never on a
# command line.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] || { echo "no .env: run 'make up-sharded' first" >&2; exit 2; }
set -a
# shellcheck disable=SC1091
. ./.env
set +a
user=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$MONGO_ROOT_USERNAME")
password=$(printf '%s' "$MONGO_ROOT_PASSWORD" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
export MONGODB_URI="mongodb://${user}:${password}@127.0.0.1:${MONGOS_PORT:-27020}/?authSource=admin"
exec "$@"
