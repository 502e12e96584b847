#!/bin/sh
# Writes the files the stack's compose secrets name (paths of .env.example) into secrets/:
#   signing-key.pem  the registry's ed25519 signing key, shared by both replicas
#   ca.crt           a CA made here, which the worker and the agent pin (--ca)
#   tls.crt, tls.key nginx's certificate, signed by that CA, for the names given (and nginx,
#                    the name the worker and agent use inside the stack)
# Existing files are kept. Use your own CA and certificate in production: put them in these paths.
#
#   ./make-secrets.sh fogline.example.com
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
umask 077

if [ ! -f secrets/signing-key.pem ]; then
  openssl genpkey -algorithm ed25519 -out secrets/signing-key.pem
fi
if [ ! -f secrets/ca.crt ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj '/CN=Fogline compose CA' \
    -keyout secrets/ca.key -out secrets/ca.crt 2>/dev/null
fi
if [ ! -f secrets/tls.crt ]; then
  names="DNS:nginx,DNS:localhost,IP:127.0.0.1"
  for name in "$@"; do names="$names,DNS:$name"; done
  openssl req -newkey rsa:3072 -nodes -subj "/CN=${1:-nginx}" -keyout secrets/tls.key -out secrets/tls.csr 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$names" > secrets/tls.ext
  openssl x509 -req -in secrets/tls.csr -CA secrets/ca.crt -CAkey secrets/ca.key -CAcreateserial \
    -days 825 -extfile secrets/tls.ext -out secrets/tls.crt 2>/dev/null
  rm -f secrets/tls.csr secrets/tls.ext secrets/ca.srl
fi
# Compose secrets are bind mounts: the files keep these modes and owners inside the containers.
# The Fogline image runs as uid 10001 and Prometheus as 65534 (nobody); nginx's master reads as root.
chmod 0644 secrets/ca.crt secrets/tls.crt
echo "secrets/ written. As root, let the containers read their keys:"
echo "  chown 10001 secrets/signing-key.pem"
echo "Once the tokens exist (README), the same for Prometheus's:"
echo "  chown 65534 secrets/prometheus-viewer.token secrets/prometheus-agents.token"
