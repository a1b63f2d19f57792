#!/bin/sh
# The TLS survey benchmark of docs/performance.md (issue 8):
#
#   bench/survey_bench.sh [-n HOSTS] [-c "1 10 50 200"] [-p PROCESSES] [-f FINGER] [-o RESULTS] [-t THREADS]
#
# Builds the project if needed (scripts/build.sh), then on loopback only:
#   nsd          127.0.8.19, the zone bench.tlscheck.example: HOSTS
#                (default 1000) MX hosts hN, each the MX of two domains
#                (dN and eN: 2 x HOSTS domains), on 127.0.8.20-23
#   smtptls_srv  bench/smtptls_srv.c on 127.0.8.20-23, PROCESSES
#                (default 4) workers each: greeting, EHLO with STARTTLS,
#                a TLSv1.3 handshake (X25519, ECDSA P-256 under a test CA
#                made here, a certificate *.bench.tlscheck.example), QUIT
# and runs `postern tls survey` over all the domains at each number of
# connections (-c), a fresh process each time (so DNS included, nothing
# cached; --no-policy: the TLS probes alone, no MTA-STS/DANE lookups and
# no database), checking that every host gave trusted TLS; then the ceiling:
# `openssl speed` for X25519 and ECDSA P-256, from which the handshakes
# per second of this machine's cores if they did nothing but the
# handshake's public-key operations (client and server: 2 X25519 each,
# 1 ECDSA sign, 2 ECDSA verifies), and bench/tls_ceiling, whole
# handshakes with OpenSSL's own overhead, both ends in one process over
# memory: one core's rate times the cores, and one copy per core run side
# by side, the rate the cores give together (the headline ceiling: this
# machine's speed varies with its host's other guests, so the ceiling is
# measured in the same run as the surveys it is set against); its client
# and server CPU per handshake apart, the client's to set against the
# survey's client CPU per host; then
# `posttls-finger` (Postfix), the
# tool an administrator would otherwise use, over FINGER (default 100)
# hosts one after another; and bench/dnscpu, the CPU of one DNS query
# in smtp-hook/dns.c's two modes.  Figures on standard output and appended to
# RESULTS (default bench/results-survey.txt).
# -t THREADS: the survey's --threads (its TLS handshake workers); default its own.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
hosts=1000 levels="1 10 50 200" procs=4 finger=100 out=$here/results-survey.txt threads=""
while [ $# -gt 0 ]; do
	case $1 in
	-n) hosts=$2; shift 2 ;;
	-c) levels=$2; shift 2 ;;
	-p) procs=$2; shift 2 ;;
	-f) finger=$2; shift 2 ;;
	-o) out=$2; shift 2 ;;
	-t) threads=$2; shift 2 ;;
	*) echo "usage: survey_bench.sh [-n HOSTS] [-c \"1 10 50 200\"] [-p PROCESSES] [-f FINGER] [-o RESULTS] [-t THREADS]" >&2; exit 64 ;;
	esac
done
b=$root/build
[ -x "$b/cli/postern" ] && [ -x "$b/bench/smtptls_srv" ] && [ -x "$b/bench/tls_ceiling" ] && [ -x "$b/bench/dnscpu" ] ||
	"$root/scripts/build.sh" >/dev/null
command -v nsd >/dev/null || { echo "survey_bench: needs nsd (scripts/install-deps.sh --test)" >&2; exit 1; }

# shellcheck source=tests/lib/servers.sh
. "$root/tests/lib/servers.sh"
# shellcheck source=tests/lib/certs.sh
. "$root/tests/lib/certs.sh"
srv_begin survey_bench survey-bench
dir=$srv_dir
chmod 755 "$dir"
z=bench.tlscheck.example
port=$(free_port 45000 5000)

cert_ca "$dir" "survey bench CA"
cert_leaf "$dir" srv "*.$z" "DNS:*.$z"
cat "$dir/srv.pem" "$dir/ca.pem" >"$dir/chain.pem"
{
	printf '$ORIGIN %s.\n$TTL 3600\n@ SOA ns.%s. admin.%s. 1 3600 600 86400 300\n@ NS ns.%s.\nns A 127.0.8.19\n' "$z" "$z" "$z" "$z"
	i=0
	while [ $i -lt "$hosts" ]; do
		printf 'h%d A 127.0.8.%d\nd%d MX 10 h%d.%s.\ne%d MX 10 h%d.%s.\n' $i $((20 + i % 4)) $i $i "$z" $i $i "$z"
		i=$((i + 1))
	done
} >"$dir/zone"
awk '/ MX /{print $1 ".'"$z"'"}' "$dir/zone" >"$dir/domains.txt"
domains=$(wc -l <"$dir/domains.txt")
for a in 20 21 22 23; do
	"$b/bench/smtptls_srv" 127.0.8.$a "$port" "$dir/chain.pem" "$dir/srv.key" "$procs" 1800 &
	srv_track $!
