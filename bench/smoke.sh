#!/bin/sh
# Functional smoke test of the bench programs (ctest bench_smoke): not a
# benchmark, nothing is timed.  Starts nullsrv on unix sockets and on a
# kernel-chosen loopback port, runs loadgen a few hundred requests per
# protocol (auth, policy, socketmap) and checks that every answer is the
# expected one, that a wrong expectation is caught, that non-loopback
# addresses are refused before any connection, and that populate fills
# a store and writes a 0600 key file in loadgen's format.  Given the daemon, also drives
# postern-hookd on a populated store over unix sockets: every key logs
# in as its account, policy requests get DUNNO, mangled keys get FAIL.
#   smoke.sh LOADGEN NULLSRV POPULATE [POSTERN-HOOKD]
set -u
loadgen=$1 nullsrv=$2 populate=$3 hookd=${4:-}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fails=0 passes=0
check() { # description, then the command; the command must succeed
	what=$1
	shift
	if "$@" >"$dir/out" 2>&1; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what"
		sed 's/^/    /' "$dir/out"
	fi
}
refuses() { # description, expected exit status, message part, command...
	what=$1 want=$2 msg=$3
	shift 3
	"$@" >"$dir/out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$msg" "$dir/out"; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what (exit $got, wanted $want and '$msg')"
		sed 's/^/    /' "$dir/out"
	fi
}
has() { grep -q -- "$1" "$dir/out"; }

umask 077
printf 'user1\tpassword-one\tuser1\t127.0.1.5\napikey\tpstn_notakey\tacct000002\t::1\n' >"$dir/creds"

