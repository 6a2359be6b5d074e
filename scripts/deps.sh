#!/usr/bin/env bash
# Installs the Debian packages smbkit needs to build and test, and nothing
# else.  Idempotent: packages that are already installed are skipped, and
# `apt-get update` runs only when something is actually missing, so a second
# run costs a few dpkg queries.  Works as root (CI) or through sudo.
set -euo pipefail

# build: compiler, meson/ninja, libraries the server links.
# test:  smbclient, smbtorture (samba-testsuite), impacket, xattr tools; the
#        samba package provides the reference smbd and pulls the shared libs.
# kerberos: an MIT KDC (krb5kdc, kdb5_util, kadmin.local) and kinit for the
#        Kerberos interop test; libkrb5-dev provides GSS-API for the build.
# fuzz:  clang with its libFuzzer/sanitizer runtimes.
# kernel: qemu (TCG) to boot Debian's stock kernel, busybox/cpio/kmod for its
#        initramfs, cifs-utils for mount.cifs, e2fsprogs for the scratch disk.
# stress: gdb, to dump smbkitd's threads when a stress client finds it wedged.
# bench: iperf3 for the loopback TCP ceiling (bench/run.sh); samba,
#        smbclient, samba-testsuite and python3-impacket above cover the rest.
PACKAGES=(
	build-essential gcc meson ninja-build pkg-config
	libssl-dev libinih-dev libcmocka-dev libkrb5-dev
	samba smbclient samba-testsuite python3 python3-impacket attr
	krb5-kdc krb5-admin-server krb5-user
	clang libclang-rt-14-dev
	qemu-system-x86 busybox-static cpio kmod cifs-utils e2fsprogs iproute2
	iperf3 gdb
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: this script installs Debian packages with apt-get;" >&2
	echo "deps.sh: on another system install the equivalents of: ${PACKAGES[*]}" >&2
	exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	# "install ok installed" is the only state in which the package is usable;
	# half-configured or removed-but-config-left packages count as missing.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps.sh: all build and test dependencies are installed"
	exit 0
fi

echo "deps.sh: installing missing packages: ${missing[*]}"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps.sh: not root and sudo is not installed; run as root:" >&2
		echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
# Installing samba may try to start smbd through invoke-rc.d; in containers
# without an init system that fails harmlessly, and the tests never use it.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
echo "deps.sh: done"
