#!/bin/sh
# Test certificates for the end-to-end tests, made fresh each run:
#   ca.pem            a test CA, the only one the test Postfix trusts
#   trusted.pem/.key  signed by it, for the recipient hosts (SANs below)
#   submit.pem/.key   signed by it, for Postfix's submission service
#   selfsigned.pem/.key  a self-signed certificate: "untrusted"
# usage: certs.sh DIR
set -eu
d=$1
mkdir -p "$d"
# shellcheck source=tests/lib/certs.sh
. "$(cd "$(dirname "$0")/../lib" && pwd)/certs.sh"
cd "$d"
umask 077
cert_ca . "Postern Test CA"
cert_leaf . trusted trusted "DNS:tls.test,DNS:tls12.test,DNS:tls13.test"
cert_leaf . submit submit "DNS:mta.postern.test"
cert_self . selfsigned untrusted.test
chmod 644 ./*.pem
