#!/bin/sh
# `postern tls policy DOMAIN` against the real nsd and HTTPS servers of
# tests/sts (dns-zones.sh, https-server.sh), with postern-hookd's
# configuration file pointing at them and a real database as the cache.
#   dns-zones.sh https-server.sh cli_tls_policy.sh POSTERN_BINARY
set -eu
P=$1
[ -n "${STS_DNS_ADDR:-}" ] && [ -n "${STS_HTTPS_PORT:-}" ] || {
	echo "run through tests/sts/dns-zones.sh tests/sts/https-server.sh" >&2
	exit 1
}
# shellcheck source=tests/lib/check.sh
. "$(dirname "$0")/../lib/check.sh"
check_begin cli-tls-policy
postern() { "$P" --db "$T/postern.db" --key-file "$T/master.key" "$@"; }
printf '%s\n' "$STS_DNS_TA" >"$T/ta.ds"
cat >"$T/hookd.conf" <<CONF
# the test servers: nsd with the signed zone's DS as trust anchor, the HTTPS server's CA and port
dns_forward = $STS_DNS_ADDR
dns_trust_anchor_file = $T/ta.ds
mtasts_ca_file = $STS_HTTPS_CA
mtasts_https_port = $STS_HTTPS_PORT
mtasts_timeout = 5000
CONF
C="--hookd-config $T/hookd.conf"

# enforce: fetched, cached; the wildcard matches mx1 only, never a.mx2 two labels down.
expect 0 "^cache: +nothing cached$" postern tls policy enforce.sts.example $C
expect 0 "^  tls-policy +OK secure match=mx1.enforce.sts.example servername=hostname$" postern tls policy enforce.sts.example $C
expect 0 "^TXT: +_mta-sts.enforce.sts.example: id=20240101T000000$" postern tls policy enforce.sts.example $C
expect 0 "^policy: +mode enforce, max_age 86400, mx \*.enforce.sts.example$" postern tls policy enforce.sts.example $C
expect 0 "a.mx2.enforce.sts.example \(matches no mx pattern" postern tls policy enforce.sts.example $C
expect 0 "mx1.enforce.sts.example \(matches \*.enforce.sts.example\)" postern tls policy enforce.sts.example $C
expect 0 "^cache: +policy id=20240101T000000 mode enforce, fetched [0-9]+ s ago; expires " postern tls policy enforce.sts.example $C
expect 0 "^why \(tls-policy\): cached policy id=20240101T000000" postern tls policy enforce.sts.example $C
expect 0 "^  tls-policy-verify13 +OK secure match=mx1.enforce.sts.example servername=hostname protocols=>=TLSv1.3$" postern \
	tls policy enforce.sts.example $C
# One map, as JSON.
out=$("$P" --db "$T/postern.db" --json tls policy enforce.sts.example --map tls-policy-encrypt13 $C)
if printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["domain"] == "enforce.sts.example" and d["txt"]["id"] == "20240101T000000", d["txt"]
assert d["policy"] == {"mode": "enforce", "max_age": 86400, "mx": ["*.enforce.sts.example"]}, d["policy"]
assert d["cache"]["kind"] == "policy" and d["cache"]["expired"] is False, d["cache"]
assert sorted((m["host"], m["matches"]) for m in d["mx"]) == [
    ("a.mx2.enforce.sts.example", None), ("mx1.enforce.sts.example", "*.enforce.sts.example")], d["mx"]
assert d["dane"] is False and d["dns_unavailable"] is None
assert [(a["map"], a["result"], a["answer"]) for a in d["answers"]] == [("tls-policy-encrypt13", "OK",
    "secure match=mx1.enforce.sts.example servername=hostname protocols=>=TLSv1.3")], d["answers"]
'; then ok "--json --map: one answer, the policy, the cache, the MX matches"; else bad "--json: $out"; fi

# DANE first: dane on tls-policy, dane-only on the enforcing maps, never secure.
expect 0 "^DANE: +yes" postern tls policy dane.sts.example $C
expect 0 "^  tls-policy +OK dane$" postern tls policy dane.sts.example $C
expect 0 "^  tls-policy-verify +OK dane-only protocols=>=TLSv1.2$" postern tls policy dane.sts.example $C
# No usable policy (mta-sts.plain.example does not exist): NOTFOUND, or the transport's own level;
# never had a policy, so stored as none for mtasts_failure_ttl (60 s) rather than fetched every time.
expect 0 "^why \(tls-policy-encrypt\): .*fetch failed: A mta-sts.plain.example.*no policy for 60 s" postern \
	tls policy plain.example --map tls-policy-encrypt $C