done
nsd_verbosity=0 nsd_options="rrl-ratelimit: 0" nsd_start "$dir" 127.0.8.19 "$port" "$z=zone"
# shellcheck disable=SC2016 # expanded by srv_wait
srv_wait "the TLS servers" "" '[ "$(ss -Hltn "( sport = :$port )" | wc -l)" -ge 4 ]'

now() { date +%s.%N; }
# CPU ticks (utime + stime) of the servers, nsd and smtptls_srv with
# their workers: every live process started with a path in $dir
srv_ticks() {
	for f in /proc/[0-9]*/cmdline; do
		grep -qF "$dir/" "$f" 2>/dev/null || continue
		sed 's/^[0-9]* (.*) //' "${f%cmdline}stat" 2>/dev/null | awk '{ print $12 + $13 }'
	done | awk -v t="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.3f\n", s / t }'
}
{
	echo "== survey_bench $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(openssl version | cut -d' ' -f1-2)"
	echo "$domains domains, $hosts MX hosts (2 domains each), $procs server workers x 4 addresses"
	echo "command: postern tls survey DOMAINS --concurrency C ${threads:+--threads $threads }--json --port $port --dns 127.0.8.19@$port --trust-anchor none --ca-file ca.pem --timeout 5 --no-policy"
	printf '%-12s %10s %10s %14s %16s %16s\n' concurrency seconds domains/s handshakes/s "client CPU/host" "servers CPU/host"
} | tee -a "$out"
best=0 bestcpu=0 bestc=1
for c in $levels; do
	timer=""
	[ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $dir/cpu"
	echo 0+0 >"$dir/cpu"
	s0=$(srv_ticks)
	t0=$(now)
	$timer "$b/cli/postern" tls survey "$dir/domains.txt" --concurrency "$c" ${threads:+--threads "$threads"} --json --port "$port" --dns "127.0.8.19@$port" \
		--trust-anchor none --ca-file "$dir/ca.pem" --timeout 5 --no-policy >"$dir/survey.json"
	t1=$(now)
	s1=$(srv_ticks)
	python3 - "$dir/survey.json" "$hosts" "$domains" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hosts"] == int(sys.argv[2]) and d["trusted"] == d["hosts"] and d["domains"] == int(sys.argv[3]), d
PY
	cpu=$(tail -1 "$dir/cpu")
	awk -v c="$c" -v t0="$t0" -v t1="$t1" -v d="$domains" -v h="$hosts" -v cpu="$cpu" -v s0="$s0" -v s1="$s1" \
		'BEGIN { sv = s1 - s0; s = t1 - t0; split(cpu, u, "+"); printf "%-12s %10.2f %10.0f %14.0f %13.0f us %13.0f us\n", c, s, d / s, h / s, (u[1] + u[2]) / h * 1e6, sv / h * 1e6 }' | tee -a "$out"
	# the best rate, and the whole survey's CPU per host (client + servers) at it
	# shellcheck disable=SC2046 # three numbers, or two
	set -- $(awk -v c="$c" -v t0="$t0" -v t1="$t1" -v h="$hosts" -v b="$best" -v bc="$bestcpu" -v cpu="$cpu" -v s0="$s0" -v s1="$s1" \
		'BEGIN { split(cpu, u, "+"); r = h / (t1 - t0); if (r > b) print r, (u[1] + u[2] + s1 - s0) / h * 1e6, c; else print b, bc }')
	best=$1 bestcpu=$2
	[ $# -lt 3 ] || bestc=$c
done

# the whole `tls survey`, with the MTA-STS/DANE evaluation that follows
# the probe (its own database), at the best level
echo 0+0 >"$dir/cpu"
t0=$(now)
$timer "$b/cli/postern" --db "$dir/postern.db" tls survey "$dir/domains.txt" --concurrency "$bestc" ${threads:+--threads "$threads"} --json --port "$port" \
	--dns "127.0.8.19@$port" --trust-anchor none --ca-file "$dir/ca.pem" --timeout 5 >"$dir/survey.json"
t1=$(now)
awk -v c="$bestc" -v t0="$t0" -v t1="$t1" -v h="$hosts" -v cpu="$(tail -1 "$dir/cpu")" 'BEGIN { s = t1 - t0; split(cpu, u, "+")
	printf "with the MTA-STS/DANE evaluation (no --no-policy, --db DB), concurrency %s: %.2f s, %.0f handshakes/s, client CPU %.0f us per host\n", c, s, h / s, (u[1] + u[2]) / h * 1e6 }' | tee -a "$out"
whole=$(awk -v t0="$t0" -v t1="$t1" -v h="$hosts" 'BEGIN { printf "%.1f", h / (t1 - t0) }')

# the CPU of one DNS query of the survey (smtp-hook/dns.c): libunbound
# in its own thread (the daemon's mode) and in the survey's event base
dnscpu=$("$b/bench/dnscpu" "127.0.8.19@$port" "$z" 20000 50)
echo "$dnscpu" | awk '{ m[$1] = $5; printf "DNS, %s mode: %d queries (TXT, NXDOMAIN, 50 at a time) in %.2f s, %.1f us CPU each\n", $1, $2, $3, $5 }
	END { if (m["event"] > 0) printf "DNS: the event mode costs %.2f x the threaded mode'"'"'s CPU per query\n", m["event"] / m["threaded"] }' | tee -a "$out"
echo "DNS command: bench/dnscpu 127.0.8.19@PORT $z 20000 50" | tee -a "$out"

# the ceiling: the public-key operations of one handshake, on every core
speed=$(openssl speed -seconds 3 ecdhx25519 ecdsap256 2>/dev/null)
x=$(echo "$speed" | awk '/ecdh \(X25519\)/ { print $NF }')
sv=$(echo "$speed" | awk '/ecdsa \(nistp256\)/ { print $(NF-1), $NF }')
s=${sv% *} v=${sv#* }
awk -v x="$x" -v s="$s" -v v="$v" -v n="$(nproc)" -v best="$best" 'BEGIN {
	per = 4 / x + 1 / s + 2 / v
	printf "openssl speed: X25519 %.0f op/s, ECDSA P-256 sign %.0f/s verify %.0f/s (one core)\n", x, s, v
	printf "ceiling: %.0f handshakes/s on %d cores (4 X25519 + 1 sign + 2 verify each, %.0f us)\n", n / per, n, per * 1e6
	printf "best survey: %.0f handshakes/s = %.2f x below the ceiling\n", best, (n / per) / best
}' | tee -a "$out"

# the ceiling with OpenSSL's own overhead: whole handshakes, both ends in
# one process over memory (bench/tls_ceiling), one core's rate times the cores
full=$("$b/bench/tls_ceiling" "$dir/chain.pem" "$dir/srv.key" "$dir/ca.pem" "h0.$z" 3000)
awk -v f="$full" -v n="$(nproc)" -v best="$best" -v bc="$bestcpu" 'BEGIN {
	split(f, a, " ")
	printf "tls_ceiling: %d whole handshakes (client + server, verified) in %.2f s = %.0f/s on one core\n", a[1], a[2], a[3]
	printf "ceiling: %.0f handshakes/s on %d cores; best survey %.0f = %.2f x below it\n", a[3] * n, n, best, a[3] * n / best
	printf "tls_ceiling CPU per handshake: client %d us, server %d us (the survey client per host: in the table above)\n", a[4], a[5]
	printf "CPU per host, all processes: best survey %.0f us (client + servers) vs tls_ceiling %d us = %.2f x; on %d cores %.0f vs %.0f handshakes/s\n", bc, a[4] + a[5], bc / (a[4] + a[5]), n, n * 1e6 / bc, n * 1e6 / (a[4] + a[5])
}' | tee -a "$out"
# ... and measured on every core at once (one tls_ceiling per core, side
# by side), not multiplied: what the cores give together, as the survey
# uses them (shared caches, the host's other guests)
i=0 pids=""
while [ $i -lt "$(nproc)" ]; do
	"$b/bench/tls_ceiling" "$dir/chain.pem" "$dir/srv.key" "$dir/ca.pem" "h0.$z" 3000 >"$dir/ceil.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # the pids, one word each
wait $pids
cat "$dir"/ceil.* | awk -v n="$(nproc)" -v best="$best" -v whole="$whole" '{ r += $3 } END {
	printf "tls_ceiling on all %d cores at once: %.0f handshakes/s; best survey %.0f = %.2f x below it; with the evaluation %.0f = %.2f x\n", n, r, best, r / best, whole, r / whole }' | tee -a "$out"

# posttls-finger, one host after another
pf=$(command -v posttls-finger || echo /usr/sbin/posttls-finger)
if [ -x "$pf" ]; then
	mkdir -p "$dir/pf" && : >"$dir/pf/main.cf" # its own (empty) configuration: the defaults
	t0=$(now)
	i=0
	while [ $i -lt "$finger" ]; do
		MAIL_CONFIG=$dir/pf "$pf" -c -l secure -F "$dir/ca.pem" -L summary "[127.0.8.$((20 + i % 4))]:$port" "h$i.$z" >"$dir/pf.out" 2>&1 || true
		i=$((i + 1))
	done
	t1=$(now)
	grep -q "Verified TLS connection\|Trusted TLS connection" "$dir/pf.out" || { echo "posttls-finger did not verify:" >&2; cat "$dir/pf.out" >&2; }
	awk -v t0="$t0" -v t1="$t1" -v n="$finger" 'BEGIN { printf "posttls-finger: %d hosts one after another in %.2f s = %.0f handshakes/s\n", n, t1 - t0, n / (t1 - t0) }' | tee -a "$out"
	echo "posttls-finger command: posttls-finger -c -l secure -F ca.pem -L summary [127.0.8.X]:$port hN.$z" | tee -a "$out"
fi
