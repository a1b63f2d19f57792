#!/bin/sh
# Configure and build one of the two builds:
#   scripts/build.sh          build/       gcc, RelWithDebInfo, hardened
#   scripts/build.sh asan     build-asan/  clang, ASan + UBSan
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
asan)
	dir="$top/build-asan"
	set -- -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DPOSTERN_SANITIZE=ON
	;;
"")
	dir="$top/build"
	set -- -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
	;;
*) echo "usage: $0 [asan]" >&2; exit 64 ;;
esac
gen=""
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
if [ ! -f "$dir/CMakeCache.txt" ]; then
	# shellcheck disable=SC2086
	cmake -S "$top" -B "$dir" $gen "$@" >/dev/null
fi
cmake --build "$dir" --parallel "$(nproc)"
