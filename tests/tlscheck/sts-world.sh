#!/bin/sh
# The MTA-STS/DANE world of `tls check` (issue 8 with issue 7's policy
# service): SMTP servers on 127.0.8.21-.26 (tests/tlscheck/smtp-servers.py)
# with certificates from a test CA, their domains added to the signed
# zone sts.example. of tests/sts/dns-zones.sh (STS_DNS_EXTRA: MX, the
# _mta-sts TXT records, TLSA records computed from the certificates
# here), their policies served by tests/sts/https-server.sh
# (STS_HTTPS_POLICY_DIR, STS_HTTPS_NAMES).  Then a command, then
# everything is stopped.
#   sts-world.sh COMMAND ARGS...
# Environment for COMMAND: what dns-zones.sh and https-server.sh give,
# and TLSCHECK_PORT (the SMTP port), TLSCHECK_CA (the SMTP test CA),
# TLSCHECK_DIR.
# Domains (all under sts.example, DNSSEC-signed):
#   tc-good     enforce, mx *.tc-good; mx.tc-good .21 valid certificate
#   tc-wrong    enforce, mx mx.tc-wrong; .22 a certificate for other.example
#   tc-nomatch  enforce, mx *.tc-nomatch; 10 mx.tc-nomatch (.22, wrong
#               name), 20 a.b.tc-nomatch (.23, valid, but two labels
#               under the wildcard: not in the policy)
#   tc-testing  testing, mx mx.tc-testing; .22 (wrong name)
#   tc-nomx     enforce, mx mx.elsewhere.example; .21: no MX matches
#   tc-plain    no policy, no TLSA; .22 (wrong name)
#   tc-dane     TLSA 3 1 1 of the key of .24's self-signed certificate
#   tc-danebad  TLSA 3 1 1 of another key; .25 a valid certificate
#   tc-daneta   TLSA 2 0 1 of the test CA; .26 valid, sends the CA too
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sts=$(cd "$here/../sts" && pwd)
# shellcheck source=tests/lib/servers.sh
. "$here/../lib/servers.sh"
# shellcheck source=tests/lib/certs.sh
. "$here/../lib/certs.sh"
srv_begin sts-world.sh tlscheck-sts
dir=$srv_dir
chmod 755 "$dir"
smtp_port=$(free_port 11000 9000)
z=sts.example

# ---- certificates ----
(
	cd "$dir"
	cert_ca . "Postern STS check test CA"
	leaf() { cert_leaf . "$1" "$2" "DNS:$2"; } # name host
	leaf good "mx.tc-good.$z"
	leaf other "other.example"
	leaf deep "a.b.tc-nomatch.$z"
	leaf danebad "mx.tc-danebad.$z"
	leaf daneta "mx.tc-daneta.$z"
	cat ca.pem >>daneta.pem # the chain, with the trust anchor of the TLSA record
	cert_self . dane "mx.tc-dane.$z"
	for f in good other deep danebad daneta dane; do [ -s "$f.pem" ] || { echo "sts-world: no $f.pem" >&2; exit 1; }; done
	chmod 644 ./*.pem ./*.key
)
# TLSA 3 1 1: SHA-256 of the public key; 2 0 1: SHA-256 of the CA certificate
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
cert() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
dane_hash=$(spki "$dir/dane.pem")
other_hash=$(spki "$dir/good.pem")
ca_hash=$(cert "$dir/ca.pem")

# ---- the zone records and the policies ----
mkdir "$dir/policies"
pol() { # domain mode mx...
	d=$1 m=$2
	shift 2
	{
		printf 'version: STSv1\nmode: %s\n' "$m"
		for x in "$@"; do printf 'mx: %s\n' "$x"; done
		printf 'max_age: 86400\n'
	} >"$dir/policies/$d.$z"
	names="${names:-} mta-sts.$d.$z"
	printf '_mta-sts.%s TXT "v=STSv1; id=%s1"\nmta-sts.%s A 127.0.7.2\n' "$d" "$(printf %s "$d" | tr -d -)" "$d" \
		>>"$dir/extra.zone"
}
: >"$dir/extra.zone"
pol tc-good enforce "*.tc-good.$z"
pol tc-wrong enforce "mx.tc-wrong.$z"
pol tc-nomatch enforce "*.tc-nomatch.$z"
pol tc-testing testing "mx.tc-testing.$z"
pol tc-nomx enforce "mx.elsewhere.example"
cat >>"$dir/extra.zone" <<ZONE
tc-good MX 10 mx.tc-good.$z.
mx.tc-good A 127.0.8.21
tc-wrong MX 10 mx.tc-wrong.$z.
mx.tc-wrong A 127.0.8.22
tc-nomatch MX 10 mx.tc-nomatch.$z.
tc-nomatch MX 20 a.b.tc-nomatch.$z.
mx.tc-nomatch A 127.0.8.22
a.b.tc-nomatch A 127.0.8.23
tc-testing MX 10 mx.tc-testing.$z.
mx.tc-testing A 127.0.8.22
tc-nomx MX 10 mx.tc-nomx.$z.
mx.tc-nomx A 127.0.8.21
tc-plain MX 10 mx.tc-plain.$z.
mx.tc-plain A 127.0.8.22
tc-dane MX 10 mx.tc-dane.$z.
mx.tc-dane A 127.0.8.24
_25._tcp.mx.tc-dane TLSA 3 1 1 $dane_hash
tc-danebad MX 10 mx.tc-danebad.$z.
mx.tc-danebad A 127.0.8.25
_25._tcp.mx.tc-danebad TLSA 3 1 1 $other_hash
tc-daneta MX 10 mx.tc-daneta.$z.
mx.tc-daneta A 127.0.8.26
_25._tcp.mx.tc-daneta TLSA 2 0 1 $ca_hash
ZONE

/usr/bin/python3 "$here/smtp-servers.py" "$smtp_port" "$dir" 127.0.8.21=tls:good 127.0.8.22=tls:other \
	127.0.8.23=tls:deep 127.0.8.24=tls:dane 127.0.8.25=tls:danebad 127.0.8.26=tls:daneta \
	>"$dir/smtp.out" 2>"$dir/smtp.log" &
smtp_pid=$!
srv_track $smtp_pid
srv_wait "the SMTP servers" "$dir/smtp.log" "grep -q ready '$dir/smtp.out'" $smtp_pid
STS_DNS_EXTRA="$dir/extra.zone" STS_HTTPS_NAMES="$names" STS_HTTPS_POLICY_DIR="$dir/policies" \
	TLSCHECK_PORT=$smtp_port TLSCHECK_CA="$dir/ca.pem" TLSCHECK_DIR="$dir" \
	"$sts/dns-zones.sh" "$sts/https-server.sh" "$@"
