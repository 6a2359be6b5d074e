#!/usr/bin/env bash
# Runs INSIDE the guest booted by tests/kernel/run.sh: starts smbkitd on the
# guest's loopback with a share on the guest's ext4 scratch disk, mounts it
# with the kernel's SMB client (cifs.ko) for each dialect, and checks a file
# system workload against both the client's view and the server's disk.
#
#   tests/kernel/run.sh tests/kernel/cifs_workload.sh [CONFIG...]
#         CONFIG: 3.0 3.0.2 3.1.1 3.1.1-sign 3.1.1-seal dirlease reconnect
#                 (default: all of them)
#
# Output: "ok - NAME" / "not ok - NAME" lines ("# SKIP" / "# TODO" marks
# skipped checks and known server failures, which do not fail the run), then
# "N passed, N failed".  Exit status 0 only if nothing failed.
#
# Environment (set by run.sh): BUILD_DIR, KERNEL_OUT (logs kept for the
# host), KERNEL_DISK (ext4 scratch).  Optional: SMBKIT_LOG_LEVEL (default
# info), KERNEL_MANY_FILES (entries in the large directory, default 2000),
# KERNEL_CREATE_FILES (files created one by one through cifs, default 100).
set -uo pipefail

: "${BUILD_DIR:?not set: run this through tests/kernel/run.sh}"
: "${KERNEL_OUT:=/tmp/out}"
: "${KERNEL_DISK:=/tmp/disk}"
LOG_LEVEL=${SMBKIT_LOG_LEVEL:-info}
NMANY=${KERNEL_MANY_FILES:-2000}
NSMALL=${KERNEL_CREATE_FILES:-100}
CONFIGS=("$@")
[[ ${#CONFIGS[@]} -gt 0 ]] || CONFIGS=(3.0 3.0.2 3.1.1 3.1.1-sign 3.1.1-seal dirlease reconnect)

# The guest has its own network stack, so a fixed port collides with nothing.
PORT=4455
SMB_USER=testuser
SMB_PASS=Smbkit-Test.1
SHARE=share
SHARE_DIR=$KERNEL_DISK/share
USERS=/tmp/smbkit-users
SERVER_LOG=/tmp/smbkitd.log # copied to $KERNEL_OUT at exit
MNT=/tmp/mnt
MNT2=/tmp/mnt2 # dirlease: second, independent mount (makes changes)
MNT3=/tmp/mnt3 # dirlease: third one, actimeo=0 (stat observer)
REF=/tmp/ref # local reference copies of what is written
# Bound on any single file system operation: a stuck cifs request must turn
# into a failed check, not a hung run.  cifs waits are killable.
OP_TIMEOUT=60

npass=0 nfail=0 nskip=0 ntodo=0
SERVER_PID=
SERVER_STOPPED=

ok() {
	echo "ok - $*"
	npass=$((npass + 1))
}
notok() {
	echo "not ok - $*"
	nfail=$((nfail + 1))
	# The last kernel messages usually say why (CIFS: VFS: ... lines).
	dmesg | grep -iE 'cifs|smb' | tail -n 5 | sed 's/^/#   dmesg: /'
}
skip() {
	echo "ok - $1 # SKIP $2"
	nskip=$((nskip + 1))
}
# A check that fails because of a known, reported server bug.
todo() {
	echo "not ok - $1 # TODO $2"
	ntodo=$((ntodo + 1))
}

# Every exec under TCG costs ~0.1 s, so checks avoid needless ones: no
# timeout(1) wrapper, no sleep(1) -- `read -t` on a never-written fifo is a
# builtin sleep.
mkfifo /tmp/.sleep-fifo && exec {SLEEP_FD}<>/tmp/.sleep-fifo
# Job control: each background job gets its own process group, so a hung
# check is killed together with whatever it started.
set -m

# run_bounded SECONDS OUTFILE COMMAND...: runs COMMAND (a program or shell
# function) with output to OUTFILE; status 124 if it ran out of time.
run_bounded() {
	local limit=$1 out=$2 pid deadline
	shift 2
	("$@") >"$out" 2>&1 </dev/null &
	pid=$!
	deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL -- -"$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		read -r -t 0.05 -u "$SLEEP_FD" _
	done
	wait "$pid"
}

# check NAME COMMAND...: runs COMMAND bounded by OP_TIMEOUT; its output is
# shown (as comments) only when it fails.
check() {
	local name=$1 rc t0=$SECONDS
	shift
	run_bounded "$OP_TIMEOUT" /tmp/.check-out "$@"
	rc=$?
	if [[ $rc -eq 0 ]]; then
		# Slow steps are worth seeing: the tier has a time budget.
		if ((SECONDS - t0 >= 3)); then ok "$name # $((SECONDS - t0))s"; else ok "$name"; fi
		return 0
	fi
	[[ $rc -eq 124 ]] && echo "timed out after ${OP_TIMEOUT}s" >>/tmp/.check-out
	notok "$name"
	sed 's/^/#   /' /tmp/.check-out
	return 1
}

# same FILE_A FILE_B: identical contents (by sha256, the way the brief asks).
same() {
	local a b
	{ read -r a _ && read -r b _; } <<<"$(sha256sum "$1" "$2")" || return 1
	[[ $a == "$b" ]] || {
		echo "sha256 differs: $1 $a, $2 $b"
		return 1
	}
}
absent() { [[ ! -e $1 ]] || { echo "$1 still exists"; return 1; }; }
size_is() {
	local s
	s=$(stat -c %s "$1") || return 1
	[[ $s == "$2" ]] || { echo "size of $1 is $s, expected $2"; return 1; }
}
# Drops the client's page cache so the next read goes to the server.
# evict FILE...: drops the client's cached pages of FILE so the next read
# goes to the server (dd's nocache = posix_fadvise(DONTNEED)).  Cheaper than
# drop_caches, which would also evict the host binaries cached over 9p.
evict() {
	local f
	for f; do dd if="$f" iflag=nocache count=0 status=none || return 1; done
}

# ---------------------------------------------------------------- server
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start_server() {
	"$BUILD_DIR/smbkitd" --share "$SHARE=$SHARE_DIR" --listen "127.0.0.1:$PORT" \
		--users "$USERS" --foreground --log-level "$LOG_LEVEL" >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		port_open && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "# smbkitd did not start listening on 127.0.0.1:$PORT; log tail:"
	tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
	return 1
}

# stop_server [SIGNAL]: stops smbkitd; true if it exited in time and (for
# TERM) with status 0.
stop_server() {
	local sig=${1:-TERM} i rc
	[[ -n $SERVER_PID ]] || return 0
	kill -"$sig" "$SERVER_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "# smbkitd ignored SIG$sig for 10s; killing it"
		kill -KILL "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
		return 1
	fi
	wait "$SERVER_PID" 2>/dev/null # no "Killed" job notice for SIGKILL
	rc=$?
	SERVER_PID=
	[[ $sig != TERM || $rc -eq 0 ]] || { echo "# smbkitd exited with status $rc"; return 1; }
}

finish() {
	# A check interrupted while smbkitd was stopped (dirlease control).
	[[ -n ${SERVER_STOPPED:-} && -n $SERVER_PID ]] && kill -CONT "$SERVER_PID" 2>/dev/null
	mountpoint -q "$MNT" && { umount "$MNT" 2>/dev/null || umount -f -l "$MNT"; }
	local m
	for m in "$MNT2" "$MNT3"; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -f -l "$m"; }
	done
	[[ -n $SERVER_PID ]] && stop_server TERM >/dev/null
	cp "$SERVER_LOG" "$KERNEL_OUT/smbkitd.log" 2>/dev/null
}
trap finish EXIT

# ---------------------------------------------------------------- mounts
# mount_share VERS [EXTRA_OPTS]
mount_share() {
	local opts="username=$SMB_USER,password=$SMB_PASS,port=$PORT,vers=$1,noperm,iocharset=utf8"
	[[ -n ${2:-} ]] && opts+=",$2"
	mkdir -p "$MNT"
	timeout -k 5 "$OP_TIMEOUT" mount -t cifs "//127.0.0.1/$SHARE" "$MNT" -o "$opts"
}
unmount_share() {
	mountpoint -q "$MNT" || return 0
	timeout -k 5 "$OP_TIMEOUT" umount "$MNT" && return 0
	echo "# umount $MNT failed or hung; forcing"
	umount -f -l "$MNT" 2>/dev/null
	return 1
}


# ---------------------------------------------------------------- workload
# workload TAG: the file system checks, in $MNT/w-TAG (server side:
# $SHARE_DIR/w-TAG), on an already mounted share.
workload() {
	local t=$1 d="$MNT/w-$1" s="$SHARE_DIR/w-$1" r="$REF/$1" i
	rm -rf "$r"
	mkdir -p "$r"

	check "$t: mkdir" mkdir "$d" || return 1
	check "$t: mkdir visible on the server" test -d "$s"

	check "$t: create empty file" bash -c ": >'$d/empty'"
	check "$t: empty file has size 0" size_is "$d/empty" 0
	check "$t: empty file on the server" size_is "$s/empty" 0

	# Sizes that straddle page, credit (64 KiB) and cifs's default rsize/
	# wsize (4 MiB) boundaries, so multi-request reads and writes happen.
	head -c $((5 * 1024 * 1024 + 4321)) /dev/urandom >"$r/big"
	head -c 65537 /dev/urandom >"$r/mid"
	printf 'x' >"$r/one"
	for f in big mid one; do
		check "$t: write $f ($(stat -c %s "$r/$f") bytes)" \
			bash -c "cp '$r/$f' '$d/$f' && sync '$d/$f'"
		check "$t: $f on the server disk matches (sha256)" same "$s/$f" "$r/$f"
	done
	evict "$d/big" "$d/mid" "$d/one"
	for f in big mid one; do
		check "$t: read back $f (sha256, cold cache)" same "$d/$f" "$r/$f"
	done

	# Overwrite in the middle of an existing file.
	head -c 100000 /dev/urandom >"$r/patch"
	cp "$r/big" "$r/big-patched"
	dd if="$r/patch" of="$r/big-patched" bs=1 seek=3000000 conv=notrunc status=none 2>/dev/null ||
		dd if="$r/patch" of="$r/big-patched" bs=100000 count=1 oflag=seek_bytes seek=3000000 conv=notrunc status=none
	check "$t: overwrite in the middle" \
		dd if="$r/patch" of="$d/big" bs=100000 count=1 oflag=seek_bytes seek=3000000 conv=notrunc,fsync status=none
	evict "$d/big"
	check "$t: overwritten file reads back" same "$d/big" "$r/big-patched"

	# rename: plain, into a subdirectory, and over an existing file.
	check "$t: rename" mv "$d/mid" "$d/mid-renamed"
	check "$t: rename: old name gone" absent "$d/mid"
	check "$t: rename: old name gone on the server" absent "$s/mid"
	check "$t: rename: contents kept" same "$d/mid-renamed" "$r/mid"
	check "$t: mkdir sub" mkdir "$d/sub"
	check "$t: rename into a subdirectory" mv "$d/mid-renamed" "$d/sub/mid"
	check "$t: renamed file in subdirectory on the server" same "$s/sub/mid" "$r/mid"
	check "$t: rename over an existing file" mv -f "$d/one" "$d/sub/mid"
	check "$t: replaced file has the new contents" same "$d/sub/mid" "$r/one"
	check "$t: renamed directory" mv "$d/sub" "$d/sub2"
	check "$t: renamed directory on the server" test -f "$s/sub2/mid"

	# unlink / rmdir
	check "$t: unlink" rm "$d/sub2/mid"
	check "$t: unlink: gone on the client" absent "$d/sub2/mid"
	check "$t: unlink: gone on the server" absent "$s/sub2/mid"
	check "$t: rmdir" rmdir "$d/sub2"
	check "$t: rmdir: gone on the server" absent "$s/sub2"

	# truncate (shrink, then grow with zeros) and append
	cp "$r/big" "$r/tr"
	truncate -s 1000 "$r/tr"
	check "$t: truncate shrink" truncate -s 1000 "$d/big"
	check "$t: truncated size" size_is "$d/big" 1000
	check "$t: truncated size on the server" size_is "$s/big" 1000
	evict "$d/big"
	check "$t: truncated contents" same "$d/big" "$r/tr"
	truncate -s 70000 "$r/tr"
	check "$t: truncate grow" truncate -s 70000 "$d/big"
	evict "$d/big"
	check "$t: grown file reads zeros past the old end" same "$d/big" "$r/tr"
	head -c 12345 /dev/urandom >"$r/tail"
	cat "$r/tail" >>"$r/tr"
	cat "$r/tail" >>"$r/tr"
	check "$t: append twice" bash -c "cat '$r/tail' >>'$d/big' && cat '$r/tail' >>'$d/big' && sync '$d/big'"
	check "$t: appended file on the server" same "$s/big" "$r/tr"
	evict "$d/big"
	check "$t: appended file reads back" same "$d/big" "$r/tr"

	# timestamps set by the client come back
	check "$t: set mtime" touch -m -d '2001-02-03 04:05:06 UTC' "$d/empty"
	check "$t: mtime reads back" bash -c \
		"[[ \$(stat -c %Y '$d/empty') == 981173106 ]] || { stat -c %y '$d/empty'; exit 1; }"
	# the server must have stored it, not just the client's inode cache
	check "$t: mtime stored on the server" bash -c \
		"[[ \$(stat -c %Y '$s/empty') == 981173106 ]] || { stat -c %y '$s/empty'; exit 1; }"

	# Names beyond ASCII (UTF-16 surrogate pair for the emoji) and a
	# 255-byte name: the client converts to UTF-16, the server back.
	local uname=$'caf\u00e9-\u65e5\u672c-\U0001F600.txt' lname
	lname=$(printf 'L%.0s' {1..255})
	check "$t: create a non-ASCII name" cp "$r/one" "$d/$uname"
	check "$t: non-ASCII name on the server disk in UTF-8" same "$s/$uname" "$r/one"
	check "$t: non-ASCII name listed back" bash -c "ls '$d' | grep -qxF '$uname'"
	check "$t: create a 255-byte name" cp "$r/one" "$d/$lname"
	check "$t: 255-byte name on the server" test -f "$s/$lname"
	check "$t: unlink non-ASCII and long names" rm "$d/$uname" "$d/$lname"

	# Hard links (SET_INFO FileLinkInformation).
	check "$t: hard link" ln "$d/empty" "$d/empty-link"
	check "$t: hard link is one inode on the server" bash -c \
		"[[ \$(stat -c %i '$s/empty') == \$(stat -c %i '$s/empty-link') ]]"
	check "$t: unlink the hard link" rm "$d/empty-link"

	# Locks: cifs sends flock(2) and fcntl byte-range locks as SMB2 LOCK
	# (EOPNOTSUPP here means the server answered STATUS_NOT_SUPPORTED).
	check "$t: flock exclusive lock and unlock" flock -x -w 10 "$d/empty" true
	# A second process must not get a conflicting byte-range lock.
	check "$t: byte-range lock excludes another process" /usr/bin/python3 -c '
import fcntl, os, sys
path = sys.argv[1]
a = os.open(path, os.O_RDWR)
fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
pid = os.fork()
if pid == 0:
    b = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(b, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        os._exit(1)
    except OSError:
        os._exit(0)
if os.waitpid(pid, 0)[1] != 0:
    sys.exit("a conflicting lock was granted")
fcntl.lockf(a, fcntl.LOCK_UN, 10, 0)
' "$d/big"

	# File system size (QUERY_INFO FileFsFullSizeInformation) is the disk's.
	check "$t: statfs reports the share's disk size" bash -c \
		"a=\$(stat -f -c '%b %S' '$d') && b=\$(stat -f -c '%b %S' '$s') &&
		 ((\${a% *} * \${a#* } == \${b% *} * \${b#* })) || { echo \"client \$a, server \$b\"; exit 1; }"

	# Files created through the client, listed and removed again.
	check "$t: mkdir small" mkdir "$d/small"
	check "$t: create $NSMALL files" bash -c "cd '$d/small' && for ((i = 0; i < $NSMALL; i++)); do : >\"f-\$i\" || exit 1; done"
	check "$t: $NSMALL files on the server" bash -c "[[ \$(ls -A '$s/small' | wc -l) == $NSMALL ]]"

	check "$t: readdir of $NSMALL entries" bash -c "[[ \$(ls -A '$d/small' | wc -l) == $NSMALL ]]"
	check "$t: remove $NSMALL files and their directory" rm -rf "$d/small"
	check "$t: removed directory gone on the server" absent "$s/small"

	# A large directory: every entry must come back exactly once, which
	# needs several QUERY_DIRECTORY rounds with correct resume handling.
	# The entries are made on the server's disk: creating thousands through
	# cifs costs minutes under TCG and tests nothing the loop above does not.
	mkdir "$s/many"
	(cd "$s/many" && for ((i = 0; i < NMANY; i++)); do : >"file-with-a-longish-name-$i"; done)
	(cd "$s/many" && ls -A) | sort >"$r/many.expected"

	check "$t: readdir of $NMANY entries" bash -c \
		"ls -A '$d/many' | sort >'$r/many.client' && cmp -s '$r/many.expected' '$r/many.client' ||
		 { echo \"listed \$(wc -l <'$r/many.client') of $NMANY, diff:\"; diff '$r/many.expected' '$r/many.client' | head -5; exit 1; }"
	check "$t: readdir with attributes (ls -l) of $NMANY entries" bash -c \
		"[[ \$(ls -lA '$d/many' | grep -c file-with) == $NMANY ]]"
	rm -rf "$s/many"

	check "$t: remove the work directory" rm -rf "$d"
	check "$t: work directory gone on the server" absent "$s"
}

# run_dialect TAG VERS [EXTRA_OPTS]: mount, workload, unmount
run_dialect() {
	local tag=$1 vers=$2 extra=${3:-}
	if ! check "$tag: mount (vers=$vers${extra:+,$extra})" mount_share "$vers" "$extra"; then
		return
	fi
	local dialect
	# /proc/fs/cifs/DebugData names the dialect actually negotiated.
	dialect=$(grep -oE 'Dialect 0x[0-9a-f]+' /proc/fs/cifs/DebugData | head -1)
	echo "# $tag: negotiated ${dialect:-unknown dialect}"
	if [[ $extra == *sign* ]]; then
		# DebugData marks signed sessions: "SessionId: 0x... signed".
		check "$tag: session is signed" grep -qE 'SessionId: 0x[0-9a-f]+ signed' /proc/fs/cifs/DebugData
	fi
	if [[ $extra == *seal* ]]; then
		# ... and encrypted tree connects: "Serial Number: 0x... Encrypted".
		check "$tag: share is encrypted" bash -c \
			"grep -A1 '$SHARE Mounts' /proc/fs/cifs/DebugData | grep -q Encrypted"
	fi
	workload "$tag"
	check "$tag: umount" unmount_share
}

# ---------------------------------------------------------------- reconnect
# What must hold when the TCP connection dies under a mounted share: no
# operation hangs beyond OP_TIMEOUT, data written before is intact, and the
# mount is usable again (cifs reconnects the session and tree by itself;
# reopening files that were open needs durable handles, a later issue).
run_reconnect() {
	local t=reconnect d="$MNT/w-reconnect" s="$SHARE_DIR/w-reconnect" r="$REF/reconnect"
	rm -rf "$r"
	mkdir -p "$r"
	check "$t: mount (vers=3.1.1)" mount_share 3.1.1 || return
	check "$t: mkdir" mkdir "$d" || return
	head -c 1000000 /dev/urandom >"$r/before"
	check "$t: write before the reset" bash -c "cp '$r/before' '$d/before' && sync '$d/before'"

	# 1. Kill the TCP connection, server keeps running.  ss -K needs
	#    inet_diag + tcp_diag (run.sh loads them).
	local killed
	killed=$(ss -K -tn "( dport = :$PORT )" 2>&1 | grep -c ESTAB)
	if [[ $killed -ge 1 ]]; then
		ok "$t: connection killed with ss -K ($killed socket(s))"
	else
		notok "$t: connection killed with ss -K (nothing matched)"
	fi
	check "$t: listing works again after the reset" ls -A "$d"
	evict "$d/before"
	check "$t: data written before the reset is intact" same "$d/before" "$r/before"
	check "$t: write after the reset" bash -c "cp '$r/before' '$d/after' && sync '$d/after'"
	check "$t: written after the reset, on the server" same "$s/after" "$r/before"

	# 2. A file held open across the reset: the client must reopen it.
	exec {fd}<"$d/before"
	ss -K -tn "( dport = :$PORT )" >/dev/null 2>&1
	evict "$d/before"
	if timeout -k 5 "$OP_TIMEOUT" sha256sum </proc/self/fd/$fd >"$r/open.sum" 2>"$r/open.err" &&
		[[ $(cut -d' ' -f1 "$r/open.sum") == $(sha256sum <"$r/before" | cut -d' ' -f1) ]]; then
		ok "$t: file open across the reset still reads"
	else
		skip "$t: file open across the reset still reads" \
			"reopening after a lost connection needs durable handles (not implemented yet): $(head -c 200 "$r/open.err")"
	fi
	exec {fd}<&-

	# 3. Server crash and restart: the same mount must come back.
	stop_server KILL >/dev/null 2>&1 # (and bash's "Killed" job notice)
	if start_server; then
		ok "$t: restart smbkitd after SIGKILL"
		check "$t: listing works after the server restart" ls -A "$d"
		evict "$d/before"
		check "$t: data intact after the server restart" same "$d/before" "$r/before"
		check "$t: write after the server restart" bash -c "cp '$r/before' '$d/after2' && sync '$d/after2'"
		check "$t: written after the restart, on the server" same "$s/after2" "$r/before"
	else
		notok "$t: restart smbkitd after SIGKILL"
	fi

	# 4. Server gone for good: operations fail within the bound instead of
	#    hanging forever, and a fresh mount works once it is back.
	check "$t: umount" unmount_share
	check "$t: mount again" mount_share 3.1.1 || return
	stop_server TERM >/dev/null
	local t0=$SECONDS
	timeout -k 5 90 ls -A "$d" >/dev/null 2>&1
	local rc=$? waited=$((SECONDS - t0))
	if [[ $rc -ne 124 && $rc -ne 137 ]]; then
		ok "$t: with the server down, ls returns in ${waited}s (status $rc)"
	else
		notok "$t: with the server down, ls hung for more than 90s"
	fi
	if start_server; then ok "$t: restart smbkitd"; else notok "$t: restart smbkitd"; fi
	check "$t: listing works once the server is back" ls -A "$d"
	check "$t: umount" unmount_share
	check "$t: remount works" mount_share 3.1.1 && {
		check "$t: data intact after everything" same "$d/before" "$r/before"
		check "$t: cleanup" rm -rf "$d"
		check "$t: final umount" unmount_share
	}
}

# ---------------------------------------------------------------- dirlease
# Directory leases (SMB 3.x, MS-SMB2 3.3.1.4 / 3.3.4.7) against cifs.ko's
# directory cache (6.1: fs/smb/client/cached_dir.c).  What cifs.ko 6.1 does,
# as observed here: it asks for an RH lease on every directory it lists (any
# directory, not only the share root; up to 16 per tree connect) and on the
# share root when it stats it; while it holds the lease it answers `ls` from
# its cached listing without a single request, and it trusts the cached
# attributes of the directory's entries even with actimeo=0
# (cifs_dentry_needs_reval).  Nothing expires that cache in 6.1 (no
# dir_cache_timeout parameter): only the server's break, an unmount or a
# reconnect end it.  So a missing break leaves the listing (and, with
# actimeo=0, the entries' stat) stale for as long as the mount lives.
#
# Three mounts, each its own client (nosharesock: own TCP connection,
# session, superblock and leases):
#   $MNT   actimeo=60: the listing.  Attributes are cached for a minute, so
#          nothing here can look fresh because an attribute cache expired.
#   $MNT2  makes the changes (create, rename, overwrite, delete).
#          closetimeo=0: no deferred close.  cifs.ko otherwise keeps a
#          written file's handle open for a second after close(2); seen
#          once in CI: a break with no SMB change behind it came ~1 s after
#          the overwrite, just after the next step's prime had taken the
#          leases again, so the delete found none to break.
#   $MNT3  actimeo=0: stat.  Without attribute caching, the lease is the
#          only reason cifs trusts a cached entry, so stale stat output here
#          can only come from a missing break.  (On $MNT, actimeo=60 keeps a
#          name it has already looked up "present" for 60 s after another
#          client deletes it -- cifs behaviour independent of the lease,
#          verified: the listing is fresh at the same time -- so $MNT only
#          stats names that are new to it.)
# Local changes are made by this script on the server's disk (smbkitd runs
# in this guest), which smbkitd learns of through fanotify.  Each step
# checks the server's debug log for a break on the directory; the listing
# after a break takes the lease again (also checked).
#
# Negative control: with smbkitd stopped (SIGSTOP) $MNT still lists the
# directory and $MNT3 still stats an entry -- from their caches, they cannot
# reach the server -- and neither sees what changed meanwhile on the disk:
# exactly the stale state a missing break would leave forever, failing the
# same comparisons the checks use.  After SIGCONT smbkitd reads the queued
# fanotify events, sends the breaks and both are fresh again.
LOG_MARK=0
log_mark() { LOG_MARK=$(stat -c %s "$SERVER_LOG"); }
# log_since PATTERN: an extended regex matched in the server log since log_mark.
log_since() { tail -c +$((LOG_MARK + 1)) "$SERVER_LOG" | grep -qE -- "$1"; }
# log_since_check PATTERN [N]: at least N (default 1) such lines since log_mark.
log_since_check() {
	local n i
	# Breaks for local changes are sent when the fanotify event arrives,
	# and the second observer's may follow the first's: allow 5 s.
	for ((i = 0; i < 10; i++)); do
		n=$(tail -c +$((LOG_MARK + 1)) "$SERVER_LOG" | grep -cE -- "$1")
		((n >= ${2:-1})) && return 0
		sleep 0.5
	done
	echo "server log since the step has $n line(s) matching, expected ${2:-1}: $1"
	tail -c +$((LOG_MARK + 1)) "$SERVER_LOG" | grep -E 'lease' | tail -n 8 | sed 's/^/  /'
	[[ -s $SERVER_LOG ]] || echo "(server log empty)"
	return 1
}
# listing DIR: the names `ls -A DIR` shows, sorted, on one line.
listing() {
	local names
	names=$(ls -A "$1") || return 1
	echo "${names//$'\n'/ }"
}
# listing_is DIR "WANT" [GRACE]: DIR lists exactly WANT -- at once, or within
# GRACE seconds (default 5) for changes the server learns of asynchronously
# (fanotify; and the break travels on the other connection).  Without a
# break the listing would stay stale until the unmount, so the grace hides
# nothing.
listing_is() {
	local dir=$1 want=$2 grace=${3:-5} got deadline
	deadline=$((SECONDS + grace))
	while :; do
		got=$(listing "$dir") || { echo "ls -A $dir failed"; return 1; }
		[[ $got == "$want" ]] && return 0
		((SECONDS >= deadline)) && break
		read -r -t 0.1 -u "$SLEEP_FD" _
	done
	echo "stale listing of $dir after ${grace}s:"
	echo "  got:  $got"
	echo "  want: $want"
	return 1
}

# within GRACE COMMAND...: COMMAND succeeds now or within GRACE seconds; its
# output is shown only from the last try.
within() {
	local grace=$1 deadline
	shift
	deadline=$((SECONDS + grace))
	until "$@" >/tmp/.within-out 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "still failing after ${grace}s:"
			cat /tmp/.within-out
			return 1
		fi
		read -r -t 0.1 -u "$SLEEP_FD" _
	done
}
# stat_size PATH SIZE / stat_gone PATH, as seen by the actimeo=0 mount.
stat_size() {
	local sz
	sz=$(stat -c %s "$1") || return 1
	[[ $sz == "$2" ]] || { echo "stat $1: size $sz, expected $2 (stale attributes)"; return 1; }
}
stat_gone() { ! stat -c %n "$1" 2>/dev/null || { echo "stat $1 still succeeds (stale dentry)"; return 1; }; }
# prime NAME...: before a change, both observers hold a lease on the
# directory (a listing takes it again after a break) and the actimeo=0 mount
# caches NAME's attributes after that, so they are trusted on the strength
# of the lease alone.  The change must then break two leases.
prime() {
	local n size i
	# Let the previous step's late events land first: fanotify also reports
	# smbkitd's own changes, asynchronously, and a break they cause after
	# the leases below were taken again would leave no lease for the next
	# step to break.  Quiet = the server log did not grow for 0.5 s.
	for ((i = 0; i < 10; i++)); do
		size=$(stat -c %s "$SERVER_LOG")
		sleep 0.5
		[[ $(stat -c %s "$SERVER_LOG") == "$size" ]] && break
	done
	ls -A "$MNT/dl" "$MNT3/dl" >/dev/null
	for n; do stat -c %n "$MNT3/dl/$n" >/dev/null; done
}

run_dirlease() {
	local t=dirlease name=dl d s e mnt_ok=0
	d="$MNT/$name" s="$SHARE_DIR/$name" e="$MNT3/$name"
	local grant="directory lease 0x[0-9a-f]+ granted on '$name'"
	local brk="directory lease break 0x[0-9a-f]+ -> 0x[0-9a-f]+ sent for '$name'"
	# The evidence is in smbkitd's debug log: restart it at debug level for
	# this config (and back afterwards).
	local saved_level=$LOG_LEVEL
	if [[ $LOG_LEVEL != debug && $LOG_LEVEL != trace ]]; then
		stop_server TERM >/dev/null
		LOG_LEVEL=debug
		start_server || { notok "$t: restart smbkitd at debug level"; LOG_LEVEL=$saved_level; start_server; return; }
	fi
	rm -rf "$s"
	mkdir "$s" && : >"$s/a" && : >"$s/b"

	if check "$t: mount (vers=3.1.1,actimeo=60)" mount_share 3.1.1 actimeo=60 &&
		check "$t: second mount, the changer (nosharesock,closetimeo=0)" mount_other "$MNT2" closetimeo=0 &&
		check "$t: third mount, stat observer (nosharesock,actimeo=0)" mount_other "$MNT3" actimeo=0; then
		mnt_ok=1
	fi
	if ((mnt_ok)); then
		# The observer's root and dl are looked up under a root lease.
		stat -c %n "$MNT3" "$e" >/dev/null
		log_mark
		check "$t: first listing" listing_is "$d" "a b" 0
		check "$t: listing again (served from the cache)" listing_is "$d" "a b" 0
		check "$t: server granted cifs.ko a directory lease (log)" log_since_check "$grant"

		# (a) changes through another SMB connection
		prime a b
		log_mark
		check "$t: create via the second mount" bash -c ": >'$MNT2/$name/c'"
		check "$t: create shows at once in the first mount's listing" listing_is "$d" "a b c"
		check "$t: server broke both observers' directory leases on the create (log)" log_since_check "$brk" 2
		check "$t: stat of the created file (actimeo=60 mount)" stat -c %n "$d/c"
		# The listing above took the lease again; every step starts with it held.
		check "$t: lease taken again after the break (log)" log_since_check "$grant"

		prime c
		log_mark
		check "$t: rename via the second mount" mv "$MNT2/$name/c" "$MNT2/$name/c2"
		check "$t: rename shows at once in the first mount's listing" listing_is "$d" "a b c2"
		check "$t: server broke both observers' directory leases on the rename (log)" log_since_check "$brk" 2
		check "$t: stat: old name gone at once (actimeo=0 mount)" within 5 stat_gone "$e/c"
		check "$t: stat of the new name (actimeo=60 mount)" stat -c %n "$d/c2"

		prime c2 b
		log_mark
		check "$t: overwrite a file via the second mount" bash -c "echo hello >'$MNT2/$name/b'"
		check "$t: server broke both observers' directory leases on the overwrite (log)" log_since_check "$brk" 2
		check "$t: stat: new size at once (actimeo=0 mount)" within 5 stat_size "$e/b" 6

		prime c2
		log_mark
		check "$t: delete via the second mount" rm "$MNT2/$name/c2"
		check "$t: delete shows at once in the first mount's listing" listing_is "$d" "a b"
		check "$t: server broke both observers' directory leases on the delete (log)" log_since_check "$brk" 2
		check "$t: stat: deleted name gone at once (actimeo=0 mount)" within 5 stat_gone "$e/c2"

		# (b) changes a local process makes on the server's disk
		prime a
		log_mark
		: >"$s/local"
		check "$t: local create on the server's disk shows in the listing" listing_is "$d" "a b local"
		check "$t: server broke both observers' directory leases on the local create (log)" log_since_check "$brk" 2
		check "$t: stat of the locally created file (actimeo=60 mount)" stat -c %n "$d/local"
		prime local
		log_mark
		mv "$s/local" "$s/local2"
		check "$t: local rename shows in the listing" listing_is "$d" "a b local2"
		check "$t: server broke both observers' directory leases on the local rename (log)" log_since_check "$brk" 2
		check "$t: stat: locally renamed-away name gone (actimeo=0 mount)" within 5 stat_gone "$e/local"
		prime local2
		log_mark
		rm "$s/local2"
		check "$t: local delete shows in the listing" listing_is "$d" "a b"
		check "$t: server broke both observers' directory leases on the local delete (log)" log_since_check "$brk" 2
		check "$t: stat: locally deleted name gone (actimeo=0 mount)" within 5 stat_gone "$e/local2"

		dirlease_negative_control "$t" "$d" "$s" "$e" "$brk"
	fi
	check "$t: umount the third mount" unmount_other "$MNT3"
	check "$t: umount the second mount" unmount_other "$MNT2"
	check "$t: umount" unmount_share
	rm -rf "$s"
	if [[ $saved_level != "$LOG_LEVEL" ]]; then
		stop_server TERM >/dev/null
		LOG_LEVEL=$saved_level
		start_server || notok "$t: restart smbkitd at level $LOG_LEVEL"
	fi
}

# dirlease_negative_control TAG DIR SERVER_DIR OBSERVER_DIR BREAK_PATTERN
dirlease_negative_control() {
	local t=$1 d=$2 s=$3 e=$4 brk=$5 rc_ls rc_stat
	: >"$s/doomed"
	check "$t: control: a new local file 'doomed' shows in the first mount" listing_is "$d" "a b doomed" || return
	check "$t: control: ... and in the actimeo=0 mount" listing_is "$e" "a b doomed" || return
	prime doomed
	check "$t: control: listing cached before the server stops" listing_is "$d" "a b doomed" 0 || return
	kill -STOP "$SERVER_PID"
	SERVER_STOPPED=1
	log_mark
	: >"$s/while-stopped"
	rm "$s/doomed"
	# A client that had to ask the server would block here: bound it.
	run_bounded 10 /tmp/.control-ls listing "$d"
	rc_ls=$?
	run_bounded 10 /tmp/.control-stat stat -c %n "$e/doomed"
	rc_stat=$?
	kill -CONT "$SERVER_PID"
	SERVER_STOPPED=
	if [[ $rc_ls -eq 0 && $(</tmp/.control-ls) == "a b doomed" ]]; then
		ok "$t: control: without a break the listing is stale (cached 'a b doomed' while the server is stopped)"
	else
		notok "$t: control: without a break the listing is stale"
		[[ $rc_ls -eq 124 ]] && echo "#   ls blocked for 10s: cifs.ko did not answer from its directory cache,"
		[[ $rc_ls -eq 124 ]] && echo "#   so the freshness checks prove nothing about lease breaks"
		sed 's/^/#   /' /tmp/.control-ls
	fi
	if [[ $rc_stat -eq 0 ]]; then
		ok "$t: control: without a break stat is stale (deleted 'doomed' still found, actimeo=0)"
	else
		notok "$t: control: without a break stat is stale (actimeo=0 mount, server stopped)"
		[[ $rc_stat -eq 124 ]] && echo "#   stat blocked for 10s: cifs.ko did not trust the leased directory's entry"
		sed 's/^/#   /' /tmp/.control-stat
	fi
	check "$t: control: after SIGCONT the break comes and the listing is fresh" \
		listing_is "$d" "a b while-stopped" 5
	check "$t: control: ... and stat too" within 5 stat_gone "$e/doomed"
	check "$t: control: server broke both leases after resuming (log)" log_since_check "$brk" 2
	rm -f "$s/while-stopped"
}

# mount_other MOUNTPOINT [EXTRA_OPTS]: another mount of the share with its
# own TCP connection and session (nosharesock), so cifs.ko treats it as an
# independent client (separate superblock, dentries and leases).
mount_other() {
	local opts="username=$SMB_USER,password=$SMB_PASS,port=$PORT,vers=3.1.1,noperm,iocharset=utf8,nosharesock"
	[[ -n ${2:-} ]] && opts+=",$2"
	mkdir -p "$1"
	timeout -k 5 "$OP_TIMEOUT" mount -t cifs "//127.0.0.1/$SHARE" "$1" -o "$opts"
}
unmount_other() {
	mountpoint -q "$1" || return 0
	timeout -k 5 "$OP_TIMEOUT" umount "$1" && return 0
	echo "# umount $1 failed or hung; forcing"
	umount -f -l "$1" 2>/dev/null
	return 1
}

# ---------------------------------------------------------------- main
echo "# smbkitd kernel client tests: $(uname -r), configs: ${CONFIGS[*]}"
mkdir -p "$SHARE_DIR" "$REF"
: >"$SERVER_LOG"
if ! printf '%s\n' "$SMB_PASS" |
	"$BUILD_DIR/smbkit-passwd" -f "$USERS" add "$SMB_USER" --unix-user root --password-stdin >/dev/null; then
	notok "create the users file"
	echo "0 passed, 1 failed"
	exit 1
fi
if start_server; then
	ok "start smbkitd"
else
	notok "start smbkitd"
	echo "$npass passed, $nfail failed"
	exit 1
fi

for c in "${CONFIGS[@]}"; do
	t0=$SECONDS
	case $c in
	3.0 | 3.0.2 | 3.1.1) run_dialect "$c" "$c" ;;
	3.1.1-sign) run_dialect "$c" 3.1.1 sign ;;
	3.1.1-seal)
		# Encryption (SMB2 TRANSFORM_HEADER): cifs refuses the mount with
		# EOPNOTSUPP ("server doesn't support encryption") when the server
		# does not offer it, which a build without encryption gets as a
		# SKIP; otherwise the whole workload runs encrypted.
		if mount_share 3.1.1 seal >/tmp/seal.err 2>&1; then
			unmount_share
			run_dialect "$c" 3.1.1 seal
		elif dmesg | tail -n 20 | grep -q "doesn't support encryption"; then
			skip "$c: workload with encryption (seal)" "smbkitd does not offer SMB3 encryption yet"
		else
			notok "$c: mount with seal failed for another reason"
			sed 's/^/#   /' /tmp/seal.err
		fi
		;;
	dirlease) run_dirlease ;;
	reconnect) run_reconnect ;;
	*) notok "unknown config '$c'" ;;
	esac
	echo "# $c took $((SECONDS - t0))s"
	# A crashed server would make every later check fail for no reason of
	# its own: say so once and restart it.
	if [[ -n $SERVER_PID ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
		notok "smbkitd still running after $c"
		wait "$SERVER_PID"
		echo "#   exit status $?; log tail:"
		tail -n 20 "$SERVER_LOG" | sed 's/^/#   /'
		SERVER_PID=
		start_server || break
	fi
done

if stop_server TERM; then
	ok "smbkitd stops cleanly on SIGTERM"
else
	notok "smbkitd stops cleanly on SIGTERM"
fi
if grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$SERVER_LOG"; then
	notok "no sanitizer report in the server log"
fi
echo "# $nskip skipped, $ntodo todo (known failures)"
echo "$npass passed, $nfail failed"
[[ $nfail -eq 0 ]]
