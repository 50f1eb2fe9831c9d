#!/usr/bin/env bash
# The test command: installs what the tests need and is missing (curl, psql, nginx, Chromium and
# chromedriver, Redis, Node with the interop test's openid-client, Python requests; PostgreSQL
# itself on a machine that has none), makes sure PostgreSQL answers at 127.0.0.1:5432 and Redis at
# 127.0.0.1:6379, drops databases left behind by interrupted runs, then runs `cargo test` with any
# arguments given. Installing needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "scripts/test.sh: root is needed to run: $*" >&2; return 1
  fi
}

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v psql >/dev/null || need_apt+=(postgresql-client)
# The gateway test puts a real nginx in front of a backend (auth_request against certbound).
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
# Browser tests drive Debian's Chromium over WebDriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# Resource servers of a fleet share DPoP replay state in Redis.
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The interop test's TPP is openid-client on Node.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
installed_pg=0
if ! command -v pg_ctlcluster >/dev/null && ! { command -v pg_isready >/dev/null && pg_up; }; then
  need_apt+=(postgresql)
  installed_pg=1
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
# openid-client and undici at the versions package-lock.json pins.
interop=tests/interop/openid-client
[ -d "$interop/node_modules/openid-client" ] || npm ci --prefix "$interop" --no-audit --no-fund --silent
# The README's Python examples use requests.
python3 -c 'import requests' 2>/dev/null || python3 -m pip install --quiet requests

# PostgreSQL with trust authentication on 127.0.0.1:5432; the tests create and drop their own
# databases. Start the machine's cluster if it has stopped.
if ! pg_up; then
  cluster=$(ls /etc/postgresql | head -n1)
  if [ "$installed_pg" -eq 1 ]; then
    # A cluster this script just installed: let the tests in from loopback without a password.
    hba=/etc/postgresql/$cluster/main/pg_hba.conf
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "scripts/test.sh: PostgreSQL does not answer at 127.0.0.1:5432" >&2; exit 1; }

# Redis on 127.0.0.1:6379, without persistence: it only ever holds short-lived replay entries.
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
fi
redis_up || { echo "scripts/test.sh: Redis does not answer at 127.0.0.1:6379" >&2; exit 1; }

# Databases left behind by interrupted test runs.
psql -h 127.0.0.1 -U postgres -d postgres -Atc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'certbound_t_%'" |
  while read -r db; do psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

exec cargo test "$@"
