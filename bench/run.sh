#!/bin/sh
# The benchmarks of docs/performance.md, in one run on this machine:
#
#   bench/run.sh [-t SECONDS] [-n REQUESTS] [-c "1 8 64"] [-r REPEAT] [-o RESULTS]
#                [-k STOREDIR] [--no-big] [--no-pin]
#
# Installs its peers from Debian if missing (dovecot-core, postfwd),
# builds the project (scripts/build.sh), makes every server's data in a
# private directory, starts every server on 127.0.0.1 ports 31000-31099,
# and runs bench/loadgen against each, side by side, at 1, 8 and 64
# connections:
#   nullsrv            auth + policy  the do-nothing server: the ceiling
#   postern-hookd      auth + policy  100 accounts, 1 key each, each with a
#                                     /24 allowlist
#   dovecot            auth           passwd-file, 100 users, SHA256-CRYPT
#   dovecot            auth           the same users, SSHA256
#   postfwd            policy         100 rules "sasl_username==userN and
#                                     client_address in its /24 -> DUNNO",
#                                     then REJECT
#   hookd-1M-keys      auth + policy  100,000 accounts, 1,000,000 keys,
#                                     every 2nd with an allowlist; requests
#                                     use 100 keys spread over the store
#                                     (the same working set as above)
#   hookd-1M-spread    auth           the same store, requests spread over
#                                     all 1,000,000 keys (nearly every AUTH
#                                     a key not used in the last minute,
#                                     so also a last_used_at write)
# (the big store is skipped with --no-big; -k STOREDIR keeps it there
# and reuses it on the next run instead of filling it again)
# Every cell is bounded by SECONDS (default 5) and REQUESTS (default
# 2,000,000), after one second of warm-up per server, and checks every
# answer (auth: OK naming the expected user; policy: DUNNO).  With
# -r REPEAT, the whole series runs REPEAT times and the table shows, for
# each cell, the run with the median req/s (for a shared machine).  With two
# or more CPUs the servers run on CPU 1 and the load generator on CPU 0
# (taskset), unless --no-pin.  Prints a table (req/s, p50, p99, max, ratio
# to nullsrv at the same connections) and, with -o, keeps the raw
# loadgen lines.  Everything it started is stopped on exit; the keys and
# passwords it made live only in the private directory, which is removed.
# Exit status 1 if any cell saw an unexpected answer or an error.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bench_name=run.sh
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
reqs=2000000 keep="" big=1
bench_usage="[-t SECONDS] [-n REQUESTS] [-c \"1 8 64\"] [-r REPEAT] [-o RESULTS] [-k STOREDIR] [--no-big] [--no-pin]"
while [ $# -gt 0 ]; do
	case "$1" in
	-n) reqs=$2; shift 2 ;;
	-k) keep=$2; shift 2 ;;
	--no-big) big=0; shift ;;
	*) bench_opt "$@"; shift "$bench_used" ;;
	esac
done

# Ports (all in 31000-31099)
P_NULL_AUTH=31001 P_NULL_POL=31002
P_HOOK_AUTH=31011 P_HOOK_POL=31012
P_DV_CRYPT=31021 P_DV_SSHA=31022
P_PF_POL=31031 P_PF_CACHE=31032
P_BIG_AUTH=31041 P_BIG_POL=31042

# ---- peers, from Debian ------------------------------------------------
bench_install dovecot-core postfwd

# ---- build ---------------------------------------------------------------
"$top/scripts/build.sh" >/dev/null
B="$top/build"
LOADGEN="$B/bench/loadgen" NULLSRV="$B/bench/nullsrv" POPULATE="$B/bench/populate"
HOOKD="$B/smtp-hook/postern-hookd"
have_hookd=1
[ -x "$HOOKD" ] || { have_hookd=0; say "no postern-hookd in $B/smtp-hook: benchmarking the others only"; }

bench_pin

# ---- private directory, and cleaning up ----------------------------------
bench_begin postern-bench # Dovecot's and postfwd's unprivileged processes read their files there
bench_pidfiles="$W/dv-crypt/run/master.pid $W/dv-ssha/run/master.pid $W/postfwd.pid"

port_free() {
	if ss -Hltn "sport = :$1" | grep -q .; then say "port $1 is in use: stop what uses it"; exit 1; fi
}
for p in $P_NULL_AUTH $P_NULL_POL $P_HOOK_AUTH $P_HOOK_POL $P_DV_CRYPT $P_DV_SSHA $P_PF_POL $P_PF_CACHE \
	$P_BIG_AUTH $P_BIG_POL; do
	port_free "$p"
done

umask 077