expect 0 "^why \(tls-policy\): cached: no policy" postern tls policy plain.example $C
expect 0 "^cache: +no policy, found [0-9]+ s ago; asked again after" postern tls policy plain.example $C
expect 0 "^DANE: +no: the MX records are not DNSSEC-signed" postern tls policy plain.example $C
expect 0 "^  tls-policy +NOTFOUND$" postern tls policy plain.example $C
expect 0 "^  tls-policy-encrypt +OK encrypt protocols=>=TLSv1.2$" postern tls policy plain.example $C
# tlspolicy_postfix_dane = yes (the default): a signed domain without a policy is left to
# Postfix's dane level on tls-policy (TLSA not asked); the enforcing maps and tls-policy-none
# (postern-notls, level none: no DANE of its own) still know DANE.
{ cat "$T/hookd.conf"; echo "tlspolicy_postfix_dane = yes"; } >"$T/dane.conf"
{ cat "$T/hookd.conf"; echo "tlspolicy_postfix_dane = no"; } >"$T/nodane.conf"
expect 0 "^  tls-policy +NOTFOUND$" postern tls policy danenp.sts.example $C
expect 0 "^  tls-policy-none +OK dane$" postern tls policy danenp.sts.example $C
expect 0 "^DANE: +yes" postern tls policy danenp.sts.example --map tls-policy-none $C
expect 0 "^  tls-policy-none +NOTFOUND$" postern tls policy notlsa.sts.example $C
expect 0 "^  tls-policy-none +OK secure match=mx1.enforce.sts.example servername=hostname$" postern tls policy enforce.sts.example $C
expect 0 "^  tls-policy +NOTFOUND$" postern tls policy danenp.sts.example --hookd-config "$T/dane.conf"
expect 0 "^  tls-policy-verify +OK dane-only protocols=>=TLSv1.2$" postern tls policy danenp.sts.example --hookd-config "$T/dane.conf"
expect 0 "^DANE: +yes" postern tls policy danenp.sts.example --hookd-config "$T/dane.conf"
expect 0 "^ +\(TLSA not asked for tls-policy: left to Postfix's dane level\)" postern tls policy danenp.sts.example --hookd-config "$T/dane.conf"
expect 0 "^DANE: +not asked: no enforced policy" postern tls policy danenp.sts.example --map tls-policy --hookd-config "$T/dane.conf"
expect 0 "^  tls-policy +OK dane$" postern tls policy danenp.sts.example --hookd-config "$T/nodane.conf"
expect 0 "^  tls-policy-none +OK dane$" postern tls policy danenp.sts.example --hookd-config "$T/nodane.conf"
expect 0 "^  tls-policy +OK dane$" postern tls policy dane.sts.example --hookd-config "$T/dane.conf"
# Errors that say what happened.
expect 66 "no such domain: nxd.sts.example does not exist in DNS \(NXDOMAIN\)" postern tls policy nxd.sts.example $C
expect 64 "--map takes tls-policy, tls-policy-none, tls-policy-encrypt" postern tls policy enforce.sts.example --map tls-policy-bogus $C
expect 64 "is not a domain name" postern tls policy "[127.0.0.1]:25" $C
expect 66 "postern-hookd's configuration: $T/missing.conf: No such file" postern tls policy enforce.sts.example --hookd-config "$T/missing.conf"
# A server that does not answer (nothing listens on port 9).
printf 'dns_forward = 127.0.0.1@9\ndns_trust_anchor_file = %s\nmtasts_timeout = 300\n' "$T/ta.ds" >"$T/dead.conf"
expect 69 "error: DNS unavailable: TXT _mta-sts.fresh.example: (timeout|SERVFAIL)" postern tls policy fresh.example --hookd-config "$T/dead.conf"
expect 69 "^  tls-policy-encrypt +TEMP$" postern tls policy fresh.example --map tls-policy-encrypt --hookd-config "$T/dead.conf"
expect 69 '"dns_unavailable": "TXT _mta-sts.fresh.example: ' postern --json tls policy fresh.example --map tls-policy --hookd-config "$T/dead.conf"
printf 'dns_forward = %s\ndns_trust_anchor_file = %s\n' "$STS_DNS_ADDR" "$T/no-such.key" >"$T/noanchor.conf"
expect 69 "DNS unavailable: the trust anchor $T/no-such.key \(dns_trust_anchor_file\) cannot be read" postern \
	tls policy enforce.sts.example --hookd-config "$T/noanchor.conf"

check_end "tls policy checks"
