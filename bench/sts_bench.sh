#!/bin/sh
# The TLS-policy lookup benchmark of docs/performance.md (issue 7), in one
# run on this machine:
#
#   bench/sts_bench.sh [-t SECONDS] [-c "1 8 64"] [-r REPEAT] [-d DOMAINS]
#                      [-m MISSES] [-o RESULTS] [--no-pin] [--no-hookd]
#
# Installs its peer from Debian if missing (postfix-mta-sts-resolver and
# python3-uvloop, which it recommends), builds the project
# (scripts/build.sh), then runs everything else in a private network and
# mount namespace (unshare): its own loopback, and an /etc/resolv.conf
# bind-mounted to name the bench's DNS server, because the resolver asks
# the system resolver (aiodns) and fetches from port 443.  Nothing leaves
# the namespace; nothing outside it is touched.  In it:
#   nsd            127.0.0.1:53, the signed zone stsbench.example (NSEC3):
#                  DOMAINS (default 200) domains benchN with an MTA-STS
#                  TXT record and one MX host mx.benchN, 5 x MISSES
#                  (default 500) domains missN with an MX host and no
#                  policy, and MISSES domains sharedN on one MX host
#                  mx.shared with a TLSA record; the unsigned zone
#                  stsplain.example with 3 x MISSES no-policy domains;
#                  nsd-control (a unix socket) counts the queries by type
#                  (response rate limiting off: the misses are a burst from one address)
#   sts_https.py   127.0.7.2:443, an enforce policy (mx: mx.benchN) for
#                  every mta-sts.benchN, under a test CA made here
#   nullsrv -m     the do-nothing socketmap server: the ceiling
#   postern-hookd  tlspolicy_listen, the same DNS server and trust anchor,
#                  the test CA (mtasts_ca_file), tlspolicy_postfix_dane = no
#                  (tls-policy asks TLSA for every signed miss)
#   hookd-dane     the same with tlspolicy_postfix_dane = yes (the default)
#                  and a store of its own: for the misses only
#   resolver-internal, resolver-sqlite
#                  mta-sts-daemon (postfix-mta-sts-resolver) with its
#                  internal cache, and with its sqlite cache; the test CA
#                  through SSL_CERT_FILE; cache_grace 3600 s (so that
#                  every measured answer comes from its cache: with the
#                  default 60 s it re-asks DNS on the lookup path)
# Each cache is warmed (every bench domain looked up until every answer
# is the enforce policy), then bench/loadgen -P socketmap looks the bench
# domains up in the map tls-policy at each number of connections for
# SECONDS (default 5) per cell, every answer checked: "OK secure
# match=mx.benchN.stsbench.example servername=hostname" (nullsrv: its
# constant OK).  Then the cache misses: one connection, MISSES fresh
# no-policy domains once each in order (NOTFOUND expected), then the same
# domains again (now cached, if the server caches "no policy"), for
# postern-hookd in each zone (in the signed one its MX set is secure, so
# it also asks the MX hosts' TLSA for DANE), for hookd-dane in each zone
# (tls-policy: no TLSA), on tls-policy-encrypt (TLSA asked: "encrypt")
# and on tls-policy-encrypt for the sharedN domains ("dane-only": one
# TLSA query for all of them), and for resolver-internal; each miss row
# shows the queries nsd received per lookup (TXT/MX/TLSA): the round
# trips (TXT and MX leave together);
# and bench/dnsrtt, the daemon's own DNS code (libunbound, validating),
# asks nsd the TXT of MISSES other fresh names in each zone, one at a
# time: the round trip a miss is measured against.  With two or more CPUs the servers run on CPU 1 and
# the load generator on CPU 0 (taskset), unless --no-pin.  With -r
# REPEAT each cell runs REPEAT times and the table shows the run with
# the median req/s.  Prints `uptime` before and after (the machine is
# shared), the table and the miss figures; -o keeps the raw lines.
# Exit status 1 if any answer was wrong.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bench_name=sts_bench
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
ndom=200 nmiss=500 hookd=1
bench_usage="[-t SECONDS] [-c \"1 8 64\"] [-r REPEAT] [-d DOMAINS] [-m MISSES] [-o RESULTS] [--no-pin] [--no-hookd]"
while [ $# -gt 0 ]; do
	case "$1" in
	-d) ndom=$2; shift 2 ;;
	-m) nmiss=$2; shift 2 ;;
	--no-hookd) hookd=0; shift ;;
	*) bench_opt "$@"; shift "$bench_used" ;;
	esac
