#!/usr/bin/env bash
# Boots Debian's stock kernel under qemu (TCG, no KVM needed) and runs one
# test script inside it, so smbkitd can be tested against the kernel's own
# SMB client (cifs.ko).
#
#   tests/kernel/run.sh [GUEST_SCRIPT [ARGS...]]
#         default GUEST_SCRIPT: tests/kernel/cifs_workload.sh
#
# The guest is a busybox initramfs that loads the needed modules, mounts the
# host's root file system read-only over 9p and chroots into it (with tmpfs
# on /tmp, /run, /var/tmp), so every host binary -- smbkitd, mount.cifs,
# sha256sum, ss -- runs unchanged in the guest.  Besides that:
#   /tmp/out     a writable 9p export: logs the guest leaves for the host
#   /tmp/disk    an ext4 file system on a scratch virtio disk (real xattrs,
#                hard links, no 9p quirks): put smbkitd's shares there
# The guest script runs as root with $BUILD_DIR, $SMBKIT_ROOT, $KERNEL_OUT
# (= /tmp/out) and $KERNEL_DISK (= /tmp/disk) set; its exit status becomes
# this script's.
#
# Environment (all optional):
#   BUILD_DIR            build tree with smbkitd (default: <repo>/build)
#   KERNEL_CACHE         unpacked kernel cache (default: $BUILD_DIR/kernel-cache)
#   KERNEL_TIMEOUT       seconds before the guest is killed (default 480)
#   KERNEL_SMP, KERNEL_MEM  guest CPUs (default 2) and MiB of memory (1536)
#   KERNEL_EXTRA_MODULES more modules to load, e.g. "ksmbd rdma_rxe"
#   KERNEL_LOG_DIR       where logs are kept (default: $BUILD_DIR/test-logs)
#   KERNEL_QUIET=1       do not echo the guest console while it runs
#   KERNEL_KEEP_TMP=1    keep the run directory (initramfs, disk image)
# Logs: $KERNEL_LOG_DIR/kernel-{console,guest,dmesg}.log plus whatever the
# guest script wrote to /tmp/out/*.log (copied as kernel-<name>).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
KERNEL_CACHE=${KERNEL_CACHE:-$BUILD_DIR/kernel-cache}
KERNEL_TIMEOUT=${KERNEL_TIMEOUT:-480}
KERNEL_SMP=${KERNEL_SMP:-2}
KERNEL_MEM=${KERNEL_MEM:-1536}
KERNEL_LOG_DIR=${KERNEL_LOG_DIR:-$BUILD_DIR/test-logs}
GUEST_SCRIPT=${1:-$ROOT/tests/kernel/cifs_workload.sh}
[[ $# -gt 0 ]] && shift
[[ $GUEST_SCRIPT == /* ]] || GUEST_SCRIPT="$PWD/$GUEST_SCRIPT"

# Modules the guest loads before anything else, in this order after their
# dependencies (resolved from the kernel's own modules.dep).  The crypto
# modules are not dependencies of cifs.ko but cifs allocates their
# algorithms at mount time (cmac(aes) for SMB3 signing, sha512 for the 3.1.1
# preauth hash, ccm/gcm for encryption) and fails without them; without
# nls_utf8 it silently falls back to Latin-1 and mangles non-ASCII names
# (the guest cannot autoload modules: the chroot's modprobe is the host's).
MODULES=(virtio_pci virtio_net virtio_blk 9pnet_virtio 9p ext4
	ctr ecb ccm gcm cmac ghash-generic sha512_generic
	cifs nls_utf8 inet_diag tcp_diag)
# shellcheck disable=SC2206
MODULES+=(${KERNEL_EXTRA_MODULES:-})

say() { echo "kernel/run.sh: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

# ---------------------------------------------------------------- tools
# package:command pairs; busybox must be the static build (it runs alone in
# the initramfs before the host root is mounted).
need_tools() {
	local missing=() pair
	for pair in qemu-system-x86:qemu-system-x86_64 busybox-static:/bin/busybox \
		cpio:cpio kmod:depmod cifs-utils:mount.cifs e2fsprogs:mkfs.ext4 \
		iproute2:ss; do
		command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
	done
	# ldd succeeds only on a dynamically linked binary.
	if [[ -x /bin/busybox ]] && ldd /bin/busybox >/dev/null 2>&1; then
		missing+=(busybox-static)
	fi
	[[ ${#missing[@]} -eq 0 ]] && return 0
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		say "installing missing packages: ${missing[*]}"
		apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
				apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } ||
			die "could not install: ${missing[*]}"
	else
		die "missing packages: ${missing[*]} (install them with apt-get)"
	fi
}
need_tools

[[ -x $BUILD_DIR/smbkitd ]] || die "$BUILD_DIR/smbkitd not built (run: meson setup $BUILD_DIR && ninja -C $BUILD_DIR)"
[[ -f $GUEST_SCRIPT ]] || die "guest script $GUEST_SCRIPT not found"
[[ $(id -u) -eq 0 ]] || say "warning: not root; qemu's 9p export may not read every host file"

# ---------------------------------------------------------------- kernel
# The cache holds one unpacked linux-image package per directory, marked
# complete by .complete once unpacked and depmod'ed; a half-done fetch is
# redone.  Only the first run needs the package registry.
fetch_kernel() {
	local pkg dl
	pkg=${KERNEL_PACKAGE:-}
	if [[ -z $pkg ]]; then
		# linux-image-amd64 is a meta package; its dependency is the image.
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
		if [[ -z $pkg ]]; then
			apt-get update -qq >/dev/null 2>&1
			pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
		fi
		[[ -n $pkg ]] || die "cannot resolve linux-image-amd64 to a kernel package (apt-get update?)"
	fi
	say "fetching $pkg into $KERNEL_CACHE"
	mkdir -p "$KERNEL_CACHE" || die "cannot create $KERNEL_CACHE"
	rm -rf "${KERNEL_CACHE:?}/${pkg:?}" "${KERNEL_CACHE:?}/.dl"
	dl="$KERNEL_CACHE/.dl"
	mkdir -p "$dl"
	(cd "$dl" && apt-get download "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	dpkg-deb -x "$dl"/"$pkg"_*.deb "$KERNEL_CACHE/$pkg" || die "dpkg-deb -x failed"
	rm -rf "$dl"
	local ver
	ver=$(basename "$(ls -d "$KERNEL_CACHE/$pkg"/lib/modules/* | head -1)")
	# Hardware no guest here has (sound, graphics, wireless, USB...): 180 of
	# the 400 MB unpacked.  Everything a test could load (net, fs, crypto,
	# virtio, infiniband for rdma_rxe) stays.
	(cd "$KERNEL_CACHE/$pkg/lib/modules/$ver/kernel" &&
		rm -rf sound drivers/gpu drivers/media drivers/net/wireless drivers/staging \
			drivers/iio drivers/hid drivers/usb drivers/bluetooth drivers/input \
			drivers/video net/bluetooth net/mac80211 net/wireless)
	# The package's postinst would run depmod; we did not install it.
	depmod -b "$KERNEL_CACHE/$pkg" "$ver" || die "depmod failed"
	touch "$KERNEL_CACHE/$pkg/.complete"
}

KDIR=
if [[ -n ${KERNEL_PACKAGE:-} ]]; then
	[[ -f $KERNEL_CACHE/$KERNEL_PACKAGE/.complete ]] || fetch_kernel
	KDIR=$KERNEL_CACHE/$KERNEL_PACKAGE
else
	for d in "$KERNEL_CACHE"/linux-image-*/; do
		[[ -f $d/.complete ]] && KDIR=${d%/}
	done
	if [[ -z $KDIR ]]; then
		fetch_kernel
		for d in "$KERNEL_CACHE"/linux-image-*/; do
			[[ -f $d/.complete ]] && KDIR=${d%/}
		done
	fi
fi
[[ -n $KDIR ]] || die "no kernel in $KERNEL_CACHE"
KVER=$(basename "$(ls -d "$KDIR"/lib/modules/* | head -1)")
VMLINUZ=$KDIR/boot/vmlinuz-$KVER
[[ -f $VMLINUZ ]] || die "$VMLINUZ missing (delete $KDIR and retry)"

# ---------------------------------------------------------------- run dir
RUN=
QEMU_PID=
TAIL_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -TERM "$QEMU_PID" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null
	fi
	[[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null && wait "$TAIL_PID" 2>/dev/null
	if [[ -n $RUN && -d $RUN ]]; then
		if [[ ${KERNEL_KEEP_TMP:-0} == 1 ]]; then
			say "kept $RUN"
		else
			rm -rf "$RUN"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

mkdir -p "$BUILD_DIR" "$KERNEL_LOG_DIR" || die "cannot create $KERNEL_LOG_DIR"
RUN=$(mktemp -d "$BUILD_DIR/kernel-run.XXXXXX") || die "mktemp failed"
INITRD_DIR=$RUN/initramfs
OUT=$RUN/out
mkdir -p "$INITRD_DIR"/{bin,dev,proc,sys,host,modules} "$OUT"
chmod 777 "$OUT"

# ---------------------------------------------------------------- initramfs
cp /bin/busybox "$INITRD_DIR/bin/busybox" || die "cannot copy busybox"
: >"$INITRD_DIR/modules.list"
# modprobe --show-depends prints "insmod PATH" lines, dependencies first.
for m in "${MODULES[@]}"; do
	deps=$(modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" 2>&1) ||
		die "module $m not found in $KVER: $deps"
	while read -r word path _; do
		[[ $word == insmod ]] || continue # "builtin X" needs nothing
		name=$(basename "$path")
		grep -qxF "$name" "$INITRD_DIR/modules.list" && continue
		cp "$path" "$INITRD_DIR/modules/$name" || die "cannot copy $path"
		echo "$name" >>"$INITRD_DIR/modules.list"
	done <<<"$deps"
done

cat >"$INITRD_DIR/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "init: kernel $(uname -r) up after $(cut -d' ' -f1 /proc/uptime)s"
while read -r m; do
	insmod "/modules/$m" || echo "init: insmod $m failed"
done </modules.list

fail() {
	echo "init: $*"
	echo "init: FAIL" >/dev/console
	reboot -f
}
p9="trans=virtio,version=9p2000.L,msize=512000"
# cache=loose: the host root does not change during a run, and without a
# page cache every exec re-reads the binary and its libraries over 9p.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /host || fail "cannot mount the host root over 9p"
H=/host
mount -t tmpfs -o mode=1777 tmpfs $H/tmp || fail "tmpfs on /tmp"
mount -t tmpfs -o mode=755 tmpfs $H/run
mount -t tmpfs -o mode=1777 tmpfs $H/var/tmp
mount -t proc proc $H/proc
mount -t sysfs sysfs $H/sys
mount -t devtmpfs devtmpfs $H/dev
mkdir -p $H/dev/pts $H/dev/shm
mount -t devpts devpts $H/dev/pts
mount -t tmpfs tmpfs $H/dev/shm
mkdir $H/tmp/out $H/tmp/disk
mount -t 9p -o "$p9,cache=none" out $H/tmp/out || fail "cannot mount the out export"
mount -t ext4 /dev/vda $H/tmp/disk || fail "cannot mount the scratch disk"
. $H/tmp/out/guest.env
# The repository may live below a directory the guest covers with tmpfs
# (/tmp, /var/tmp, /run: CI clones wherever it likes), so it has an export of
# its own, mounted at its own path.
mkdir -p "$H$SMBKIT_ROOT"
mount -t 9p -o "$p9,ro,cache=loose" repo "$H$SMBKIT_ROOT" || fail "cannot mount the repository export"
ip link set lo up
if ip link set eth0 up 2>/dev/null; then
	ip addr add 10.0.2.15/24 dev eth0
	ip route add default via 10.0.2.2
fi
hostname kguest
echo "init: ready after $(cut -d' ' -f1 /proc/uptime)s"

. $H/tmp/out/guest.env
{
	chroot $H /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/tmp TERM=dumb LANG=C.UTF-8 BUILD_DIR="$BUILD_DIR" SMBKIT_ROOT="$SMBKIT_ROOT" \
		KERNEL_OUT=/tmp/out KERNEL_DISK=/tmp/disk \
		/bin/bash -c 'cd /tmp && . /tmp/out/guest-vars && exec "$@"' guest "$GUEST_SCRIPT" $GUEST_ARGS 2>&1
	echo $? >$H/tmp/out/rc.tmp
} | tee $H/tmp/out/guest.log
dmesg >$H/tmp/out/dmesg.log
mv $H/tmp/out/rc.tmp $H/tmp/out/rc
echo "init: guest script exited $(cat $H/tmp/out/rc) at $(cut -d' ' -f1 /proc/uptime)s"
umount $H/tmp/out
sync
reboot -f
EOF
chmod 755 "$INITRD_DIR/init"
{
	printf 'BUILD_DIR=%q\nSMBKIT_ROOT=%q\nGUEST_SCRIPT=%q\nGUEST_ARGS=%q\n' \
		"$BUILD_DIR" "$ROOT" /tmp/out/guest-script "$*"
} >"$OUT/guest.env"
# The caller's SMBKIT_*, KERNEL_* and sanitizer settings (SMBKIT_LOG_LEVEL...) reach
# the guest script; the guest's own paths are not overridden.
for v in $(compgen -e); do
	[[ $v =~ ^(SMBKIT_|KERNEL_|[AUL]SAN_OPTIONS$) && $v != KERNEL_OUT && $v != KERNEL_DISK && $v != SMBKIT_ROOT ]] &&
		printf 'export %s=%q\n' "$v" "${!v}"
done >"$OUT/guest-vars"
# A copy, so scripts anywhere on the host (even its /tmp, which the guest
# hides under tmpfs) can be run.
cp "$GUEST_SCRIPT" "$OUT/guest-script" && chmod 755 "$OUT/guest-script"
(cd "$INITRD_DIR" && find . | cpio -o -H newc --quiet | gzip -1) >"$RUN/initrd.gz" ||
	die "cannot build the initramfs"

# Scratch disk for the shares: sparse, so its size costs nothing.
truncate -s 1G "$RUN/disk.img" && mkfs.ext4 -q -F "$RUN/disk.img" ||
	die "cannot create the scratch disk"

# ---------------------------------------------------------------- boot
say "booting $KVER (smp $KERNEL_SMP, ${KERNEL_MEM}M, timeout ${KERNEL_TIMEOUT}s): $(basename "$GUEST_SCRIPT") $*"
START=$(date +%s)
: >"$RUN/console.log"
# The console goes to a file (no terminal needed, CI has no stdin); tail
# shows it live.  panic=-1 + -no-reboot: a guest panic ends qemu at once.
timeout -k 10 "$KERNEL_TIMEOUT" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -m "$KERNEL_MEM" -smp "$KERNEL_SMP" \
	-display none -monitor none -no-reboot \
	-serial "file:$RUN/console.log" \
	-kernel "$VMLINUZ" -initrd "$RUN/initrd.gz" \
	-append "console=ttyS0 loglevel=1 panic=-1 oops=panic" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap" \
	-virtfs "local,path=$ROOT,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
	-drive "file=$RUN/disk.img,if=virtio,format=raw,cache=unsafe" \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
	</dev/null >"$RUN/qemu.stderr" 2>&1 &
QEMU_PID=$!
if [[ ${KERNEL_QUIET:-0} != 1 ]]; then
	tail -n +1 -f --pid="$QEMU_PID" "$RUN/console.log" &
	TAIL_PID=$!
fi
wait "$QEMU_PID"
qemu_rc=$?
QEMU_PID=
if [[ -n $TAIL_PID ]]; then
	wait "$TAIL_PID" 2>/dev/null
	TAIL_PID=
fi
ELAPSED=$(($(date +%s) - START))

# ---------------------------------------------------------------- results
cp "$RUN/console.log" "$KERNEL_LOG_DIR/kernel-console.log"
for f in "$OUT"/*.log; do
	[[ -f $f ]] || continue
	cp "$f" "$KERNEL_LOG_DIR/kernel-$(basename "$f")"
done
if [[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]]; then
	say "FAIL: guest did not finish within ${KERNEL_TIMEOUT}s (killed)"
	[[ -f $OUT/dmesg.log ]] || say "no dmesg collected; console: $KERNEL_LOG_DIR/kernel-console.log"
	exit 1
fi
if [[ $qemu_rc -ne 0 ]]; then
	say "FAIL: qemu exited with status $qemu_rc:"
	sed 's/^/  /' "$RUN/qemu.stderr" >&2
	exit 1
fi
if [[ ! -f $OUT/rc ]]; then
	say "FAIL: the guest stopped without a result (panic or init failure); last console lines:"
	tail -n 30 "$RUN/console.log" | sed 's/^/  /' >&2
	exit 1
fi
[[ ${KERNEL_QUIET:-0} == 1 && -f $OUT/guest.log ]] && cat "$OUT/guest.log"
rc=$(cat "$OUT/rc")
say "guest script exited $rc after ${ELAPSED}s; logs in $KERNEL_LOG_DIR/kernel-*.log"
[[ $rc =~ ^[0-9]+$ ]] || rc=1
exit "$rc"
