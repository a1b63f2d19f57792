#!/bin/sh
# The end-to-end test with a real Postfix (e2e.py), run by ctest.
# Needs root (Postfix, port 25 sinks, namespaces): otherwise it is
# skipped with status 77.  Everything runs inside fresh network and mount
# namespaces: loopback is the only network, nothing can leave the
# machine, and the private /etc/hosts is seen by this test alone.
# usage: run.sh BUILD_DIR SOURCE_DIR [SCRIPT]
#   SCRIPT: e2e.py (the default), or sts.py (MTA-STS and DANE, with DNS)
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: skipped: needs root (a private Postfix instance, sinks on port 25, namespaces)"
	exit 77
fi
for tool in postfix postconf postqueue unshare ip ss sqlite3 openssl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is missing: run scripts/install-deps.sh --test" >&2; exit 1; }
done
if [ -z "${POSTERN_E2E_NS:-}" ]; then
	POSTERN_E2E_NS=1 exec unshare --net --mount --propagation private "$0" "$@"
fi
ip link set lo up
export PYTHONDONTWRITEBYTECODE=1 # e2elib.py: no __pycache__ in the source tree
exec /usr/bin/python3 "$(dirname "$0")/${3:-e2e.py}" "$1" "$2"