done
for v in "$secs" "$repeat" "$ndom" "$nmiss"; do
	case "$v" in '' | *[!0-9]* | 0*) echo "sts_bench: -t, -r, -d and -m take a positive number" >&2; exit 64 ;; esac
done
if [ -z "${STS_BENCH_INSIDE:-}" ]; then
	# ---- outside: peers, build, then into the private namespace ----------
	[ "$(id -u)" -eq 0 ] || { say "needs root (packages, a network namespace, port 53 and 443 in it)"; exit 1; }
	bench_install postfix-mta-sts-resolver python3-uvloop nsd ldnsutils
	"$top/scripts/build.sh" >/dev/null
	flags=""
	[ $pin -eq 0 ] && flags="$flags --no-pin"
	[ $hookd -eq 0 ] && flags="$flags --no-hookd"
	# shellcheck disable=SC2086
	STS_BENCH_INSIDE=1 exec unshare --net --mount -- "$0" -t "$secs" -c "$conns" -r "$repeat" -d "$ndom" -m "$nmiss" \
		${out:+-o "$out"} $flags
fi

# ---- inside the namespace ----------------------------------------------------
B="$top/build"
LOADGEN="$B/bench/loadgen" NULLSRV="$B/bench/nullsrv" DNSRTT="$B/bench/dnsrtt"
HOOKD="$B/smtp-hook/postern-hookd"
if [ $hookd -eq 1 ] && { [ ! -x "$HOOKD" ] || ! "$HOOKD" -c /dev/null -T 2>/dev/null | grep -q '^tlspolicy_listen'; }; then
	hookd=0
	say "this postern-hookd has no TLS policy service (tlspolicy_listen): benchmarking the others only"
fi
bench_pin
ZONE=stsbench.example PLAIN=stsplain.example
P_NULL=31101 P_HOOK=31102 P_RINT=31103 P_RSQL=31104 P_DANE=31105

ip link set lo up
mount --make-rprivate /
bench_begin postern-stsbench
[ -n "${STS_BENCH_KEEP:-}" ] && trap 'cp "$W"/*.log "$STS_BENCH_KEEP"/ 2>/dev/null; bench_cleanup' EXIT
umask 022
uptime_before=$(uptime)

# ---- DNS: the signed bench zone, nsd on 127.0.0.1:53 -------------------------
say "making the zones: $ndom policy domains, $((8 * nmiss)) without"
awk -v zone="$ZONE" -v ndom="$ndom" -v nmiss="$nmiss" 'BEGIN {
	printf "$ORIGIN %s.\n$TTL 3600\n@ SOA ns.%s. admin.%s. 1 3600 600 86400 3600\n@ NS ns.%s.\nns A 127.0.0.1\n", zone, zone, zone, zone
	for (i = 1; i <= ndom; i++)
		printf "bench%d MX 10 mx.bench%d\nmx.bench%d A 127.0.7.3\n_mta-sts.bench%d TXT \"v=STSv1; id=bench%d\"\nmta-sts.bench%d A 127.0.7.2\n", i, i, i, i, i, i
	for (i = 1; i <= 5 * nmiss; i++)
		printf "miss%d MX 10 mx.miss%d\nmx.miss%d A 127.0.7.3\n", i, i, i
	# no policy, all on one MX host (with TLSA): its TLSA is asked once
	printf "mx.shared A 127.0.7.3\n_25._tcp.mx.shared TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	for (i = 1; i <= nmiss; i++)
		printf "shared%d MX 10 mx.shared\n", i
}' >"$W/zone"
# the same kind of no-policy domains in an unsigned zone (most of the world)
awk -v zone="$PLAIN" -v nmiss="$nmiss" 'BEGIN {
	printf "$ORIGIN %s.\n$TTL 3600\n@ SOA ns.%s. admin.%s. 1 3600 600 86400 3600\n@ NS ns.%s.\nns A 127.0.0.1\n", zone, zone, zone, zone
	for (i = 1; i <= 3 * nmiss; i++)
		printf "miss%d MX 10 mx.miss%d\nmx.miss%d A 127.0.7.3\n", i, i, i
}' >"$W/plain.zone"
nsd_sign "$W" "$ZONE" zone zone.signed
# nsd-control (nsdq below) counts the queries by type
nsd_control=yes nsd_options="rrl-ratelimit: 0" nsd_start "$W" 127.0.0.1 53 "$ZONE=zone.signed" "$PLAIN=plain.zone"
echo "nameserver 127.0.0.1" >"$W/resolv.conf"
mount --bind "$W/resolv.conf" /etc/resolv.conf

