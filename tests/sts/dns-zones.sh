#!/bin/sh
# Start an authoritative DNS server (nsd, Debian) on loopback with the
# MTA-STS/DANE test zones, run a command with its address and trust
# anchor in the environment, stop the server.  Nothing but 127.0.7.1 is
# ever asked; /etc/resolv.conf is never read.
#   dns-zones.sh COMMAND ARGS...
# Environment for COMMAND:
#   STS_DNS_ADDR     127.0.7.1@PORT
#   STS_DNS_TA       the DS record of the signed zone sts.example. (trust anchor)
#   STS_DNS_DIR      the zone directory (nsd.pid: the server; plain.example.zone
#                    may be edited and reloaded with SIGHUP)
#   STS_DNS_CONTROL  nsd-control for this server (a unix socket, no keys):
#                    `$STS_DNS_CONTROL stats_noreset` counts the queries it
#                    received, by type (num.type.TLSA=...), so tests can
#                    count the DNS round trips an evaluation costs
# Zones:
#   sts.example.        signed (ECDSA P-256, one key); tampered.sts.example's TXT
#                    is changed after signing, so validation of it fails
#   plain.example.      unsigned (insecure: no trust anchor covers it)
# STS_DNS_EXTRA (optional): a file of records appended to sts.example's
# zone before it is signed (tests/tlscheck/sts-world.sh).
# Any other name: nsd refuses, the resolver reports SERVFAIL.
set -eu
command -v nsd >/dev/null && command -v ldns-signzone >/dev/null || {
	echo "dns-zones: needs nsd and ldnsutils (scripts/install-deps.sh --test)" >&2
	exit 1
}
# shellcheck source=tests/lib/servers.sh
. "$(dirname "$0")/../lib/servers.sh"
srv_begin dns-zones sts-dns
dir=$srv_dir
chmod 755 "$dir"
addr=127.0.7.1
# a free UDP+TCP port: from the pid, away from the other tests' ranges
port=$(free_port 40000 10000)

cat >"$dir/sts.example.zone" <<ZONE
\$ORIGIN sts.example.
\$TTL 300
@ SOA ns.sts.example. admin.sts.example. 1 3600 600 86400 300
@ NS ns.sts.example.
ns A 127.0.7.1
; enforce: two MX hosts, one of them two labels under the policy's wildcard
enforce MX 10 mx1.enforce.sts.example.
enforce MX 20 a.mx2.enforce.sts.example.
_mta-sts.enforce TXT "v=STSv1; id=20240101T000000"
mta-sts.enforce A 127.0.7.2
mx1.enforce A 127.0.7.3
; a TXT record of several character strings, and unrelated records
_mta-sts.split TXT "v=STSv1; " "id=split1"
_mta-sts.split TXT "v=spf1 -all"
; two STS records
_mta-sts.twice TXT "v=STSv1; id=a"
_mta-sts.twice TXT "v=STSv1; id=b"
; DANE: a TLSA record for the MX host
dane MX 10 mx.dane.sts.example.
mx.dane A 127.0.7.4
_mta-sts.dane TXT "v=STSv1; id=dane1"
mta-sts.dane A 127.0.7.2
_25._tcp.mx.dane TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
; no TLSA
notlsa MX 10 mx.notlsa.sts.example.
mx.notlsa A 127.0.7.5
tampered TXT "original"
nullmx MX 0 .
; DANE without an MTA-STS policy: two domains sharing one MX host with TLSA
danenp MX 10 mx.danenp.sts.example.
danenp2 MX 10 mx.danenp.sts.example.
mx.danenp A 127.0.7.4
_25._tcp.mx.danenp TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
; the same for the daemon's test (tlspolicy-test.py)
danenp3 MX 10 mx.danenp3.sts.example.
danenp4 MX 10 mx.danenp3.sts.example.
mx.danenp3 A 127.0.7.4
_25._tcp.mx.danenp3 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
; and three more, each on an MX host of its own (TLSA not in a resolver's cache yet):
; tls-policy-none, and tlspolicy_postfix_dane = no
danenp5 MX 10 mx.danenp5.sts.example.
mx.danenp5 A 127.0.7.4
_25._tcp.mx.danenp5 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
danenp6 MX 10 mx.danenp6.sts.example.
mx.danenp6 A 127.0.7.4
_25._tcp.mx.danenp6 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
danenp7 MX 10 mx.danenp7.sts.example.
mx.danenp7 A 127.0.7.4
_25._tcp.mx.danenp7 TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ZONE
if [ -n "${STS_DNS_EXTRA:-}" ]; then cat "$STS_DNS_EXTRA" >>"$dir/sts.example.zone"; fi
cat >"$dir/plain.example.zone" <<ZONE
\$ORIGIN plain.example.
\$TTL 300
@ SOA ns.plain.example. admin.plain.example. 1 3600 600 86400 300
@ NS ns.plain.example.
ns A 127.0.7.1
@ MX 10 mx.plain.example.
_mta-sts TXT "v=STSv1; id=plain1"
mx A 127.0.7.6
_25._tcp.mx TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
; the TLS policy service's cases (tests/sts/tlspolicy-test.py; policies in
; https-server.py).  TTL 0 where the test changes a record and reloads.
testing MX 10 mx.testing.plain.example.
_mta-sts.testing TXT "v=STSv1; id=t1"
mta-sts.testing A 127.0.7.2
none MX 10 mx.none.plain.example.
_mta-sts.none TXT "v=STSv1; id=n1"
mta-sts.none A 127.0.7.2
rot MX 10 mx1.rot.plain.example.
rot MX 20 mx2.rot.plain.example.
_mta-sts.rot 0 TXT "v=STSv1; id=r1"
mta-sts.rot A 127.0.7.2
gone MX 10 mx.gone.plain.example.
_mta-sts.gone 0 TXT "v=STSv1; id=g1"
mta-sts.gone A 127.0.7.2
flaky MX 10 mx.flaky.plain.example.
_mta-sts.flaky TXT "v=STSv1; id=f1"
mta-sts.flaky A 127.0.7.2
redir MX 10 mx.redir.plain.example.
_mta-sts.redir TXT "v=STSv1; id=x1"
mta-sts.redir A 127.0.7.2
html MX 10 mx.html.plain.example.
_mta-sts.html TXT "v=STSv1; id=x1"
mta-sts.html A 127.0.7.2
big MX 10 mx.big.plain.example.
_mta-sts.big TXT "v=STSv1; id=x1"
mta-sts.big A 127.0.7.2
slow MX 10 mx.slow.plain.example.
_mta-sts.slow TXT "v=STSv1; id=s1"
mta-sts.slow A 127.0.7.2
badage MX 10 mx.badage.plain.example.
_mta-sts.badage TXT "v=STSv1; id=x1"
mta-sts.badage A 127.0.7.2
; no policy at all (no TXT), unsigned
nopol MX 10 mx.nopol.plain.example.
mx.nopol A 127.0.7.6
ZONE

nsd_sign "$dir" sts.example sts.example.zone sts.example.zone.signed
# tamper with one signed record: its RRSIG no longer matches
sed -i 's/"original"/"tampered"/' "$dir/sts.example.zone.signed"
nsd_control=yes nsd_start "$dir" "$addr" "$port" sts.example=sts.example.zone.signed plain.example=plain.example.zone
ctl="$(command -v nsd-control || echo nsd-control) -c $dir/nsd.conf"
STS_DNS_ADDR="$addr@$port" STS_DNS_TA="$(cat "$dir/ta.ds")" STS_DNS_DIR="$dir" STS_DNS_CONTROL="$ctl" "$@"