"$nullsrv" -a "unix:$dir/auth" -p "unix:$dir/policy" -m "unix:$dir/smap" -r "$dir/ready" -T 60 &
pid=$!
i=0
while [ ! -s "$dir/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "nullsrv reports its unix listeners" grep -q "^auth unix:$dir/auth\$" "$dir/ready"

check "auth over a unix socket: 300 OK" "$loadgen" -P auth -s "unix:$dir/auth" -k "$dir/creds" -c 3 -n 300 -t 10 -e OK
if ! has 'requests=300 answered=300 errors=0' || ! has 'answers=OK:300'; then
	fails=$((fails + 1))
	echo "FAIL: auth counts"
	cat "$dir/out"
fi
check "policy over a unix socket: 300 DUNNO" "$loadgen" -P policy -s "unix:$dir/policy" -k "$dir/creds" -c 3 -n 300 -t 10 -e DUNNO
has 'answers=DUNNO:300' || { fails=$((fails + 1)); echo "FAIL: policy counts"; cat "$dir/out"; }
check "unauthenticated policy requests" "$loadgen" -P policy -s "unix:$dir/policy" -c 2 -n 50 -e DUNNO
refuses "an unexpected answer kind is caught" 1 "not every answer was FAIL" \
	"$loadgen" -P auth -s "unix:$dir/auth" -k "$dir/creds" -c 1 -n 20 -e FAIL
refuses "a wrong user= is caught" 1 "wrong_user=20" \
	"$loadgen" -P auth -s "unix:$dir/auth" -k "$dir/creds" -c 1 -n 20 -e OK -u
printf 'tls-policy\tbench1.example\tOK\tsecure match=nullsrv.invalid\ntls-policy-verify\t[mx.example]:25\n' >"$dir/lookups"
check "socketmap over a unix socket: 300 OK, each its line's" \
	"$loadgen" -P socketmap -s "unix:$dir/smap" -k "$dir/lookups" -c 3 -n 300 -e OK -u
has 'answers=OK:300' && has 'wrong_answer=0' || { fails=$((fails + 1)); echo "FAIL: socketmap counts"; cat "$dir/out"; }
printf 'tls-policy\tbench1.example\tOK\tsecure match=mx.bench1.example\n' >"$dir/lookups2"
refuses "a wrong socketmap value is caught" 1 "wrong_answer=20" \
	"$loadgen" -P socketmap -s "unix:$dir/smap" -k "$dir/lookups2" -c 1 -n 20 -u
printf 'tls-policy\tbench1.example\tNOTFOUND\n' >"$dir/lookups3"
refuses "a wrong socketmap status is caught" 1 "expected 'NOTFOUND'" \
	"$loadgen" -P socketmap -s "unix:$dir/smap" -k "$dir/lookups3" -c 1 -n 5 -u -q
printf 'tls policy\tbench1.example\n' >"$dir/lookups4"
refuses "a malformed lookup file is refused" 65 "expected MAPNAME" \
	"$loadgen" -P socketmap -s "unix:$dir/smap" -k "$dir/lookups4"
kill "$pid"
wait "$pid" 2>/dev/null
pid=""

# A TCP listener on a port the kernel chooses, so parallel tests never clash.
rm -f "$dir/ready"
"$nullsrv" -a 127.0.0.1:0 -p 127.0.0.1:0 -r "$dir/ready" -T 60 &
pid=$!
i=0
while [ ! -s "$dir/ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
auth=$(awk '$1 == "auth" { print $2 }' "$dir/ready")
policy=$(awk '$1 == "policy" { print $2 }' "$dir/ready")
check "auth over loopback TCP" "$loadgen" -P auth -s "$auth" -k "$dir/creds" -c 8 -n 400 -e OK
has 'answers=OK:400' || { fails=$((fails + 1)); echo "FAIL: tcp auth counts"; cat "$dir/out"; }
check "policy over loopback TCP" "$loadgen" -P policy -s "$policy" -k "$dir/creds" -c 8 -n 400 -e DUNNO
has 'answers=DUNNO:400' || { fails=$((fails + 1)); echo "FAIL: tcp policy counts"; cat "$dir/out"; }
kill "$pid"
wait "$pid" 2>/dev/null
pid=""

refuses "loadgen refuses a private address" 64 "only loopback" "$loadgen" -P auth -s 10.1.2.3:25 -k "$dir/creds"
refuses "loadgen refuses a public IPv6 address" 64 "only loopback" "$loadgen" -P policy -s "[2001:db8::1]:25"
refuses "loadgen resolves no names" 64 "not an IP literal" "$loadgen" -P policy -s mail.example.com:25
refuses "nullsrv refuses a non-loopback listener" 64 "only loopback" "$nullsrv" -p 0.0.0.0:0
refuses "auth needs a credential file" 64 "needs -k" "$loadgen" -P auth -s 127.0.0.1:9
printf 'user1\tonly-two-fields\n' >"$dir/bad"
refuses "a malformed credential file is refused" 65 "expected AUTH_USER" "$loadgen" -P auth -s 127.0.0.1:9 -k "$dir/bad"

check "populate: 5 accounts, 2 keys each" "$populate" -d "$dir/p.db" -a 5 -k 2 -i 2 -o "$dir/keys"
[ "$(wc -l <"$dir/keys")" -eq 10 ] || { fails=$((fails + 1)); echo "FAIL: populate wrote $(wc -l <"$dir/keys") keys, not 10"; }
[ "$(stat -c %a "$dir/keys")" = 600 ] || { fails=$((fails + 1)); echo "FAIL: the key file is not 0600"; }
grep -qE '^apikey	pstn_[0-9A-Za-z]{12}_[^	]+	acct000002	127\.0\.2\.[0-9]+$' "$dir/keys" ||
	{ fails=$((fails + 1)); echo "FAIL: the key file lines"; cat "$dir/keys"; }
refuses "populate refuses an existing database" 1 "exists" "$populate" -d "$dir/p.db" -a 1 -o "$dir/keys2"
# the keys are real: the library accepts them
if command -v sqlite3 >/dev/null 2>&1; then
	n=$(sqlite3 "$dir/p.db" "SELECT count(*) FROM api_key WHERE scopes = 'mail.send'")
	a=$(sqlite3 "$dir/p.db" "SELECT count(*) FROM ip_allow")
	if [ "$n" != 10 ] || [ "$a" != 2 ]; then
		fails=$((fails + 1))
		echo "FAIL: store has $n keys, $a allowlists (want 10, 2)"
	fi
fi

if [ -n "$hookd" ]; then
	: >"$dir/hookd.conf"
	"$hookd" -f -c "$dir/hookd.conf" -o database="$dir/p.db" -o key_file="$dir/master.key" \
		-o auth_listen="unix:$dir/hauth" -o policy_listen="unix:$dir/hpolicy" -o user="$(id -un)" \
		2>"$dir/hookd.log" &
	pid=$!
	i=0
	while { [ ! -S "$dir/hauth" ] || [ ! -S "$dir/hpolicy" ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	check "postern-hookd: every key logs in as its account" \
		"$loadgen" -P auth -s "unix:$dir/hauth" -k "$dir/keys" -c 4 -n 200 -e OK -u
	has 'answers=OK:200' || { fails=$((fails + 1)); echo "FAIL: hookd auth counts"; cat "$dir/out"; }
	check "postern-hookd: policy for those accounts and addresses is DUNNO" \
		"$loadgen" -P policy -s "unix:$dir/hpolicy" -k "$dir/keys" -c 4 -n 200 -e DUNNO
	# the last character of the secret changed: a key with a wrong checksum
	awk -F '\t' 'BEGIN { OFS = "\t" } { c = substr($2, length($2)); $2 = substr($2, 1, length($2) - 1) (c == "A" ? "B" : "A"); print }' \
		"$dir/keys" >"$dir/badkeys"
	check "postern-hookd: mangled keys FAIL" "$loadgen" -P auth -s "unix:$dir/hauth" -k "$dir/badkeys" -c 2 -n 20 -e FAIL
	kill "$pid"
	wait "$pid" 2>/dev/null
	pid=""
fi

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
