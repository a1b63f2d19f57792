#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: install what is
# missing, build the normal and the sanitizer build, run every test in
# both.  This is what README.md gives and what .ci/run calls.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" --test
"$top/scripts/build.sh"
"$top/scripts/build.sh" asan
# Symbolized reports (and LeakSanitizer suppressions by function name).
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
echo "== normal build =="
ctest --test-dir "$top/build" --output-on-failure -j "$(nproc)" || status=1
echo "== sanitizer build (ASan + UBSan) =="
ctest --test-dir "$top/build-asan" --output-on-failure -j "$(nproc)" || status=1
exit $status
