#!/bin/sh
# Install what is missing, build, and start the admin shell.  Arguments
# go to `postern` (e.g. scripts/run.sh --db ./my.db).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" >/dev/null
exec "$top/build/cli/postern" "$@"
