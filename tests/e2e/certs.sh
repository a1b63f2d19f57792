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
cd "$d"
umask 077
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=Postern Test CA" -keyout ca.key -out ca.pem \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
leaf() { # name SANs
	q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
	q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem"
}
leaf trusted "DNS:tls.test,DNS:tls12.test,DNS:tls13.test"
leaf submit "DNS:mta.postern.test"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=untrusted.test" -addext subjectAltName=DNS:untrusted.test -keyout selfsigned.key -out selfsigned.pem
chmod 644 ./*.pem
