#!/bin/sh
# Make a test CA and a certificate for the mta-sts.* test names, start
# tests/sts/https-server.py on 127.0.7.2, run a command, stop the server.
#   https-server.sh COMMAND ARGS...
# Environment for COMMAND: STS_HTTPS_ADDR (127.0.7.2), STS_HTTPS_PORT,
# STS_HTTPS_CA (the test CA's certificate).  The certificate covers
# mta-sts.{good,charset,nolength,truncated,redirect,html,notype,big,notfound,badage,slow}.example,
# not mta-sts.other.example (the wrong-name case).  Optional:
# STS_HTTPS_NAMES, more names for the certificate (space-separated);
# STS_HTTPS_POLICY_DIR, the server's POLICY_DIR (https-server.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/servers.sh
. "$here/../lib/servers.sh"
# shellcheck source=tests/lib/certs.sh
. "$here/../lib/certs.sh"
srv_begin https-server sts-https
dir=$srv_dir
addr=127.0.7.2
port=$(free_port 30000 10000)

san=""
for d in good charset nolength truncated redirect html notype big notfound badage slow; do
	san="${san:+$san,}DNS:mta-sts.$d.example"
done
san="$san,DNS:mta-sts.enforce.sts.example,DNS:mta-sts.dane.sts.example"
for d in testing none rot gone flaky redir html big badage slow; do
	san="$san,DNS:mta-sts.$d.plain.example"
done
for n in ${STS_HTTPS_NAMES:-}; do
	san="$san,DNS:$n"
done
cert_ca "$dir" "Postern MTA-STS test CA"
cert_leaf "$dir" srv mta-sts.good.example "$san"
/usr/bin/python3 "$here/https-server.py" "$addr" "$port" "$dir/srv.pem" "$dir/srv.key" ${STS_HTTPS_POLICY_DIR:+"$STS_HTTPS_POLICY_DIR"} \
	2>"$dir/server.log" &
pid=$!
srv_track $pid
srv_wait "the server" "$dir/server.log" "srv_tcp_listening $addr $port" $pid
STS_HTTPS_ADDR=$addr STS_HTTPS_PORT=$port STS_HTTPS_CA="$dir/ca.pem" "$@"