# ---- HTTPS: the test CA and the policy server on 127.0.7.2:443 ---------------
say "making the test CA and the policy server's certificate"
san=$(awk -v zone="$ZONE" -v ndom="$ndom" 'BEGIN {
	for (i = 1; i <= ndom; i++) printf "%sDNS:mta-sts.bench%d.%s", (i > 1 ? "," : ""), i, zone
}')
cert_ca "$W" "Postern bench CA"
cert_leaf "$W" srv "mta-sts.bench1.$ZONE" "$san"
/usr/bin/python3 "$top/bench/sts_https.py" 127.0.7.2 443 "$W/srv.pem" "$W/srv.key" "$ZONE" 2>"$W/https.log" &
pids="$pids $!"

# ---- the lookups ---------------------------------------------------------------
# bench domains: the cached answers; missN: four fresh sets of nmiss
awk -v zone="$ZONE" -v ndom="$ndom" 'BEGIN {
	for (i = 1; i <= ndom; i++)
		printf "tls-policy\tbench%d.%s\tOK\tsecure match=mx.bench%d.%s servername=hostname\n", i, zone, i, zone
}' >"$W/cached"
awk -v zone="$ZONE" -v ndom="$ndom" 'BEGIN { for (i = 1; i <= ndom; i++) printf "tls-policy\tbench%d.%s\n", i, zone }' \
	>"$W/cached-any"
missset() { # zone set-number -> lookups of its fresh no-policy domains
	awk -v zone="$1" -v n="$nmiss" -v s="$2" 'BEGIN {
		for (i = (s - 1) * n + 1; i <= s * n; i++) printf "tls-policy\tmiss%d.%s\tNOTFOUND\n", i, zone
	}'
}
missset $ZONE 1 >"$W/miss-hookd"
missset $ZONE 2 >"$W/miss-resolver"
missset $ZONE 3 | awk -F '\t' '{ print "_mta-sts." $2 }' >"$W/miss-dns"
missset $PLAIN 1 >"$W/miss-hookd-plain"
missset $PLAIN 2 | awk -F '\t' '{ print "_mta-sts." $2 }' >"$W/miss-dns-plain"
# postern-hookd with tlspolicy_postfix_dane = yes: the plain map (TLSA
# left to Postfix), an enforcing map (TLSA asked), and an enforcing map on
# domains sharing one MX host that has TLSA records
missset $ZONE 4 >"$W/miss-dane"
missset $ZONE 5 | awk -F '\t' '{ print "tls-policy-encrypt\t" $2 "\tOK\tencrypt protocols=>=TLSv1.2" }' >"$W/miss-dane-enc"
missset $PLAIN 3 >"$W/miss-dane-plain"
awk -v zone="$ZONE" -v n="$nmiss" 'BEGIN {
	for (i = 1; i <= n; i++) printf "tls-policy-encrypt\tshared%d.%s\tOK\tdane-only protocols=>=TLSv1.2\n", i, zone
}' >"$W/miss-dane-shared"

# ---- the servers ---------------------------------------------------------------
say "starting the servers"
$SRV_CPU "$NULLSRV" -m 127.0.0.1:$P_NULL -T 7200 &
pids="$pids $!"
resolver() { # name port cache-yaml
	cat >"$W/$1.yml" <<EOF
host: 127.0.0.1
port: $2
reuse_port: true
cache_grace: 3600
cache:
$3
default_zone:
  strict_testing: false
  timeout: 4
EOF
	SSL_CERT_FILE="$W/ca.pem" $SRV_CPU /usr/bin/mta-sts-daemon -c "$W/$1.yml" -v warn -l "$W/$1.log" &
	pids="$pids $!"
}
resolver resolver-internal $P_RINT "  type: internal
  options:
    cache_size: 10000"
