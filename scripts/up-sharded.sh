#!/usr/bin/env bash
# `make up-sharded`: start the local sharded cluster (compose profile "sharded":
# a config server replica set, two one-member shard replica sets, a mongos),
# wait until the mongos has both shards, then apply the catalog's schema and
# sharding through the mongos.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
ensure_env_file

echo "starting the sharded cluster (docker compose --profile sharded up --wait mongos)..."
# Naming the mongos starts it and what it depends on, not the `mongo` replica set.
docker compose --profile sharded up -d --wait mongos

echo "applying the catalog's schema and sharding through the mongos..."
scripts/with-local-uri.sh --mongos "$bin/mongo-toolkit" --catalog catalogs/ schema apply
scripts/with-local-uri.sh --mongos "$bin/mongo-toolkit" --catalog catalogs/ shard apply
scripts/with-local-uri.sh --mongos "$bin/mongo-toolkit" health
echo
echo "ready. Run the toolkit against the mongos with:"
echo "  scripts/with-local-uri.sh --mongos .venv/bin/mongo-toolkit shard plan"
