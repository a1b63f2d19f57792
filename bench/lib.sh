# shellcheck shell=sh disable=SC2034,SC2154 # variables shared with the scripts that source it
# Shared by the load benchmarks bench/run.sh and bench/sts_bench.sh: their
# Debian peers, CPU pinning, the private directory and the servers
# stopped on exit, the loadgen cells (warm-up, the series of runs at each
# number of connections) and the median table.  POSIX sh; source it after
# `set -eu` with $top (the source tree) and $bench_name (it starts the
# messages) set:
#   bench_name=run.sh; . "$top/bench/lib.sh"
# It also sources tests/lib/servers.sh (nsd_start, srv_tcp_listening) and
# tests/lib/certs.sh.
# shellcheck source=tests/lib/servers.sh
. "$top/tests/lib/servers.sh"
# shellcheck source=tests/lib/certs.sh
. "$top/tests/lib/certs.sh"
srv_name=$bench_name

say() { printf '%s\n' "$bench_name: $*" >&2; }

# The options both take, with their defaults: -t SECONDS ($secs, 5),
# -c "CONNECTIONS..." ($conns, "1 8 64"), -r REPEAT ($repeat, 1),
# -o RESULTS ($out, none), --no-pin ($pin 0, else 1).
secs=5 conns="1 8 64" repeat=1 out="" pin=1
# bench_opt ARGS...: take $1, one of those (and its value): $bench_used is
# how many words it used; anything else: $bench_usage, exit status 64.
bench_opt() {
	case "$1" in
	-t) secs=$2 ;;
	-c) conns=$2 ;;
	-r) repeat=$2 ;;
	-o) out=$2 ;;
	--no-pin) pin=0; bench_used=1; return 0 ;;
	*) echo "usage: $0 $bench_usage" >&2; exit 64 ;;
	esac
	bench_used=2
}

