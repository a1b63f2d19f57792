# shellcheck shell=sh disable=SC2034 # variables shared with the scripts that source it
# Shared by the shell tests that check a command's status and output
# (tests/sts/cli_tls_policy.sh, tests/e2e/postfix_cli.sh): a scratch
# directory, ok/bad lines, expect, and the summary.  POSIX sh; source it
# after `set -eu`:
#   . "$(dirname "$0")/../lib/check.sh"
#   check_begin NAME
#   expect 0 "^pattern$" COMMAND ARGS...
#   check_end "WHAT checks"

# check_begin NAME: $T, a fresh directory under $TMPDIR (removed on exit);
# no failures yet.
check_begin() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
	trap 'rm -rf "$T"' EXIT
	fails=0
}
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect STATUS PATTERN COMMAND...: COMMAND exits with STATUS and a line of
# its output (standard output and error) matches the extended regular
# expression PATTERN; otherwise a failure, with the output.
expect() {
	want=$1 pat=$2
	shift 2
	set +e
	out=$("$@" 2>&1)
	st=$?
	set -e
	if [ "$st" -eq "$want" ] && printf '%s\n' "$out" | grep -qE -- "$pat"; then
		ok "$* -> $st /$pat/"
	else
		bad "$* -> $st (wanted $want and /$pat/):"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}
# check_end WHAT: exit 1 with the number of failures, or say all WHAT passed.
check_end() {
	[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
	echo "all $1 passed"
}
