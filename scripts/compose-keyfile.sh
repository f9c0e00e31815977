#!/bin/bash
# Runs in the compose "keyfile" service: create the replica-set keyfile once.
# mongod refuses a keyfile readable by others, and runs as uid 999 in the image.
set -euo pipefail
keyfile=/keyfile/keyfile
if [ ! -s "$keyfile" ]; then
  umask 077
  tr -dc 'A-Za-z0-9+/' </dev/urandom | head -c 756 >"$keyfile.tmp"
  mv "$keyfile.tmp" "$keyfile"
fi
chown 999:999 "$keyfile"
chmod 0400 "$keyfile"