# bench_install PACKAGE...: install the Debian packages that are missing,
# without starting their services (policy-rc.d: the bench wants its own
# instances only).
bench_install() {
	need=""
	for p in "$@"; do
		case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
		*" installed") ;;
		*) need="$need $p" ;;
		esac
	done
	[ -n "$need" ] || return 0
	say "installing$need"
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $need >/dev/null
	[ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

# bench_pin: with $pin 1, two or more CPUs and taskset, SRV_CPU and
# GEN_CPU run the servers on CPU 1 and the load generator on CPU 0;
# $where says which.
bench_pin() {
	SRV_CPU="" GEN_CPU="" where="no CPU pinning"
	if [ "$pin" -eq 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
		SRV_CPU="taskset -c 1" GEN_CPU="taskset -c 0"
		where="servers on CPU 1, load generator on CPU 0 (taskset)"
	fi
}

# bench_begin PREFIX: $W, a fresh directory /tmp/PREFIX.XXXXXX (mode 755:
# the peers' unprivileged processes read their files there); on exit
# (bench_cleanup) every pid in $pids and $srv_pids, and in the files
# $bench_pidfiles (daemons that fork away), gets SIGTERM, then SIGKILL if
# still there after 5 s, and $W is removed.
bench_begin() {
	W=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$W"
	pids="" srv_pids="" bench_pidfiles=""
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
# shellcheck disable=SC2317 # run by the trap
bench_cleanup() {
	set +e
	for f in $bench_pidfiles; do
		[ -s "$f" ] && pids="$pids $(cat "$f")"
	done
	for p in $pids $srv_pids; do kill "$p" 2>/dev/null; done
	for p in $pids $srv_pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$W"
}

# bench_wait_tcp ADDR PORT: until something listens there (the listening
# sockets are polled: a probing connect would be noise), at most 30 s.
bench_wait_tcp() {
	i=0
	until srv_tcp_listening "$1" "$2"; do
		i=$((i + 1))
		[ $i -gt 300 ] && { say "nothing listens on $1:$2 after 30 s"; exit 1; }
		sleep 0.1
	done
}

# bench_loadgen NAME PROTO CONNS LOADGEN-ARGS...: one cell, loadgen -P
# PROTO -c CONNS LOADGEN-ARGS on the load generator's CPU; prints
# "server=NAME check=ok|WRONG" and loadgen's line (zeros if it gave none).
bench_loadgen() {
	bl_name=$1 bl_proto=$2 bl_conns=$3
	shift 3
	if bl_line=$($GEN_CPU "$LOADGEN" -P "$bl_proto" -c "$bl_conns" "$@" 2>"$W/loadgen.err"); then
		bl_ok=ok
	else
		bl_ok=WRONG
		say "$bl_name $bl_proto at $bl_conns connections: $(cat "$W/loadgen.err")"
	fi
	[ -n "$bl_line" ] || bl_line="proto=$bl_proto conns=$bl_conns rps=0 p50_us=0 p99_us=0 max_us=0 answers=none"
	echo "server=$bl_name check=$bl_ok $bl_line"
}

# bench_warm / bench_series: for each line of $servers (its fields
# separated by white space), `cell SECS CONNS FIELDS...`, the script's
# own cell (which prints one bench_loadgen line): bench_warm once for 1 s
# at 8 connections, results thrown away; bench_series $repeat times at
# each of $conns for $secs, appending "run=N LINE" to $W/results, a line
# to $W/failed for each cell whose check is not ok, and each line to
# standard error.
bench_warm() {
	say "warming up each server for 1 s"
	echo "$servers" | while read -r bw_fields; do
		# shellcheck disable=SC2086
		cell 1 8 $bw_fields >/dev/null
	done
}
bench_series() {
	: >"$W/results"
	rep=1
	while [ $rep -le "$repeat" ]; do
		for c in $conns; do
			say "$c connection(s), run $rep of $repeat"
			echo "$servers" | while read -r bw_fields; do
				# shellcheck disable=SC2086
				r=$(cell "$secs" "$c" $bw_fields)
				echo "run=$rep $r" >>"$W/results"
				echo "$r" | grep -q 'check=ok' || echo x >>"$W/failed"
				echo "$r" >&2
			done
		done
		rep=$((rep + 1))
	done
}

# bench_title TEXT: the table's first line: TEXT, the date, the CPUs.
bench_title() {
	echo "$1, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
}

# bench_medians KEYS <RESULTS: for each cell (the same values of the
# fields KEYS, e.g. "server proto conns"; in the order first seen), the
# line of the run with the median req/s, its check WRONG if any run's
# was not ok.
bench_medians() {
	awk -v keys="$1" '
function val(k,   i, n) {
	for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) return substr($i, n + 1) }
	return ""
}
BEGIN { nk = split(keys, K, " ") }
{
	key = val(K[1]); for (j = 2; j <= nk; j++) key = key SUBSEP val(K[j])
	if (!(key in runs)) order[++n] = key
	r = ++runs[key]
	R[key, r] = val("rps"); L[key, r] = $0
	if (val("check") != "ok") bad[key] = 1
}
END {
	for (i = 1; i <= n; i++) {
		key = order[i]; m = runs[key]
		for (a = 1; a <= m; a++) idx[a] = a
		for (a = 2; a <= m; a++)   # insertion sort of the runs by req/s
			for (b = a; b > 1 && R[key, idx[b - 1]] + 0 > R[key, idx[b]] + 0; b--) { t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t }
		line = L[key, idx[int((m + 1) / 2)]]
		if (key in bad) { sub(/ check=[^ ]*/, " check=WRONG", line); if (line !~ / check=/) line = line " check=WRONG" }
		print line
	}
}'
}

# bench_table KEYS WIDTH <MEDIANS: the table of bench_medians' lines: the
# fields KEYS (the first, the server, WIDTH wide; "proto" 7; "conns" 5),
# req/s, p50, p99, max, req/s against nullsrv's with the same other keys,
# the answers, WRONG where a check failed.
bench_table() {
	awk -v keys="$1" -v width="$2" '
function val(k,   i, n) {
	for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) return substr($i, n + 1) }
	return ""
}
function fmt(j) { return j == 1 ? "%-" width "s " : (K[j] == "proto" ? "%-7s " : "%5s ") }
BEGIN {
	nk = split(keys, K, " ")
	for (j = 1; j <= nk; j++) printf fmt(j), K[j]
	printf "%10s %9s %9s %10s %7s  %s\n", "req/s", "p50 us", "p99 us", "max us", "vs null", "answers"
}
{
	rest = ""; for (j = 2; j <= nk; j++) rest = rest SUBSEP val(K[j])
	n++; line[n] = $0; others[n] = rest
	if (val(K[1]) == "nullsrv") ceil[rest] = val("rps")
}
END {
	for (i = 1; i <= n; i++) {
		$0 = line[i]
		for (j = 1; j <= nk; j++) printf fmt(j), val(K[j])
		c = ceil[others[i]]
		ratio = (c > 0) ? sprintf("%6.1f%%", 100 * val("rps") / c) : "      -"
		printf "%10s %9s %9s %10s %7s  %s%s\n", val("rps"), val("p50_us"), val("p99_us"), val("max_us"), ratio, val("answers"),
			val("check") == "ok" ? "" : "  WRONG"
	}
}'
}
