# Shared by scripts/up.sh, up-sharded.sh and with-local-uri.sh (sourced, not run).

# Create .env from .env.example on first use, with a random root password.
ensure_env_file() {
  if [ ! -f .env ]; then
    local password
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
    sed "s/^MONGO_ROOT_PASSWORD=.*/MONGO_ROOT_PASSWORD=${password}/" .env.example >.env
    chmod 600 .env
    echo "created .env with a random root password"
  fi
}
