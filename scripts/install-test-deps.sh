#!/usr/bin/env bash
# Installs and starts what Fogline's test suite needs on a Debian or Ubuntu machine, and says what
# it did. Run it once as root: `sudo scripts/install-test-deps.sh`. Running it again installs
# nothing and takes about a second. .ci/run calls it; the tests' preflight
# (test/support/preflight.ts) names it when something is missing.
set -euo pipefail

if [[ $(id -u) != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -- "$0" "$@"; fi
  echo "install-test-deps: run this as root: it installs Debian packages and starts database servers" >&2
  exit 1
fi

# Each package, and what needs it. Keep in step with test/support/preflight.ts (its test checks).
PACKAGES=(
  python3 make g++  # npm ci builds better-sqlite3 from source
  postgresql        # the store suite's PostgreSQL; initdb and pg_ctl for test/e2e/database-outage
  mariadb-server    # the store suite's MariaDB
  chromium          # test/browser/dashboard (FOGLINE_CHROMIUM, default /usr/bin/chromium)
  prometheus        # prometheus and promtool for test/e2e/prometheus
  openssl           # test certificates for test/e2e/tls
  python3-torch python3-onnx  # examples/pytorch and test/e2e/pytorch-round-trip (run with /usr/bin/python3)
  redis-server      # control-plane replicas' change events (test/cluster); started below
  nginx-light       # test/e2e/nginx-replicas runs its own instance (the system service is not used)
  docker-compose    # test/deploy/compose: `docker-compose config` validates deploy/compose (no engine needed)
  kubectl           # test/deploy/kubernetes: `kubectl kustomize` renders deploy/kubernetes (kustomize v5: kubectl 1.27+)
  ansible ansible-lint systemd  # test/deploy/ansible: syntax check, lint, a local run; systemd-analyze verify on the units
  mosquitto mosquitto-clients  # device data over MQTT (test/e2e/device-data, the dashboard test, the README): a broker on 127.0.0.1:1883 (started below), private brokers, mosquitto_pub/sub
)
PG_HOST=127.0.0.1 PG_PORT=5432
MARIADB_HOST=127.0.0.1 MARIADB_PORT=3306

say() { printf '%s\n' "$*"; }

say "== Debian packages"
missing=()
for package in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null) != ii* ]]; then missing+=("$package"); fi
done
if ((${#missing[@]} == 0)); then
  say "already installed: ${PACKAGES[*]}"
else
  say "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  say "installed: ${missing[*]}"
fi

# Waits up to 30 s for `check` to succeed.
wait_for() {
  for _ in $(seq 1 30); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
say "== PostgreSQL on $PG_HOST:$PG_PORT"
if pg_up; then
  say "already running"
else
  # The cluster that listens on the port; a fresh install has one, <version> main.
  read -r version cluster < <(pg_lsclusters -h | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }') || true
  if [[ -z ${version:-} ]]; then
    say "no PostgreSQL cluster listens on port $PG_PORT; pg_lsclusters:" >&2
    pg_lsclusters >&2 || true
    say "  give one 'port = $PG_PORT' in /etc/postgresql/<version>/<cluster>/postgresql.conf (or create one: pg_createcluster <version> main --port $PG_PORT)," >&2
    say "  or run the tests with FOGLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/postgres" >&2
    exit 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  wait_for pg_up || { say "PostgreSQL $version/$cluster did not answer within 30 s" >&2; exit 1; }
  say "started cluster $version/$cluster"
fi

# mysqladmin ping succeeds whenever the server runs, even when it refuses the login.
mariadb_up() { mysqladmin --protocol=tcp -h "$MARIADB_HOST" -P "$MARIADB_PORT" -u root --connect-timeout=2 ping; }
say "== MariaDB on $MARIADB_HOST:$MARIADB_PORT"
if mariadb_up >/dev/null 2>&1; then
  say "already running"
else
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for mariadb_up || { say "MariaDB did not answer within 30 s" >&2; exit 1; }
  say "started mariadbd"
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
say "== Redis on 127.0.0.1:6379"
if redis_up; then
  say "already running"
else
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for redis_up || { say "Redis did not answer within 30 s" >&2; exit 1; }
  say "started redis-server"
fi

# Any MQTT client that connects and disconnects cleanly: mosquitto_pub exits non-zero when it cannot.
mqtt_up() { mosquitto_pub -h 127.0.0.1 -p 1883 -q 1 -t fogline/install-check -n; }
say "== Mosquitto on 127.0.0.1:1883"
if mqtt_up >/dev/null 2>&1; then
  say "already running"
else
  # Debian's configuration (persistence, its log file, the pid in /run/mosquitto); with no listener
  # named, Mosquitto 2 listens on the loopback addresses only, port 1883.
  install -d -o mosquitto -g mosquitto /run/mosquitto
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mosquitto -- -c /etc/mosquitto/mosquitto.conf
  wait_for mqtt_up || { say "Mosquitto did not answer within 30 s (its log: /var/log/mosquitto/mosquitto.log)" >&2; exit 1; }
  say "started mosquitto"
fi

# The tests log in as postgres and root without a password (test/support/databases.ts); a server
# that asks for one needs a change only its owner should make, so this says what, and stops.
say "== logins the tests use"
failed=0
if out=$(psql "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -w -Atc 'select 1' 2>&1); then
  say "PostgreSQL: postgres@$PG_HOST without a password: ok"
else
  failed=1
  say "PostgreSQL refuses postgres@$PG_HOST without a password: $out" >&2
  say "  allow it (a test machine): put 'host all postgres $PG_HOST/32 trust' first in pg_hba.conf, then pg_ctlcluster <version> main reload;" >&2
  say "  or run the tests with FOGLINE_TEST_POSTGRES_URL=postgres://<user>:<password>@$PG_HOST:$PG_PORT/postgres" >&2
fi
if out=$(mariadb --protocol=tcp -h "$MARIADB_HOST" -P "$MARIADB_PORT" -u root -e 'select 1' 2>&1); then
  say "MariaDB: root@$MARIADB_HOST without a password: ok"
else
  failed=1
  say "MariaDB refuses root@$MARIADB_HOST without a password: $out" >&2
  say "  allow it (a test machine): mariadb -e \"ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')\";" >&2
  say "  or run the tests with FOGLINE_TEST_MYSQL_URL=mysql://<user>:<password>@$MARIADB_HOST:$MARIADB_PORT/" >&2
fi
if ((failed)); then exit 1; fi
say "== ready: npm test"
