#!/bin/sh
# Source checks that the compiler does not make: no unbounded or
# unchecked C library calls, no SQL built from strings outside the store.
# Run by ctest (tests/CMakeLists.txt); prints each offending line.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
status=0
files=$(find libaccount cli smtp-hook tests bench -name '*.c' -o -name '*.h' 2>/dev/null | sort)
[ -n "$files" ] || { echo "check-source: no sources found"; exit 1; }

# shellcheck disable=SC2086
bad=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|sscanf)[[:space:]]*\(' $files |
	grep -vE '^\S+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$bad" ]; then
	echo "check-source: banned calls (use snprintf, memcpy with lengths, strict parsers):"
	echo "$bad"
	status=1
fi

# Only the store talks to SQLite (tests may, to inspect files).
# shellcheck disable=SC2086
sql=$(grep -lE '#include[[:space:]]*<sqlite3\.h>' $files | grep -vE '^(libaccount/src/store_sqlite\.c|tests/)')
if [ -n "$sql" ]; then
	echo "check-source: sqlite3.h outside the store layer:"
	echo "$sql"
	status=1
fi
[ $status -eq 0 ] && echo "check-source: $(echo "$files" | wc -l) files clean"
exit $status