# ---- data ----------------------------------------------------------------
# 100 users with random passwords: userN, password, client address in
# 127.0.N.0/24 (the /24 the allowlists and postfwd's rules admit).
say "making 100 users for Dovecot and postfwd"
/usr/bin/perl -e '
	use strict; use Digest::SHA qw(sha256); use MIME::Base64;
	my ($dir) = @ARGV;
	open(my $r, "<", "/dev/urandom") or die;
	sub rnd { my $n = shift; read($r, my $b, $n) == $n or die; return $b }
	my @salt = ("a".."z", "A".."Z", "0".."9", ".", "/");
	open(my $c, ">", "$dir/dv-crypt.users") or die;
	open(my $s, ">", "$dir/dv-ssha.users") or die;
	open(my $k, ">", "$dir/users.creds") or die;
	for my $i (1..100) {
		(my $pw = encode_base64(rnd(15), "")) =~ tr{+/}{-_};
		my $salt = join("", map { $salt[ord($_) % 64] } split(//, rnd(16)));
		print $c "user$i:{SHA256-CRYPT}" . crypt($pw, "\$5\$$salt\$") . "\n";
		my $ss = rnd(8);
		print $s "user$i:{SSHA256}" . encode_base64(sha256($pw . $ss) . $ss, "") . "\n";
		printf $k "user%d\t%s\tuser%d\t127.0.%d.%d\n", $i, $pw, $i, $i, 1 + $i % 200;
	}
	close($c) && close($s) && close($k) or die;
' "$W"
# postfwd's workers and Dovecot's auth process read these as unprivileged users
chgrp dovecot "$W/dv-crypt.users" "$W/dv-ssha.users"
chmod 640 "$W/dv-crypt.users" "$W/dv-ssha.users"

dovecot_conf() { # name port scheme
	mkdir -p "$W/$1/run" "$W/$1/state"
	chmod 755 "$W/$1" "$W/$1/run" "$W/$1/state"
	cat >"$W/$1/dovecot.conf" <<EOF
# Auth-only Dovecot for the benchmarks: no mail protocols, one auth
# listener on loopback, passwd-file with $3 hashes, no auth cache.
base_dir = $W/$1/run
state_dir = $W/$1/state
instance_name = postern-bench-$1
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $W/$1/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = $W/$1.users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $2
  }
}
EOF
}
dovecot_conf dv-crypt $P_DV_CRYPT SHA256-CRYPT
dovecot_conf dv-ssha $P_DV_SSHA SSHA256

i=1
while [ $i -le 100 ]; do
	echo "id=U$i; sasl_username==user$i; client_address=127.0.$i.0/24; action=DUNNO"
	i=$((i + 1))
done >"$W/postfwd.cf"
echo "id=DEFAULT; action=REJECT 5.7.1 Client address not permitted for this account" >>"$W/postfwd.cf"
chmod 644 "$W/postfwd.cf"

if [ $have_hookd -eq 1 ]; then
	say "populating the store: 100 accounts, 1 key each, all with an allowlist"
	"$POPULATE" -d "$W/small.db" -a 100 -k 1 -i 1 -o "$W/small.creds"
	if [ $big -eq 1 ]; then
		store=${keep:-$W}
		mkdir -p "$store"
		store=$(cd "$store" && pwd)
		if [ -n "$keep" ] && [ -s "$store/big.db" ] && [ -s "$store/big.creds" ]; then
			say "reusing the big store in $store"
		else
			say "populating the big store: 100,000 accounts, 1,000,000 keys, every 2nd with an allowlist"
			rm -f "$store/big.db" "$store/big.db-wal" "$store/big.db-shm" "$store/big.creds"
			if ! "$POPULATE" -d "$store/big.db" -a 100000 -k 10 -i 2 -o "$store/big.creds" 2>"$W/populate-big.log"; then
				cat "$W/populate-big.log" >&2
				rm -f "$store/big.db" "$store/big.creds"
				exit 1
			fi
			tail -n 1 "$W/populate-big.log" >&2
		fi
		# 100 keys spread evenly over the store: the working set of the small store
		awk 'NR % 10000 == 1' "$store/big.creds" >"$W/big100.creds"
	fi
	: >"$W/hookd.conf"
fi

# ---- servers -------------------------------------------------------------
say "starting the servers"
$SRV_CPU "$NULLSRV" -a 127.0.0.1:$P_NULL_AUTH -p 127.0.0.1:$P_NULL_POL -T 7200 &
pids="$pids $!"
start_hookd() { # db auth_port policy_port log
	$SRV_CPU "$HOOKD" -f -c "$W/hookd.conf" -o database="$1" -o key_file="$W/master.key" \
		-o auth_listen=inet:127.0.0.1:"$2" -o policy_listen=inet:127.0.0.1:"$3" -o user=root 2>"$4" &
	pids="$pids $!"
}
if [ $have_hookd -eq 1 ]; then
	start_hookd "$W/small.db" $P_HOOK_AUTH $P_HOOK_POL "$W/hookd-small.log"
	[ $big -eq 1 ] && start_hookd "$store/big.db" $P_BIG_AUTH $P_BIG_POL "$W/hookd-big.log"
