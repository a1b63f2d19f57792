#!/bin/sh
# Record real Postfix log lines: for the maillog parser's golden files
# (run by hand when they need renewing: maillog-postfix37.in) and for the
# end-to-end test of delivery events (test_events_e2e.py, every run).
# Needs root and Debian 12's postfix, postfix-pcre and swaks
# (scripts/install-deps.sh --test); prints the private instance's maillog
# on stdout.
#
# It starts the e2e test instance (tests/e2e/postfix-instance.sh) inside
# `unshare --net`, a stand-in for postern-hookd (record_hookd.py), and the
# e2e sinks: clear.test (no STARTTLS), tls.test (TLS 1.2, test CA),
# tls13.test (TLS 1.3 only), untrusted.test (self-signed), verified.test
# (tls.test's certificate, smtp_tls_policy_maps "verify match=tls.test").
# Then it submits one message per scenario: opportunistic to each kind of
# sink, enforced to a sink without TLS (blocked), verify to a self-signed
# one (blocked), TLS 1.3 to a TLS 1.2 sink (blocked), one message to five
# recipients with mixed outcomes (sent, sent over TLS, deferred, bounced
# by the error transport, discarded), and an unauthenticated attempt.
# RECORD_FAST=1 skips the wait for retries of the deferred recipient;
# RECORD_SINKS=DIR keeps each sink's log.jsonl there (the e2e test of
# delivery events, tests/proto/test_events_e2e.py, uses both).
# usage: record-maillog.sh > maillog
set -eu
if [ "${RECORD_IN_NS:-}" != 1 ]; then
	exec env RECORD_IN_NS=1 unshare --net "$0" "$@"
fi
ip link set lo up
top=$(cd "$(dirname "$0")/../.." && pwd)
e2e=$top/tests/e2e
dir=$(mktemp -d /tmp/postern-record.XXXXXX)
chmod 755 "$dir"
pids=""
cleanup() {
	"$e2e/postfix-instance.sh" "$dir/pf" "$dir/certs" x x stop
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
"$e2e/certs.sh" "$dir/certs"
c=$dir/certs
sink() { /usr/bin/python3 "$e2e/sink.py" --outdir "$dir/sink$1" --port "$@" & pids="$pids $!"; }
sink 20025
sink 20026 --cert "$c/trusted.pem" --key "$c/trusted.key"
sink 20027 --cert "$c/trusted.pem" --key "$c/trusted.key" --tls13-only
sink 20028 --cert "$c/selfsigned.pem" --key "$c/selfsigned.key"
sink 20030 --cert "$c/trusted.pem" --key "$c/trusted.key" --tls13-only
/usr/bin/python3 "$top/tests/proto/record_hookd.py" 20040 20041 & pids="$pids $!"
for port in 20025 20026 20027 20028 20030 20040 20041; do
	until ss -ltn | grep -q "127.0.0.1:$port "; do sleep 0.1; done
done
"$e2e/postfix-instance.sh" "$dir/pf" "$c" inet:127.0.0.1:20040 inet:127.0.0.1:20041 start
pf=$dir/pf/etc
cat >"$pf/transport" <<T
clear.test smtp:[127.0.0.1]:20025
tls.test smtp:[127.0.0.1]:20026
tls13.test smtp:[127.0.0.1]:20027
untrusted.test smtp:[127.0.0.1]:20028
verified.test smtp:[127.0.0.1]:20030
down.test smtp:[127.0.0.1]:20099
bounce.test error:5.1.1 mailbox unavailable
discard.test discard:dropped by test
T
printf '[127.0.0.1]:20030 verify match=tls.test\n' >"$pf/tls_policy"
postconf -c "$pf" -e "transport_maps = texthash:$pf/transport" \
	"smtp_tls_policy_maps = texthash:$pf/tls_policy" \
	"relay_domains = clear.test tls.test tls13.test untrusted.test verified.test down.test bounce.test discard.test"
postfix -c "$pf" reload >/dev/null 2>&1
sleep 1
send() { # user from to... (comma list)
	swaks --server 127.0.0.1:10587 --tls --auth PLAIN --auth-user "$1" --auth-password x \
		--from "$2" --to "$3" --h-Subject "record $1" >/dev/null 2>&1 || true
}
send alice alice@clear.test bob@clear.test
send alice alice@clear.test bob@tls.test
send alice alice@clear.test bob@tls13.test
send alice alice@clear.test bob@untrusted.test
send alice alice@clear.test bob@verified.test
send enforced enf@clear.test carol@clear.test
send verify ver@clear.test dave@untrusted.test
send t13 t13@clear.test erin@tls.test
send alice alice@clear.test a@clear.test,b@tls13.test,c@down.test,d@bounce.test,e@discard.test
swaks --server 127.0.0.1:12525 --tls --from anon@clear.test --to x@clear.test >/dev/null 2>&1 || true
# Wait (bounded) for every outcome: 8 account messages and 3 bounces
# removed, the mixed message's four recipients logged.
log=$dir/pf/log/maillog
n=0
until [ "$(grep -c ': removed$' "$log")" -ge 11 ] && grep -q 'to=<c@down.test>.*status=deferred' "$log" &&
	grep -q 'to=<a@clear.test>.*status=sent' "$log" && grep -q 'to=<b@tls13.test>.*status=sent' "$log" &&
	grep -q 'to=<e@discard.test>.*status=sent' "$log"; do
	n=$((n + 1))
	[ $n -le 600 ] || { echo "record-maillog: Postfix did not finish the scenarios" >&2; cat "$log" >&2; exit 1; }
	sleep 0.1
done
if [ -z "${RECORD_FAST:-}" ]; then
	# the recording also keeps two retries of the deferred recipient
	sleep 12
	postfix -c "$pf" flush >/dev/null 2>&1 || true
	sleep 3
fi
# what the sinks received, with the TLS they saw (sink.py's log.jsonl)
if [ -n "${RECORD_SINKS:-}" ]; then
	for port in 20025 20026 20027 20028 20030; do
		cp "$dir/sink$port/log.jsonl" "$RECORD_SINKS/sink$port.jsonl" 2>/dev/null || true
	done
fi
cat "$log"
