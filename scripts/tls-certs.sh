#!/usr/bin/env bash
# Makes test certificates for a TLS cluster (docs/cluster.md, "TLS") in DIR:
#   ca.crt, ca.key          a test CA (the cluster's: RAY_TLS_CA_CERT)
#   server.crt, server.key  a certificate it signed, for every process of the
#                           cluster (RAY_TLS_SERVER_CERT, RAY_TLS_SERVER_KEY);
#                           subjectAltName IP:127.0.0.1 and DNS:localhost
#   other-ca.crt            an unrelated CA, and other.crt, other.key signed
#                           by it: a process the cluster must refuse
# EC P-256 keys, valid 30 days. For tests and trials, not for production.
set -euo pipefail
dir=${1:?usage: scripts/tls-certs.sh DIR}
command -v openssl >/dev/null || { echo "tls-certs.sh: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
extensions=$(mktemp)
trap 'rm -f "$extensions" ./*.csr ./*.srl' EXIT
cat >"$extensions" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EXT
# A CA: NAME.key, NAME.crt (self-signed).
ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=$2" -keyout "$1.key" -out "$1.crt" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# A certificate NAME.crt with its key NAME.key, signed by the CA SIGNER.
leaf() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$3" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 \
        -extfile "$extensions" -out "$1.crt" 2>/dev/null
}
ca ca "SwiftRay test CA"
leaf server ca "SwiftRay node"
ca other-ca "Unrelated test CA"
leaf other other-ca "Unrelated node"
rm -f other-ca.key
chmod 600 ./*.key
echo "certificates in $PWD: ca.crt server.crt server.key (and other-ca.crt other.crt other.key)"
