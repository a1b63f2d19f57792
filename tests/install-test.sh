#!/bin/sh
# Install the build into a scratch prefix and build a small program
# against the installed header and pkg-config file, as a library user
# would: proves the install rules, the .pc file and the exported symbols.
# usage: install-test.sh BUILD_DIR CC
set -eu
build=$1
cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
lib=$(ls -d "$tmp"/prefix/lib*/ | head -1)
test -f "$tmp/prefix/include/postern/account.h"
test -f "$lib/pkgconfig/postern-account.pc"
cat >"$tmp/user.c" <<'C'
#include <stdio.h>
#include <postern/account.h>
int main(int argc, char **argv)
{
	acct_db *db = NULL;
	int r;

	(void)argc;
	r = acct_open(&db, argv[1], NULL);
	if (r == ACCT_OK)
		r = acct_account_add(db, "installed", NULL);
	printf("%d %s schema=%d\n", r, acct_errmsg(db), acct_schema_version(db));
	acct_close(db);
	return r == ACCT_OK ? 0 : 1;
}
C
# The .pc names the configured prefix; point it at the scratch one.
flags=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --define-variable=prefix="$tmp/prefix" --cflags --libs postern-account)
# shellcheck disable=SC2086
$cc -std=c17 -Wall -Werror -o "$tmp/user" "$tmp/user.c" $flags -Wl,-rpath,"$lib"
"$tmp/user" "$tmp/t.db"
# Only acct_ names are exported.
others=$(nm -D --defined-only "$lib"/libpostern-account.so | awk '{print $3}' | grep -v '^acct_' || true)
if [ -n "$others" ]; then
	echo "exported symbols without the acct_ prefix:"; echo "$others"; exit 1
fi
echo "install-test: ok"
