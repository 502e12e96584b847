#!/bin/sh
# Writes the nginx configuration for several `fogline server` replicas to standard output:
# deploy/nginx/fogline.conf.template with the listen address and one `server` line per replica.
#
#   deploy/nginx/render.sh --listen 80 10.0.0.11:7070 10.0.0.12:7070 > /etc/nginx/conf.d/fogline.conf
#   nginx -t && nginx -s reload
set -eu

usage() {
  cat <<'USAGE'
Usage: render.sh [--listen <address>] [--max-fails <n>] [--fail-timeout <time>] <host:port>...

  --listen <address>      What nginx listens on: a port (8080), address:port (0.0.0.0:8080) or
                          either followed by " ssl" (default: 8080)
  --max-fails <n>         Failed attempts within --fail-timeout that take a replica out of the
                          rotation (default: 2)
  --fail-timeout <time>   That window, and how long the replica then stays out (default: 10s)
  <host:port>...          The replicas' addresses (fogline server --host/--port), at least one
USAGE
}

fail() {
  echo "render.sh: $1" >&2
  exit 2
}

listen=8080
max_fails=2
fail_timeout=10s
while [ $# -gt 0 ]; do
  case $1 in
    --listen) [ $# -ge 2 ] || fail "--listen needs a value"; listen=$2; shift 2 ;;
    --max-fails) [ $# -ge 2 ] || fail "--max-fails needs a value"; max_fails=$2; shift 2 ;;
    --fail-timeout) [ $# -ge 2 ] || fail "--fail-timeout needs a value"; fail_timeout=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) fail "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; fail "name at least one replica (host:port)"; }

# Values go into the configuration verbatim: refuse anything that could end a directive.
case $listen in
  '' | *[!A-Za-z0-9.:\[\]\ ]*) fail "--listen must be a port or address:port, optionally followed by ' ssl' (got '$listen')" ;;
esac
case $max_fails in
  '' | *[!0-9]*) fail "--max-fails must be a whole number (got '$max_fails')" ;;
esac
case $fail_timeout in
  '' | *[!0-9smh]*) fail "--fail-timeout must be a time such as 10s (got '$fail_timeout')" ;;
esac
replicas=''
for replica in "$@"; do
  port=${replica##*:}
  case $replica in
    *[!A-Za-z0-9.:\[\]_-]* | :* | *:) fail "a replica must be host:port (got '$replica')" ;;
    *:*) ;;
    *) fail "a replica must be host:port (got '$replica')" ;;
  esac
  case $port in
    *[!0-9]*) fail "a replica must be host:port (got '$replica')" ;;
  esac
  replicas="${replicas}    server ${replica} max_fails=${max_fails} fail_timeout=${fail_timeout};
"
done

template="$(dirname "$0")/fogline.conf.template"
[ -r "$template" ] || fail "cannot read $template"
LISTEN=$listen REPLICAS=$replicas awk '
  $0 == "@REPLICAS@" { printf "%s", ENVIRON["REPLICAS"]; next }
  { gsub(/@LISTEN@/, ENVIRON["LISTEN"]); print }
' "$template"
