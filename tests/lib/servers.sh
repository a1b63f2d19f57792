# shellcheck shell=sh disable=SC2034,SC2154 # variables shared with the scripts that source it
# Shared by the shell scripts that start servers on loopback for a test or
# a benchmark (tests/sts/dns-zones.sh, tests/sts/https-server.sh,
# tests/tlscheck/servers.sh, bench/survey_bench.sh, bench/sts_bench.sh):
# a private work directory removed on exit with every server started,
# a free port, a bounded wait until a server is ready, and nsd
# (configuration, start, wait) for a set of zone files.  POSIX sh; source
# it after `set -eu`:
#   . "$(dirname "$0")/../lib/servers.sh"
# It defines srv_* and nsd_* names (and free_port) only.

# srv_begin NAME DIRPREFIX: $srv_dir, a fresh directory under $TMPDIR
# (default /tmp); on exit every process given to srv_track is stopped
# (SIGTERM, then waited for) and the directory removed, keeping the exit
# status.  NAME starts this file's messages.
srv_begin() {
	srv_name=$1
	srv_pids=""
	srv_dir=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
	trap srv_cleanup EXIT
	trap 'exit 1' INT TERM
}
# shellcheck disable=SC2317 # run by the trap
srv_cleanup() {
	srv_rc=$?
	for srv_p in $srv_pids; do
		kill "$srv_p" 2>/dev/null || true
		wait "$srv_p" 2>/dev/null || true
	done
	rm -rf "$srv_dir"
	exit $srv_rc
}
# srv_track PID: stop PID on exit.
srv_track() {
	srv_pids="$srv_pids $1"
}

# free_port BASE SPAN: a port from BASE + this shell's pid modulo SPAN (so
# parallel runs differ), moved up past any TCP or UDP socket bound to it.
free_port() {
	srv_port=$(($1 + $$ % $2))
	while ss -Haltun "( sport = :$srv_port )" 2>/dev/null | grep -q .; do srv_port=$((srv_port + 1)); done
	echo "$srv_port"
}

# srv_wait WHAT LOGS CONDITION [PID...]: poll the shell command CONDITION
# every 0.1 s until it succeeds; if it has not after 10 s, or one of the
# PIDs has exited, say "WHAT did not start", show the files LOGS (a list
# separated by spaces) and exit 1.
srv_wait() {
	srv_what=$1 srv_logs=$2 srv_cond=$3
	shift 3
	srv_i=0
	until eval "$srv_cond"; do
		srv_i=$((srv_i + 1))
		srv_dead=0
		for srv_p in "$@"; do kill -0 "$srv_p" 2>/dev/null || srv_dead=1; done
		if [ $srv_i -gt 100 ] || [ $srv_dead -eq 1 ]; then
			echo "$srv_name: $srv_what did not start:" >&2
			for srv_f in $srv_logs; do cat "$srv_f" >&2 2>/dev/null || true; done
			exit 1
		fi
		sleep 0.1
	done
}

# srv_udp_listening ADDR PORT / srv_tcp_listening ADDR PORT: a socket is
# bound to exactly that address and port.
srv_udp_listening() {
	ss -Hlun "( sport = :$2 )" 2>/dev/null | grep -q "$1:$2 "
}
srv_tcp_listening() {
	ss -Hltn "( sport = :$2 )" 2>/dev/null | grep -q "$1:$2 "
}

# nsd_start DIR ADDR PORT ZONE=FILE...: nsd, authoritative for each ZONE
# from DIR/FILE, on ADDR@PORT (UDP and TCP) in the foreground with its
# configuration, pid file, log (DIR/nsd.log) and state in DIR, no remote
# control (with nsd_control=yes: nsd-control -c DIR/nsd.conf over the
# unix socket DIR/nsd.ctl, no keys, e.g. to count the queries received);
# returns once it answers on UDP (it is stopped on exit, see srv_begin).
# $nsd_pid is its pid.  $nsd_verbosity (default 1) is its
# verbosity, $nsd_options more lines of its server: clause (e.g.
# "rrl-ratelimit: 0": no response rate limiting, for a survey's many
# queries).
nsd_start() {
	nsd_dir=$1 nsd_addr=$2 nsd_port=$3
	shift 3
	{
		cat <<CONF
server:
	ip-address: $nsd_addr@$nsd_port
	port: $nsd_port
	username: ""
	chroot: ""
	zonesdir: "$nsd_dir"
	database: ""
	zonelistfile: "$nsd_dir/zone.list"
	xfrdfile: "$nsd_dir/xfrd.state"
	pidfile: "$nsd_dir/nsd.pid"
	logfile: "$nsd_dir/nsd.log"
	server-count: 1
	verbosity: ${nsd_verbosity:-1}
CONF
		[ -z "${nsd_options:-}" ] || printf '\t%s\n' "$nsd_options"
		if [ "${nsd_control:-no}" = yes ]; then
			printf 'remote-control:\n\tcontrol-enable: yes\n\tcontrol-interface: %s\n' "$nsd_dir/nsd.ctl"
		else
			printf 'remote-control:\n\tcontrol-enable: no\n'
		fi
		for nsd_z in "$@"; do
			printf 'zone:\n\tname: %s\n\tzonefile: %s\n' "${nsd_z%%=*}" "${nsd_z#*=}"
		done
	} >"$nsd_dir/nsd.conf"
	nsd -d -c "$nsd_dir/nsd.conf" &
	nsd_pid=$!
	srv_track $nsd_pid
	srv_wait nsd "$nsd_dir/nsd.log" "srv_udp_listening $nsd_addr $nsd_port" $nsd_pid
}

# nsd_sign DIR ZONE IN OUT: sign DIR/IN (ldns-signzone, one ECDSA P-256
# key, NSEC3) into DIR/OUT, and write the zone's DS record, the trust
# anchor, to DIR/ta.ds.
nsd_sign() {
	(
		cd "$1" || exit 1
		nsd_key=$(ldns-keygen -a ECDSAP256SHA256 -k "$2")
		ldns-signzone -n -f "$4" "$3" "$nsd_key" >/dev/null
		grep -v '^;' "$nsd_key.ds" | head -n 1 >ta.ds
	)
}
