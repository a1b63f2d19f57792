#!/bin/sh
# The systemd unit smtp-hook/postern-hookd.service, checked without
# systemd running (the tests run in containers where PID 1 is not
# systemd):
#  1. `systemd-analyze verify` on a private root holding the unit, the
#     built daemon at the unit's path and Debian's own units: every
#     directive must parse (verify prints a warning and still exits 0
#     for a bad value, so any output fails) and every command must be an
#     executable.
#  2. the directives the daemon depends on, against its effective
#     default configuration (`postern-hookd -T`): started in the
#     foreground (-f) as Type=simple, configuration checked first (-t),
#     reload by SIGHUP, stop by SIGTERM, and the store's directory and
#     the unix socket directory writable under ProtectSystem=strict.
#   check-unit.sh POSTERN_HOOKD UNIT_FILE
set -eu
hookd=$1 unit=$2
fail() { echo "check-unit: $*" >&2; exit 1; }
[ -x "$hookd" ] || fail "no daemon at $hookd"
[ -r "$unit" ] || fail "no unit at $unit"
name=$(basename "$unit")

# ---- 1. systemd-analyze verify ------------------------------------------
command -v systemd-analyze >/dev/null 2>&1 || { echo "check-unit: systemd-analyze missing (package systemd)" >&2; exit 77; }
R=$(mktemp -d "${TMPDIR:-/tmp}/postern-unit.XXXXXX")
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/etc/systemd/system" "$R/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/" # sysinit.target and the rest
cp "$unit" "$R/etc/systemd/system/$name"
# every absolute command of the unit, at its path inside the root
for cmd in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' "$unit" | sort -u); do
	mkdir -p "$R$(dirname "$cmd")"
	case "$cmd" in
	*/postern-hookd) cp "$hookd" "$R$cmd" ;;
	*) [ -x "$cmd" ] || fail "$name runs $cmd, which this system does not have"
		cp "$cmd" "$R$cmd" ;;
	esac
done
out=$(systemd-analyze verify --man=no --root="$R" "$name" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains: $out"

# ---- 2. the directives that matter ----------------------------------------
val() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
[ "$(val Type)" = simple ] || fail "Type=$(val Type): the daemon stays in the foreground with -f, so Type=simple"
case " $(val ExecStart) " in *" -f "*) ;; *) fail "ExecStart=$(val ExecStart): needs -f (foreground)" ;; esac
case " $(val ExecStartPre) " in *" -t "*) ;; *) fail "ExecStartPre=$(val ExecStartPre): should check the configuration (-t)" ;; esac
case "$(val ExecReload)" in *"kill -HUP \$MAINPID"*) ;; *) fail "ExecReload=$(val ExecReload): reload is SIGHUP to \$MAINPID" ;; esac
[ "$(val KillSignal)" = SIGTERM ] || fail "KillSignal=$(val KillSignal): SIGTERM drains and exits"
rw=" $(val ReadWritePaths) /run/$(val RuntimeDirectory) "
conf=$("$hookd" -T -c /dev/null) || fail "postern-hookd -T failed"
db=$(printf '%s\n' "$conf" | sed -n 's/^database = //p')
[ -n "$db" ] || fail "no default database in postern-hookd -T"
case "$(val ProtectSystem)" in
strict | full | yes)
	# SQLite writes the -wal and -shm files next to the store
	case "$rw" in *" $(dirname "$db") "*) ;; *) fail "the store's directory $(dirname "$db") is not in ReadWritePaths ($rw)" ;; esac ;;
esac
for l in auth_listen policy_listen; do
	spec=$(printf '%s\n' "$conf" | sed -n "s/^$l = //p")
	case "$spec" in unix:*)
		d=$(dirname "${spec#unix:}")
		case "$rw" in *" $d "*) ;; *) fail "$l's directory $d is not writable ($rw)" ;; esac ;;
	esac
done
# /run/postern, made by systemd, is where unix sockets (unix:/run/postern/auth) go
[ "$(val RuntimeDirectory)" = postern ] || fail "RuntimeDirectory=$(val RuntimeDirectory): the sockets' /run/postern"
echo "check-unit: $name verified by systemd-analyze and checked against postern-hookd -T"
