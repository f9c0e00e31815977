#!/usr/bin/env bash
# Run a command with MONGODB_URI pointing at the local cluster, built from .env:
#   scripts/with-local-uri.sh CMD...            the `make up` replica set
#   scripts/with-local-uri.sh --mongos CMD...   the mongos of `make up-sharded`
# The password travels in the environment, never on a command line.
set -euo pipefail
cd "$(dirname "$0")/.."
mongos=false
if [ "${1:-}" = "--mongos" ]; then
  mongos=true
  shift
fi
[ -f .env ] || { echo "no .env: run 'make up' (or 'make up-sharded') first" >&2; exit 2; }
set -a
# shellcheck disable=SC1091
. ./.env
set +a
quote() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'; }
user=$(printf '%s' "$MONGO_ROOT_USERNAME" | quote)
password=$(printf '%s' "$MONGO_ROOT_PASSWORD" | quote)
if $mongos; then
  export MONGODB_URI="mongodb://${user}:${password}@127.0.0.1:${MONGOS_PORT:-27020}/?authSource=admin"
else
  export MONGODB_URI="mongodb://${user}:${password}@127.0.0.1:${MONGO_PORT:-27017}/?authSource=admin&directConnection=true"
fi
exec "$@"