fi
$SRV_CPU dovecot -c "$W/dv-crypt/dovecot.conf"
$SRV_CPU dovecot -c "$W/dv-ssha/dovecot.conf"
# postfwd2 changes to / when it daemonizes: absolute paths only.
$SRV_CPU postfwd2 --nodns --perfmon -f "$W/postfwd.cf" --server_socket tcp:127.0.0.1:$P_PF_POL \
	--cache_socket tcp:127.0.0.1:$P_PF_CACHE --pidfile "$W/postfwd.pid" -u nobody -g nogroup >"$W/postfwd.log" 2>&1
for p in $P_NULL_AUTH $P_NULL_POL $P_DV_CRYPT $P_DV_SSHA $P_PF_POL; do bench_wait_tcp 127.0.0.1 "$p"; done
if [ $have_hookd -eq 1 ]; then
	bench_wait_tcp 127.0.0.1 $P_HOOK_AUTH
	bench_wait_tcp 127.0.0.1 $P_HOOK_POL
	[ $big -eq 1 ] && { bench_wait_tcp 127.0.0.1 $P_BIG_AUTH; bench_wait_tcp 127.0.0.1 $P_BIG_POL; }
fi

# ---- the cells -------------------------------------------------------------
# name proto port creds expected [extra loadgen flags]
servers="nullsrv auth $P_NULL_AUTH users.creds OK
nullsrv policy $P_NULL_POL users.creds DUNNO"
[ $have_hookd -eq 1 ] && servers="$servers
postern-hookd auth $P_HOOK_AUTH small.creds OK -u
postern-hookd policy $P_HOOK_POL small.creds DUNNO"
servers="$servers
dovecot-sha256-crypt auth $P_DV_CRYPT users.creds OK -u
dovecot-ssha256 auth $P_DV_SSHA users.creds OK -u
postfwd policy $P_PF_POL users.creds DUNNO"
[ $have_hookd -eq 1 ] && [ $big -eq 1 ] && servers="$servers
hookd-1M-keys auth $P_BIG_AUTH big100.creds OK -u
hookd-1M-keys policy $P_BIG_POL big100.creds DUNNO
hookd-1M-spread auth $P_BIG_AUTH $store/big.creds OK -u"

status=0
cell() { # secs conns name proto port creds expect [flags]: one bench_loadgen line
	t=$1 c=$2 name=$3 proto=$4 port=$5 creds=$6 exp=$7
	case "$creds" in /*) ;; *) creds="$W/$creds" ;; esac
	shift 7
	bench_loadgen "$name" "$proto" "$c" -s 127.0.0.1:"$port" -k "$creds" -n "$reqs" -t "$t" -e "$exp" "$@"
}

bench_warm
case "$repeat" in '' | *[!0-9]* | 0*) say "-r: expected a count 1..99"; exit 64 ;; esac
bench_series
[ -s "$W/failed" ] 2>/dev/null && status=1
[ -n "$out" ] && cp "$W/results" "$out"

# ---- the table -------------------------------------------------------------
echo
bench_title "Postern benchmarks"
echo "cells of ${secs} s or $reqs requests, after 1 s of warm-up per server; $where"
[ "$repeat" -gt 1 ] && echo "each cell: the run with the median req/s of $repeat runs"
echo
bench_medians "server proto conns" <"$W/results" >"$W/medians"
bench_table "server proto conns" 22 <"$W/medians"
awk '
function val(k,   i, n) {
	for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) return substr($i, n + 1) }
	return ""
}
{ n++; srv[n] = val("server"); key[n] = val("proto") SUBSEP val("conns"); rps[n] = val("rps"); p99[n] = val("p99_us")
  if (srv[n] == "postern-hookd") { small[key[n]] = rps[n]; smallp99[key[n]] = p99[n] } }
END {
	hdr = 0
	for (i = 1; i <= n; i++) {
		if (srv[i] != "hookd-1M-keys" && srv[i] != "hookd-1M-spread") continue
		k = key[i]
		if (!(k in small) || small[k] == 0) continue
		if (!hdr) { printf "\nthe big store against the small one (postern-hookd, 100 accounts):\n"; hdr = 1 }
		split(k, f, SUBSEP)
		printf("%-22s %-7s %5s  req/s %6.1f%%  p99 %6.1f%%\n", srv[i], f[1], f[2], 100 * rps[i] / small[k],
			(smallp99[k] > 0) ? 100 * p99[i] / smallp99[k] : 0)
	}
}' "$W/medians"
exit $status
