#!/usr/bin/env bash
# `make up`: start the local cluster, wait until healthy, apply the catalog.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
ensure_env_file

echo "starting MongoDB (docker compose up --wait)..."
docker compose up -d --wait

echo "applying the catalog's schema..."
scripts/with-local-uri.sh "$bin/mongo-toolkit" --catalog catalogs/ schema apply
echo "seeding (only on the first start: --if-empty)..."
scripts/with-local-uri.sh "$bin/mongo-toolkit" --catalog catalogs/ seed --seed 1 --if-empty --now today
scripts/with-local-uri.sh "$bin/mongo-toolkit" health
echo
echo "ready. Run the toolkit against it with: scripts/with-local-uri.sh .venv/bin/mongo-toolkit <command>"