resolver resolver-sqlite $P_RSQL "  type: sqlite
  options:
    filename: \"$W/resolver-cache.db\""
if [ $hookd -eq 1 ]; then
	: >"$W/hookd.conf"
	# the store the policies are kept in (one account: populate makes the schema)
	"$B/bench/populate" -d "$W/hookd.db" -a 1 -k 1 -o "$W/hookd.keys" >/dev/null
	$SRV_CPU "$HOOKD" -f -c "$W/hookd.conf" -o database="$W/hookd.db" -o key_file="$W/master.key" -o user=root \
		-o auth_listen= -o policy_listen= -o tlspolicy_listen=inet:127.0.0.1:$P_HOOK \
		-o dns_forward=127.0.0.1@53 -o dns_trust_anchor_file="$W/ta.ds" -o mtasts_ca_file="$W/ca.pem" \
		-o mtasts_https_port=443 -o mtasts_timeout=4000 -o tlspolicy_postfix_dane=no 2>"$W/postern-hookd.log" &
	pids="$pids $!"
	# the same with tlspolicy_postfix_dane = yes (its own store), for the misses
	"$B/bench/populate" -d "$W/hookd-dane.db" -a 1 -k 1 -o "$W/hookd-dane.keys" >/dev/null
	$SRV_CPU "$HOOKD" -f -c "$W/hookd.conf" -o database="$W/hookd-dane.db" -o key_file="$W/master-dane.key" \
		-o user=root -o auth_listen= -o policy_listen= -o tlspolicy_listen=inet:127.0.0.1:$P_DANE \
		-o dns_forward=127.0.0.1@53 -o dns_trust_anchor_file="$W/ta.ds" -o mtasts_ca_file="$W/ca.pem" \
		-o mtasts_https_port=443 -o mtasts_timeout=4000 -o tlspolicy_postfix_dane=yes \
		2>"$W/postern-hookd-dane.log" &
	pids="$pids $!"
fi
bench_wait_tcp 127.0.0.1 53
bench_wait_tcp 127.0.7.2 443
bench_wait_tcp 127.0.0.1 $P_NULL
bench_wait_tcp 127.0.0.1 $P_RINT
bench_wait_tcp 127.0.0.1 $P_RSQL
[ $hookd -eq 1 ] && bench_wait_tcp 127.0.0.1 $P_HOOK && bench_wait_tcp 127.0.0.1 $P_DANE

# name port lookups-file expect-flags: the cells' servers
servers="nullsrv $P_NULL cached-any
resolver-internal $P_RINT cached
resolver-sqlite $P_RSQL cached"
[ $hookd -eq 1 ] && servers="nullsrv $P_NULL cached-any
postern-hookd $P_HOOK cached
resolver-internal $P_RINT cached
resolver-sqlite $P_RSQL cached"

# ---- warm-up: every cache holds every bench domain's policy --------------------
say "warming the caches: $ndom domains each"
echo "$servers" | while read -r name port _; do
	[ "$name" = nullsrv ] && continue
	i=0
	until $GEN_CPU "$LOADGEN" -P socketmap -s 127.0.0.1:"$port" -k "$W/cached" -q -c 8 -n "$ndom" -t 60 -u -e OK \
		>"$W/warm.out" 2>"$W/warm.err"; do
		i=$((i + 1))
		if [ $i -ge 20 ]; then
			say "$name: its cache did not fill with the bench policies:"
			cat "$W/warm.out" "$W/warm.err" >&2
			tail -n 20 "$W/$name.log" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.5
	done
	say "$name: warm after $((i + 1)) pass(es)"
done

# ---- the cells -----------------------------------------------------------------
status=0
cell() { # secs conns name port file: one bench_loadgen line
	bench_loadgen "$3" socketmap "$2" -s 127.0.0.1:"$4" -k "$W/$5" -n 20000000 -t "$1" -e OK -u
}
bench_warm
bench_series

