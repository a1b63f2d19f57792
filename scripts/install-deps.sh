#!/bin/sh
# Install the Debian 12 packages Postern needs, and only those that are
# missing.  Idempotent and non-interactive; needs root or sudo only when
# something is missing.
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
set -eu

BUILD="cmake pkg-config gcc clang make libsqlite3-dev liboath-dev libssl-dev libedit-dev libqrencode-dev libjansson-dev"
# MTA-STS/DANE: DNSSEC-validating DNS (libunbound)
BUILD="$BUILD libunbound-dev"
# ... its event mode, for `tls survey`, in the libevent it links (libevent-dev)
BUILD="$BUILD libevent-dev"
# The log follower reads rotated logs gzip compressed (zlib); its tests run gzip
BUILD="$BUILD zlib1g-dev"
TEST="libcmocka-dev libclang-rt-14-dev llvm-14 oathtool sqlite3 gzip"
# The shell's tests
TEST="$TEST python3 oathtool util-linux"
# The daemon's end-to-end tests (a real Postfix on loopback) and valgrind
TEST="$TEST valgrind postfix postfix-pcre openssl iproute2 python3 util-linux"
# systemd-analyze, to verify the unit file (no systemd running needed)
TEST="$TEST systemd"
# The delivery events' end-to-end tests
TEST="$TEST swaks libnet-ssleay-perl libio-socket-ssl-perl"
# MTA-STS/DANE tests: an authoritative DNS server and zone signing
TEST="$TEST nsd ldnsutils openssl python3"
# The MTA-STS/DANE end-to-end tests: a validating resolver for Postfix
TEST="$TEST unbound"

want="$BUILD"
case "${1:-}" in
--test) want="$BUILD $TEST" ;;
"") ;;
*) echo "usage: $0 [--test]" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root or sudo to install:$missing" >&2
	exit 77
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix installs unconfigured: the tests run private instances only.
case " $missing " in *" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections ;;
esac
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