# ---- cache misses ----------------------------------------------------------------
say "cache misses: $nmiss fresh no-policy domains, one connection, then the same again"
: >"$W/misses"
nsdq() { # the queries nsd received so far: "queries TXT MX TLSA DNSKEY"
	nsd-control -c "$W/nsd.conf" stats_noreset | awk -F= '
		$1 == "num.queries" { q = $2 } $1 == "num.type.TXT" { t = $2 } $1 == "num.type.MX" { m = $2 }
		$1 == "num.type.TLSA" { l = $2 } $1 == "num.type.DNSKEY" { k = $2 }
		END { print q + 0, t + 0, m + 0, l + 0, k + 0 }'
}
miss() { # name port file expect
	for pass in first again; do
		before=$(nsdq)
		if line=$($GEN_CPU "$LOADGEN" -P socketmap -s 127.0.0.1:"$2" -k "$W/$3" -q -c 1 -n "$nmiss" -t 120 -u \
			-e "${4:-NOTFOUND}" 2>"$W/loadgen.err"); then
			ok=ok
		else
			ok=WRONG
			echo x >>"$W/failed"
			say "$1 misses ($pass): $(cat "$W/loadgen.err")"
		fi
		# what the DNS server was asked, per lookup
		q=$(echo "$before $(nsdq)" | awk -v n="$nmiss" '{
			printf "dns_q=%.2f txt=%.2f mx=%.2f tlsa=%.2f dnskey=%.2f", ($6 - $1) / n, ($7 - $2) / n, ($8 - $3) / n,
				($9 - $4) / n, ($10 - $5) / n }')
		echo "server=$1 pass=$pass check=$ok $line $q" >>"$W/misses"
	done
}
if [ $hookd -eq 1 ]; then
	miss postern-hookd,signed $P_HOOK miss-hookd
	miss postern-hookd,unsigned $P_HOOK miss-hookd-plain
	miss hookd-dane,signed $P_DANE miss-dane
	miss hookd-dane,unsigned $P_DANE miss-dane-plain
	miss hookd-dane,signed,enc $P_DANE miss-dane-enc OK
	miss hookd-dane,shared-mx,enc $P_DANE miss-dane-shared OK
fi
miss resolver-internal,signed $P_RINT miss-resolver
if [ -x "$DNSRTT" ]; then
	for z in signed unsigned; do
		f=miss-dns w=$ZONE
		[ $z = unsigned ] && f=miss-dns-plain w=$PLAIN
		before=$(nsdq)
		line=$($GEN_CPU "$DNSRTT" -f 127.0.0.1@53 -a "$W/ta.ds" -T TXT -k "$W/$f" -w "$w") ||
			{ echo x >>"$W/failed"; line="failed"; }
		line="$line $(echo "$before $(nsdq)" | awk -v n="$nmiss" '{
			printf "dns_q=%.2f txt=%.2f mx=%.2f tlsa=%.2f", ($6 - $1) / n, ($7 - $2) / n, ($8 - $3) / n, ($9 - $4) / n }')"
		echo "server=dnsrtt-TXT,$z pass=once check=ok $line" >>"$W/misses"
	done
fi
uptime_after=$(uptime)
[ -s "$W/failed" ] && status=1
[ -n "$out" ] && cat "$W/results" "$W/misses" >"$out"

# ---- the table -------------------------------------------------------------------
echo
bench_title "Postern TLS-policy lookups"
echo "$ndom cached domains (map tls-policy), cells of ${secs} s after a warm-up; $where"
[ "$repeat" -gt 1 ] && echo "each cell: the run with the median req/s of $repeat runs"
echo "uptime before: $uptime_before"
echo "uptime after:  $uptime_after"
echo
bench_medians "server conns" <"$W/results" | bench_table "server conns" 18
echo
echo "cache misses: $nmiss fresh no-policy domains, one lookup at a time, then the same domains again"
awk '
function val(k,   i, n) {
	for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) return substr($i, n + 1) }
	return ""
}
BEGIN { printf "%-26s %-6s %9s %9s %10s %18s  %s\n", "server", "pass", "p50 us", "p99 us", "max us", "DNS q TXT/MX/TLSA", "answers" }
{
	a = val("answers"); if (a == "") a = val("status")
	d = val("txt") == "" ? "" : sprintf("%s/%s/%s", val("txt"), val("mx"), val("tlsa"))
	printf "%-26s %-6s %9s %9s %10s %18s  %s%s\n", val("server"), val("pass"), val("p50_us"), val("p99_us"), val("max_us"), d, a, val("check") == "ok" ? "" : "  WRONG"
}' "$W/misses"
exit $status
