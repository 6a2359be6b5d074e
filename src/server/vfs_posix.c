/* POSIX file-system backend: path resolution beneath a share root with
 * openat2, case-insensitive lookup, stat in SMB units, DOS attributes and
 * creation time in extended attributes.  See vfs.h. */
#include "server/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/random.h>
#include <sys/xattr.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/name_cache.h"
#include "server/server.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

#define XATTR_DOSATTRIB "user.smbkit.dosattrib"
#define XATTR_BTIME "user.smbkit.btime"
/* Linux cannot set ctime; an explicitly set ChangeTime is kept here with
 * the mtime and size it was set at, and reported while those are unchanged:
 * u64 change time, u64 mtime (NT), u64 size. */
#define XATTR_CTIME "user.smbkit.ctime"
#define XATTR_EA_PREFIX "user.smbkit.ea."

/* The DOS attribute bits we persist; DIRECTORY and NORMAL are derived. */
#define DOS_STORED_ATTRS (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
			  FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE | \
			  FILE_ATTRIBUTE_NOT_CONTENT_INDEXED | FILE_ATTRIBUTE_ENCRYPTED | \
			  FILE_ATTRIBUTE_SPARSE_FILE)

/* ------------------------------------------------------------ names */

static bool is_path_separator(char c)
{
	return c == '\\' || c == '/';
}

/* Checks the characters of one component of a client path.  MS-FSCC 2.1.5.2:
 * control characters and  " * : < > ? |  are not allowed in a file name;
 * ':' only ever separates a stream, and vfs_split_stream has taken the
 * stream off the last component already, so here it is always invalid. */
static bool component_chars_valid(const char *comp, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)comp[k];
		if (c < 0x20 || c == '"' || c == '<' || c == '>' || c == '|' || c == '*' || c == '?' || c == ':')
			return false;
	}
	return true;
}

/* True when the len bytes at comp name the stream store (any case). */
static bool is_stream_store_name(const char *comp, size_t len)
{
	if (len != sizeof(VFS_STREAM_DIR) - 1) return false;
	char name[sizeof(VFS_STREAM_DIR)];
	memcpy(name, comp, len);
	name[len] = 0;
	return utf8_casecmp(name, VFS_STREAM_DIR) == 0;
}

/* The collapse of ".." is purely lexical, on the text of the path: a ".."
 * removes the component before it, whether or not that one exists or is a
 * symlink, so "dir\sub\..\other" names "dir/other" (MS-FSCC 2.1.5.1; Windows
 * too: smbtorture's notify.tree opens "...\zqy\.." as its base directory,
 * and the raw chkpath test, run against Windows, expects "foo\..\file" to
 * reach "file" when foo does not exist).  The result holds no ".." at all,
 * so nothing the kernel resolves afterwards can climb: only symlinks could,
 * and openat2(RESOLVE_BENEATH) refuses those.
 *
 * A ".." with nothing left to remove would leave the share: refused with
 * STATUS_OBJECT_PATH_SYNTAX_BAD, what Windows returns for "\.." and
 * "..\..\.." (smbtorture raw chkpath) and for "dir\..\.." (raw unlink).
 * MS-FSCC 2.1.5.1 would treat it as "." instead; we do not, so no client
 * can mistake the share root for anything above it.
 *
 * "." is not collapsed: MS-FSCC 2.1.5.1 forbids sending dot names, and
 * Windows answers STATUS_OBJECT_NAME_INVALID for "dir\." (raw chkpath); it
 * is refused wherever it stands, before any ".." could remove it, so ".\.."
 * is refused too rather than reaching the root. */
uint32_t vfs_normalize_path(const char *in, char **out)
{
	*out = NULL;
	size_t n = strlen(in);
	/* Collapsing never lengthens the path: n + 1 bytes hold the result. */
	char *p = malloc(n + 1);
	if (!p) return STATUS_NO_MEMORY;
	size_t i = 0;
	/* Leading separators are dropped: the path is share-relative. */
	while (i < n && is_path_separator(in[i])) i++;
	size_t o = 0;   /* length of the collapsed path in p */
	uint32_t status = STATUS_SUCCESS;
	while (i < n) {
		size_t start = i;
		while (i < n && !is_path_separator(in[i])) i++;
		const char *comp = in + start;
		size_t clen = i - start;
		if (clen == 0) {
			/* Two separators in a row: "a\\b" is invalid; separators
			 * ending the path ("dir\", "dir\\") are accepted and
			 * dropped. */
			while (i < n && is_path_separator(in[i])) i++;
			if (i == n) break;
			status = STATUS_OBJECT_NAME_INVALID;
			goto fail;
		}
		if (i < n) i++;   /* the separator after this component */
		if (!component_chars_valid(comp, clen) || clen > 255) {
			status = STATUS_OBJECT_NAME_INVALID;
			goto fail;
		}
		if (clen == 1 && comp[0] == '.') {
			status = STATUS_OBJECT_NAME_INVALID;
			goto fail;
		}
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			if (o == 0) {
				status = STATUS_OBJECT_PATH_SYNTAX_BAD;
				goto fail;
			}
			/* Drop the last component kept, and the '/' before it. */
			while (o > 0 && p[o - 1] != '/') o--;
			if (o > 0) o--;
			continue;
		}
		if (o > 0) p[o++] = '/';
		memcpy(p + o, comp, clen);
		o += clen;
	}
	p[o] = 0;
	/* The stream store is invisible: as if it did not exist.  Checked on
	 * the components that remain, so a name that ".." removed again
	 * behaves like any missing directory would ("x\..\y" names "y"). */
	for (size_t s = 0; s < o;) {
		size_t e = s;
		while (e < o && p[e] != '/') e++;
		if (is_stream_store_name(p + s, e - s)) {
			status = e == o ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_OBJECT_PATH_NOT_FOUND;
			goto fail;
		}
		s = e + 1;
	}
	*out = p;
	return STATUS_SUCCESS;
fail:
	free(p);
	return status;
}

/* ------------------------------------------------------------ resolution */

int vfs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	do {
		fd = syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	if (fd < 0) {
		/* EXDEV: the path tried to leave the share. */
		if (errno == EXDEV) return -EACCES;
		return -errno;
	}
	return (int)fd;
}

int vfs_open_parent(int root_fd, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return vfs_openat_beneath(root_fd, "", O_PATH | O_DIRECTORY, 0);
	}
	*base = slash + 1;
	char *parent = strndup(path, (size_t)(slash - path));
	if (!parent) return -ENOMEM;
	int fd = vfs_openat_beneath(root_fd, parent, O_PATH | O_DIRECTORY, 0);
	free(parent);
	return fd;
}

static char *join(const char *a, const char *b, size_t blen)
{
	size_t al = strlen(a);
	char *r = malloc(al + blen + 2);
	if (!r) return NULL;
	memcpy(r, a, al);
	size_t o = al;
	if (al) r[o++] = '/';
	memcpy(r + o, b, blen);
	r[o + blen] = 0;
	return r;
}

/* The last case-insensitive miss of this thread: a CREATE that follows it
 * in the same directory tells the name cache about the new name, so
 * filling a large directory does not read it once per file. */
static __thread struct {
	struct name_cache_stamp stamp;
	char dir[PATH_MAX];
} last_miss;

/* Looks for a case-insensitive match of comp in directory dir (share
 * relative).  Returns a malloc'd on-disk name or NULL. */
static char *find_ci(const struct smbd_share *sh, const char *dir, const char *comp)
{
	last_miss.stamp.valid = false;
	int dfd = vfs_openat_beneath(sh->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0) return NULL;
	struct name_cache_stamp stamp;
	char *found = name_cache_find(dfd, comp, &stamp);
	close(dfd);
	if (!found && stamp.valid && strlen(dir) < sizeof(last_miss.dir)) {
		last_miss.stamp = stamp;
		strcpy(last_miss.dir, dir);
	}
	return found;
}

void vfs_note_created_at(int parent_fd, const char *base)
{
	if (!last_miss.stamp.valid) return;
	struct name_cache_stamp before = last_miss.stamp;
	last_miss.stamp.valid = false;
	/* name_cache_created checks parent_fd is the directory of the miss. */
	name_cache_created(parent_fd, &before, base);
}

/* After vfs_open created res (share relative) following a miss. */
static void note_created(const struct smbd_share *sh, const char *res)
{
	if (!last_miss.stamp.valid) return;
	struct name_cache_stamp before = last_miss.stamp;
	last_miss.stamp.valid = false;
	const char *slash = strrchr(res, '/');
	size_t dlen = slash ? (size_t)(slash - res) : 0;
	if (strlen(last_miss.dir) != dlen || strncmp(last_miss.dir, res, dlen) != 0) return;
	int pfd = vfs_openat_beneath(sh->root_fd, dlen ? last_miss.dir : "", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (pfd < 0) return;
	name_cache_created(pfd, &before, slash ? slash + 1 : res);
	close(pfd);
}

/* Walks rel component by component, replacing each missing component by
 * its case-insensitive match. */
static int resolve_walk(const struct smbd_share *sh, const char *rel, char **actual)
{
	char *cur = strdup("");
	if (!cur) return -ENOMEM;
	const char *p = rel;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		char *cand = join(cur, p, clen);
		if (!cand) {
			free(cur);
			return -ENOMEM;
		}
		int fd = vfs_openat_beneath(sh->root_fd, cand, O_PATH | O_CLOEXEC, 0);
		if (fd >= 0) {
			close(fd);
			free(cur);
			cur = cand;
		} else if (fd == -ENOENT) {
			free(cand);
			char comp[256];
			if (clen >= sizeof(comp)) {
				free(cur);
				return -ENAMETOOLONG;
			}
			memcpy(comp, p, clen);
			comp[clen] = 0;
			char *m = find_ci(sh, cur, comp);
			if (!m) {
				/* Missing: report the resolved prefix + the rest as given. */
				char *rest = join(cur, p, strlen(p));
				free(cur);
				if (!rest) return -ENOMEM;
				*actual = rest;
				return -ENOENT;
			}
			cand = join(cur, m, strlen(m));
			free(m);
			free(cur);
			if (!cand) return -ENOMEM;
			cur = cand;
		} else {
			free(cand);
			free(cur);
			return fd;
		}
		p = slash ? slash + 1 : p + clen;
	}
	*actual = cur;
	return 0;
}

int vfs_resolve(const struct smbd_share *sh, const char *rel, char **actual)
{
	*actual = NULL;
	/* Exact spelling first: one syscall, fast in large directories. */
	int fd = vfs_openat_beneath(sh->root_fd, rel, O_PATH | O_CLOEXEC, 0);
	if (fd >= 0) {
		close(fd);
		*actual = strdup(rel);
		return *actual ? 0 : -ENOMEM;
	}
	if (fd != -ENOENT || sh->case_sensitive) {
		if (fd == -ENOENT) *actual = strdup(rel);
		return fd;
	}
	return resolve_walk(sh, rel, actual);
}

int vfs_resolve_after_miss(const struct smbd_share *sh, const char *rel, char **actual)
{
	*actual = NULL;
	if (sh->case_sensitive) {
		*actual = strdup(rel);
		return *actual ? -ENOENT : -ENOMEM;
	}
	return resolve_walk(sh, rel, actual);
}

int vfs_open(const struct smbd_share *sh, const char *rel, int flags, mode_t mode, char **actual)
{
	if (actual) *actual = NULL;
	flags |= O_CLOEXEC;
	if (sh->case_sensitive || !(flags & O_CREAT)) {
		int fd = vfs_openat_beneath(sh->root_fd, rel, flags, mode);
		if (fd >= 0 || fd != -ENOENT || sh->case_sensitive) {
			if (fd >= 0 && actual) {
				*actual = strdup(rel);
				if (!*actual) {
					close(fd);
					return -ENOMEM;
				}
			}
			return fd;
		}
	}
	/* Case-insensitive: find the on-disk spelling, then open that.  With
	 * O_CREAT this keeps "Foo" from being created beside "foo". */
	char *res = NULL;
	int r = vfs_resolve(sh, rel, &res);
	if (r < 0 && !(r == -ENOENT && (flags & O_CREAT))) {
		free(res);
		return r;
	}
	int fd = vfs_openat_beneath(sh->root_fd, res, flags, mode);
	if (fd >= 0 && r == -ENOENT) note_created(sh, res);
	if (fd >= 0 && actual) *actual = res;
	else free(res);
	return fd;
}

/* Removes rel (share-relative, already resolved) through its parent opened
 * beneath the share: unlinkat(root_fd, "a/b/c") would follow a symlink
 * swapped in for "a" or "b" since the name was resolved and could remove a
 * file outside the share.  unlinkat never follows the final component. */
int vfs_unlink(const struct smbd_share *sh, const char *rel, int flags)
{
	if (!rel || !*rel) return -EINVAL;   /* never the share root */
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	int pfd;
	if (slash) {
		char *parent = strndup(rel, (size_t)(slash - rel));
		if (!parent) return -ENOMEM;
		pfd = vfs_openat_beneath(sh->root_fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		free(parent);
	} else {
		pfd = vfs_openat_beneath(sh->root_fd, "", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	}
	if (pfd < 0) return pfd;
	int r = unlinkat(pfd, base, flags) < 0 ? -errno : 0;
	close(pfd);
	return r;
}

/* stat() of dir/name following symlinks only while they stay beneath the
 * share (a link to outside is -EACCES, not the outside file's metadata). */
int vfs_stat_beneath(const struct smbd_share *sh, const char *dir, const char *name, struct stat *sb)
{
	char *rel = join(dir, name, strlen(name));
	if (!rel) return -ENOMEM;
	int fd = vfs_openat_beneath(sh->root_fd, rel, O_PATH | O_CLOEXEC, 0);
	free(rel);
	if (fd < 0) return fd;
	int r = fstat(fd, sb) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* ------------------------------------------------------------ xattrs */

static void proc_path(char *buf, size_t len, int fd, const char *name)
{
	if (name) snprintf(buf, len, "/proc/self/fd/%d/%s", fd, name);
	else snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* getxattrat(2) (Linux 6.13) reads an xattr of a name relative to a
 * directory fd without a path walk through /proc/self/fd, which is most of
 * the cost of listing a large directory (every entry needs its DOS
 * attributes and times).  Older kernels answer ENOSYS once and the /proc
 * path is used from then on.  The number is the same on every architecture
 * (new system calls share one table since Linux 5.1). */
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
#ifndef SYS_removexattrat
#define SYS_removexattrat 466
#endif
struct xattrat_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};
static atomic_bool no_getxattrat;

static ssize_t name_getxattr(int dirfd, const char *name, const char *attr, void *val, size_t len)
{
	if (!atomic_load_explicit(&no_getxattrat, memory_order_relaxed)) {
		struct xattrat_args a = { .value = (uint64_t)(uintptr_t)val, .size = (uint32_t)len, .flags = 0 };
		long r = syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &a, sizeof(a));
		if (r >= 0 || errno != ENOSYS) return r;
		atomic_store_explicit(&no_getxattrat, true, memory_order_relaxed);
	}
	char p[300];
	proc_path(p, sizeof(p), dirfd, name);
	return lgetxattr(p, attr, val, len);
}

/* The xattr names of a name relative to a directory fd (listxattrat(2),
 * Linux 6.13; the /proc path before). */
static ssize_t name_listxattr(int dirfd, const char *name, char *buf, size_t len)
{
	if (!atomic_load_explicit(&no_getxattrat, memory_order_relaxed)) {
		long r = syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, buf, len);
		if (r >= 0 || errno != ENOSYS) return r;
		atomic_store_explicit(&no_getxattrat, true, memory_order_relaxed);
	}
	char p[300];
	proc_path(p, sizeof(p), dirfd, name);
	return llistxattr(p, buf, len);
}

/* ---- xattrs of O_PATH descriptors
 *
 * The f*xattr calls refuse O_PATH fds with EBADF, and so do the *xattrat
 * calls with AT_EMPTY_PATH (checked on 6.18), so the inode is reached
 * through its /proc/self/fd/N magic link, which names the open file itself
 * (no name is resolved again).  CREATE stats (and checks the security
 * descriptor of) every existing file through an O_PATH fd, so this is on
 * the metadata hot path: walking "/proc/self/fd/N" from "/" costs ~4 us a
 * call here, while the *xattrat calls relative to a descriptor of
 * /proc/self/fd opened once walk only "N" (~2.7 us; measured on tmpfs,
 * kernel 6.18).  "self" is resolved once to this process: every thread
 * shares its descriptor table (nothing here unshares CLONE_FILES). */
static pthread_once_t proc_fd_once = PTHREAD_ONCE_INIT;
static int proc_fd_dirfd = -1;

static void proc_fd_dir_open(void)
{
	proc_fd_dirfd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* The descriptor of /proc/self/fd and fd's name in it, or -1 when only
 * the full path can be used (old kernel, no /proc). */
static int proc_fd_rel(int fd, char name[16])
{
	if (atomic_load_explicit(&no_getxattrat, memory_order_relaxed)) return -1;
	pthread_once(&proc_fd_once, proc_fd_dir_open);
	if (proc_fd_dirfd < 0) return -1;
	snprintf(name, 16, "%d", fd);
	return proc_fd_dirfd;
}

enum opath_xattr_op { OPATH_GET, OPATH_SET, OPATH_LIST, OPATH_REMOVE };

/* One xattr call on an O_PATH fd: the *xattrat call relative to
 * /proc/self/fd when the kernel has it (at_flags 0: the final magic link
 * must be followed), else the plain call on the full /proc path.  val/len
 * are the value (GET, SET) or the name list (LIST); flags only for SET.
 * Returns what the system call does (-1 and errno on failure). */
static long opath_xattr(enum opath_xattr_op op, int fd, const char *attr, void *val, size_t len, int flags)
{
	char name[16];
	int dir = proc_fd_rel(fd, name);
	if (dir >= 0) {
		struct xattrat_args a = { .value = (uint64_t)(uintptr_t)val, .size = (uint32_t)len,
					  .flags = (uint32_t)flags };
		long r = op == OPATH_GET ? syscall(SYS_getxattrat, dir, name, 0, attr, &a, sizeof(a))
		       : op == OPATH_SET ? syscall(SYS_setxattrat, dir, name, 0, attr, &a, sizeof(a))
		       : op == OPATH_LIST ? syscall(SYS_listxattrat, dir, name, 0, val, len)
					  : syscall(SYS_removexattrat, dir, name, 0, attr);
		if (r >= 0 || errno != ENOSYS) return r;
		atomic_store_explicit(&no_getxattrat, true, memory_order_relaxed);
	}
	char p[64];
	proc_path(p, sizeof(p), fd, NULL);
	switch (op) {
	case OPATH_GET: return getxattr(p, attr, val, len);
	case OPATH_SET: return setxattr(p, attr, val, len, flags);
	case OPATH_LIST: return listxattr(p, val, len);
	case OPATH_REMOVE: break;
	}
	return removexattr(p, attr);
}

/* Reopens through the fd's /proc/self/fd magic link: the kernel follows it
 * to the very inode fd refers to (no name is looked up again, so nothing
 * swapped in since can be reached) and checks the new access mode against
 * it as an open(2) would. */
int vfs_reopen(int fd, int flags)
{
	char name[16];
	int r;
	pthread_once(&proc_fd_once, proc_fd_dir_open);
	if (proc_fd_dirfd >= 0) {
		snprintf(name, sizeof(name), "%d", fd);
		r = openat(proc_fd_dirfd, name, flags | O_CLOEXEC);
	} else {
		char p[64];
		proc_path(p, sizeof(p), fd, NULL);
		r = open(p, flags | O_CLOEXEC);
	}
	return r < 0 ? -errno : r;
}

/* The xattr names of fd; O_PATH fds go through /proc. */
static ssize_t fd_listxattr(int fd, char *buf, size_t len)
{
	ssize_t r = flistxattr(fd, buf, len);
	if (r < 0 && errno == EBADF) r = opath_xattr(OPATH_LIST, fd, NULL, buf, len, 0);
	return r;
}

/* Reads an xattr through fd; O_PATH fds go through /proc (vfs.h). */
ssize_t vfs_fd_getxattr(int fd, const char *attr, void *val, size_t len)
{
	ssize_t r = fgetxattr(fd, attr, val, len);
	if (r < 0 && errno == EBADF) r = opath_xattr(OPATH_GET, fd, attr, val, len, 0);
	return r;
}

int vfs_fd_setxattr(int fd, const char *attr, const void *val, size_t len)
{
	int r = fsetxattr(fd, attr, val, len, 0);
	if (r < 0 && errno == EBADF) r = (int)opath_xattr(OPATH_SET, fd, attr, (void *)val, len, 0);
	return r < 0 ? -errno : 0;
}

/* ------------------------------------------------------------ stat */

static uint64_t ts_nt(const struct statx_timestamp *t)
{
	return nt_time_from_timespec(t->tv_sec, (long)t->tv_nsec);
}

static void fill_stat(const struct statx *sx, const uint8_t *dos, ssize_t doslen, const uint8_t *bt,
		      ssize_t btlen, const uint8_t *ct, ssize_t ctlen, struct smb_file_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->is_dir = S_ISDIR(sx->stx_mode);
	st->mode = sx->stx_mode;
	st->last_access_time = ts_nt(&sx->stx_atime);
	st->last_write_time = ts_nt(&sx->stx_mtime);
	st->change_time = ts_nt(&sx->stx_ctime);
	if (ctlen == 24 && get_le64(ct + 8) == st->last_write_time && get_le64(ct + 16) == sx->stx_size)
		st->change_time = get_le64(ct);
	if (btlen == 8) st->creation_time = get_le64(bt);
	else if (sx->stx_mask & STATX_BTIME) st->creation_time = ts_nt(&sx->stx_btime);
	else st->creation_time = st->last_write_time < st->change_time ? st->last_write_time : st->change_time;
	if (!st->is_dir) {
		st->end_of_file = sx->stx_size;
		st->allocation_size = sx->stx_blocks * 512;
	}
	uint32_t a;
	if (doslen == 4) a = get_le32(dos) & DOS_STORED_ATTRS;
	else a = st->is_dir ? 0 : FILE_ATTRIBUTE_ARCHIVE;
	if (st->is_dir) a |= FILE_ATTRIBUTE_DIRECTORY;
	if (!a) a = FILE_ATTRIBUTE_NORMAL;
	st->attributes = a;
	st->nlink = sx->stx_nlink;
	st->file_id = sx->stx_ino;
	st->dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
}

uint64_t vfs_file_generation(int fd)
{
	union {
		struct file_handle fh;
		unsigned char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	int mount_id;
	if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0 && h.fh.handle_bytes <= MAX_HANDLE_SZ) {
		/* FNV-1a over the handle's type and bytes. */
		const unsigned char *hb = h.raw + offsetof(struct file_handle, f_handle);
		uint64_t x = 0xcbf29ce484222325ull;
		for (int i = 0; i < 4; i++) x = (x ^ (uint8_t)((unsigned)h.fh.handle_type >> (8 * i))) * 0x100000001b3ull;
		for (unsigned i = 0; i < h.fh.handle_bytes; i++) x = (x ^ hb[i]) * 0x100000001b3ull;
		return x;
	}
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_BTIME))
		return (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec;
	return 0;
}

int vfs_fstat(int fd, struct smb_file_stat *st)
{
	return vfs_fstat_ex(fd, st, NULL);
}

int vfs_fstat_ex(int fd, struct smb_file_stat *st, bool *foreign_xattrs)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	uint8_t dos[4], bt[8], ct[24];
	ssize_t dl = -1, bl = -1, cl = -1;
	/* As in vfs_fstatat: the name list first, then only the attributes
	 * that exist (a CREATE, a QUERY_INFO and a CLOSE each stat the
	 * file, and most files have none of them). */
	char names[512];
	/* For an O_PATH fd (a CREATE the file's permissions refuse data
	 * access to, a stream's base file) that is one listing through /proc
	 * instead of three reads through it. */
	ssize_t nl = fd_listxattr(fd, names, sizeof(names));
	bool has_dos = true, has_bt = true, has_ct = true, eas = true, foreign = true;
	if (nl >= 0) has_dos = has_bt = has_ct = eas = foreign = false;
	const size_t plen = sizeof(XATTR_EA_PREFIX) - 1;
	for (ssize_t off = 0; off < nl; off += (ssize_t)strnlen(names + off, (size_t)(nl - off)) + 1) {
		const char *x = names + off;
		if (!strcmp(x, XATTR_DOSATTRIB)) has_dos = true;
		else if (!strcmp(x, XATTR_BTIME)) has_bt = true;
		else if (!strcmp(x, XATTR_CTIME)) has_ct = true;
		else if (!strncmp(x, XATTR_EA_PREFIX, plen)) eas = true;
		else foreign = true;
	}
	if (foreign_xattrs) *foreign_xattrs = foreign;
	if (has_dos) dl = vfs_fd_getxattr(fd, XATTR_DOSATTRIB, dos, sizeof(dos));
	if (has_bt) bl = vfs_fd_getxattr(fd, XATTR_BTIME, bt, sizeof(bt));
	if (has_ct) cl = vfs_fd_getxattr(fd, XATTR_CTIME, ct, sizeof(ct));
	fill_stat(&sx, dos, dl, bt, bl, ct, cl, st);
	/* Known only from a complete name list (an ERANGE list: maybe). */
	st->may_have_eas = eas;
	return 0;
}

int vfs_fstatat(int dirfd, const char *name, struct smb_file_stat *st)
{
	struct statx sx;
	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME,
		  &sx) < 0)
		return -errno;
	uint8_t dos[4], bt[8], ct[24];
	ssize_t dl = -1, bl = -1, cl = -1;
	bool eas = false;
	if (!S_ISLNK(sx.stx_mode)) {
		/* One name list first: most files listed in a directory carry
		 * none of our attributes (created locally, or never given DOS
		 * attributes), and then the three reads are skipped.  This is
		 * the per-entry cost of QUERY_DIRECTORY. */
		char names[512];
		ssize_t nl = name_listxattr(dirfd, name, names, sizeof(names));
		bool has_dos = true, has_bt = true, has_ct = true;
		eas = true;
		if (nl >= 0) {
			has_dos = has_bt = has_ct = eas = false;
			const size_t plen = sizeof(XATTR_EA_PREFIX) - 1;
			for (ssize_t off = 0; off < nl; off += (ssize_t)strnlen(names + off, (size_t)(nl - off)) + 1) {
				const char *x = names + off;
				if (!strcmp(x, XATTR_DOSATTRIB)) has_dos = true;
				else if (!strcmp(x, XATTR_BTIME)) has_bt = true;
				else if (!strcmp(x, XATTR_CTIME)) has_ct = true;
				else if (!strncmp(x, XATTR_EA_PREFIX, plen)) eas = true;
			}
		}
		/* (ERANGE: a long list; read everything the slow way.) */
		if (has_dos) dl = name_getxattr(dirfd, name, XATTR_DOSATTRIB, dos, sizeof(dos));
		if (has_bt) bl = name_getxattr(dirfd, name, XATTR_BTIME, bt, sizeof(bt));
		if (has_ct) cl = name_getxattr(dirfd, name, XATTR_CTIME, ct, sizeof(ct));
	}
	fill_stat(&sx, dos, dl, bt, bl, ct, cl, st);
	st->may_have_eas = eas;
	return 0;
}

int vfs_set_dos_attributes(int fd, uint32_t attrs)
{
	uint8_t v[4];
	put_le32(v, attrs & DOS_STORED_ATTRS);
	return vfs_fd_setxattr(fd, XATTR_DOSATTRIB, v, sizeof(v));
}

static struct timespec nt_to_ts(uint64_t nt)
{
	struct timespec ts;
	if (nt == 0 || nt == UINT64_MAX) {
		ts.tv_sec = 0;
		ts.tv_nsec = UTIME_OMIT;
		return ts;
	}
	int64_t s;
	long ns;
	nt_time_to_timespec(nt, &s, &ns);
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = ns;
	return ts;
}

int vfs_set_times(int fd, uint64_t creation, uint64_t access, uint64_t write, uint64_t change)
{
	int ret = 0;
	if (creation != 0 && creation != UINT64_MAX) {
		uint8_t v[8];
		put_le64(v, creation);
		ret = vfs_fd_setxattr(fd, XATTR_BTIME, v, sizeof(v));
	}
	struct timespec ts[2] = { nt_to_ts(access), nt_to_ts(write) };
	if (ts[0].tv_nsec != UTIME_OMIT || ts[1].tv_nsec != UTIME_OMIT) {
		if (futimens(fd, ts) < 0) {
			if (errno != EBADF) return -errno;
			char p[64];
			proc_path(p, sizeof(p), fd, NULL);
			if (utimensat(AT_FDCWD, p, ts, 0) < 0) return -errno;
		}
	}
	if (change != 0 && change != UINT64_MAX) {
		struct statx sx;
		if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0) {
			uint8_t v[24];
			put_le64(v, change);
			put_le64(v + 8, ts_nt(&sx.stx_mtime));
			put_le64(v + 16, sx.stx_size);
			int r = vfs_fd_setxattr(fd, XATTR_CTIME, v, sizeof(v));
			if (r < 0) ret = r;
		}
	}
	return ret;
}

int vfs_set_dos_attributes_keep_sparse(int fd, uint32_t attrs)
{
	struct smb_file_stat st;
	if (vfs_fstat(fd, &st) == 0) attrs = (attrs & ~FILE_ATTRIBUTE_SPARSE_FILE) |
					     (st.attributes & FILE_ATTRIBUTE_SPARSE_FILE);
	return vfs_set_dos_attributes(fd, attrs);
}

static int fd_removexattr(int fd, const char *attr)
{
	int r = fremovexattr(fd, attr);
	if (r < 0 && errno == EBADF) r = (int)opath_xattr(OPATH_REMOVE, fd, attr, NULL, 0, 0);
	return r < 0 ? -errno : 0;
}

/* The xattr name list of a file (malloc'd, NUL-separated), or NULL with
 * *len 0 when it has none.  Retries when the list grows meanwhile. */
static int xattr_names(int fd, const char *path_or_null, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	for (int tries = 0; tries < 4; tries++) {
		ssize_t n = path_or_null ? llistxattr(path_or_null, NULL, 0) : fd_listxattr(fd, NULL, 0);
		if (n < 0) return errno == ENOTSUP ? 0 : -errno;
		if (n == 0) return 0;
		char *b = malloc((size_t)n + 1);
		if (!b) return -ENOMEM;
		ssize_t m = path_or_null ? llistxattr(path_or_null, b, (size_t)n) : fd_listxattr(fd, b, (size_t)n);
		if (m < 0 && errno == ERANGE) {
			free(b);
			continue;
		}
		if (m < 0) {
			free(b);
			return -errno;
		}
		b[m] = 0;
		*out = b;
		*len = (size_t)m;
		return 0;
	}
	return -EAGAIN;
}

/* ------------------------------------------------------------ streams */

bool vfs_stream_name_valid(const char *name)
{
	size_t n = strlen(name);
	/* 250 + "s_" stays below NAME_MAX. */
	if (n == 0 || n > 250) return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		/* MS-FSCC 2.1.5.3: a stream name may not contain '\', '/', ':'
		 * (the type separator) or NUL; NTFS accepts everything else,
		 * control characters and wildcards included (smbtorture
		 * smb2.streams.names2), and so does a Linux file name, since
		 * '/' and NUL are excluded. */
		if (c == '/' || c == '\\' || c == ':') return false;
	}
	return true;
}

uint32_t vfs_split_stream(const char *in, char **file, char **stream)
{
	*file = NULL;
	*stream = NULL;
	const char *last = in;
	for (const char *p = in; *p; p++)
		if (*p == '\\' || *p == '/') last = p + 1;
	/* A ':' before the last component is caught by vfs_normalize_path. */
	const char *colon = strchr(last, ':');
	if (!colon) {
		*file = strdup(in);
		return *file ? STATUS_SUCCESS : STATUS_NO_MEMORY;
	}
	const char *sname = colon + 1;
	const char *type = strchr(sname, ':');
	size_t slen = type ? (size_t)(type - sname) : strlen(sname);
	if (type) {
		type++;
		/* MS-FSCC 2.1.4: the only stream type of a file is $DATA
		 * (case-insensitive); $INDEX_ALLOCATION and the like name
		 * NTFS internals we do not have. */
		if (strchr(type, ':') || strcasecmp(type, "$DATA") != 0) return STATUS_OBJECT_NAME_INVALID;
	} else if (slen == 0) {
		return STATUS_OBJECT_NAME_INVALID;   /* "file:" */
	}
	char *f = strndup(in, (size_t)(colon - in));
	if (!f) return STATUS_NO_MEMORY;
	if (slen == 0) {
		/* "file::$DATA": the default stream, named explicitly; "" tells
		 * the caller (a directory has no default stream). */
		*stream = strdup("");
		if (!*stream) {
			free(f);
			return STATUS_NO_MEMORY;
		}
		*file = f;
		return STATUS_SUCCESS;
	}
	char *s = strndup(sname, slen);
	if (!s) {
		free(f);
		return STATUS_NO_MEMORY;
	}
	if (!vfs_stream_name_valid(s)) {
		free(f);
		free(s);
		return STATUS_OBJECT_NAME_INVALID;
	}
	*file = f;
	*stream = s;
	return STATUS_SUCCESS;
}

#define XATTR_STREAM_ID "user.smbkit.streams"
#define STREAM_PREFIX "s_"

/* The share-relative path of a file's stream directory, from the id in its
 * xattr; with create, a new id is made when there is none.  buf gets
 * ".smbkit-streams/<32 hex>". */
static int stream_dir_path(int base_fd, bool create, char *buf, size_t len)
{
	uint8_t id[16];
	ssize_t n = vfs_fd_getxattr(base_fd, XATTR_STREAM_ID, id, sizeof(id));
	if (n != (ssize_t)sizeof(id)) {
		if (!create) return -ENOENT;
		if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) return -EIO;
		int r = fsetxattr(base_fd, XATTR_STREAM_ID, id, sizeof(id), XATTR_CREATE);
		if (r < 0 && errno == EBADF) r = (int)opath_xattr(OPATH_SET, base_fd, XATTR_STREAM_ID, id, sizeof(id), XATTR_CREATE);
		if (r < 0 && errno == EEXIST) return stream_dir_path(base_fd, false, buf, len);
		if (r < 0) return -errno;
	}
	static const char hex[] = "0123456789abcdef";
	char h[33];
	for (int i = 0; i < 16; i++) {
		h[2 * i] = hex[id[i] >> 4];
		h[2 * i + 1] = hex[id[i] & 15];
	}
	h[32] = 0;
	snprintf(buf, len, "%s/%s", VFS_STREAM_DIR, h);
	return 0;
}

/* Opens the file's stream directory (O_RDONLY so it can be read). */
static int stream_dir_open(const struct smbd_share *sh, int base_fd, bool create)
{
	char rel[80];
	int r = stream_dir_path(base_fd, create, rel, sizeof(rel));
	if (r < 0) return r;
	int fd = vfs_openat_beneath(sh->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd != -ENOENT || !create) return fd;
	/* Any user who may write a file may give it streams: the top
	 * directory is world-writable and sticky, like /tmp. */
	if (mkdirat(sh->root_fd, VFS_STREAM_DIR, 0700) == 0) {
		int top = vfs_openat_beneath(sh->root_fd, VFS_STREAM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (top >= 0) {
			fchmod(top, 01777);
			close(top);
		}
	} else if (errno != EEXIST) {
		return -errno;
	}
	int top = vfs_openat_beneath(sh->root_fd, VFS_STREAM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (top < 0) return top;
	if (mkdirat(top, rel + sizeof(VFS_STREAM_DIR), 0777) < 0 && errno != EEXIST) {
		int e = errno;
		close(top);
		return -e;
	}
	close(top);
	return vfs_openat_beneath(sh->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
}

/* Finds the on-disk entry ("s_<name>") matching name case-insensitively
 * in the stream directory.  Returns a malloc'd entry name or NULL. */
static char *stream_find(int sdfd, const char *name)
{
	int dfd = openat(sdfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) return NULL;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return NULL;
	}
	char *found = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STREAM_PREFIX, 2) != 0) continue;
		if (utf8_casecmp(de->d_name + 2, name) == 0) {
			found = strdup(de->d_name);
			break;
		}
	}
	closedir(d);
	return found;
}

int vfs_stream_open(const struct smbd_share *sh, int base_fd, const char *name, int flags, char **actual_name)
{
	if (actual_name) *actual_name = NULL;
	if (!vfs_stream_name_valid(name)) return -EINVAL;
	int sdfd = stream_dir_open(sh, base_fd, (flags & O_CREAT) != 0);
	if (sdfd < 0) return sdfd;
	char *entry = stream_find(sdfd, name);
	if (!entry) {
		size_t n = strlen(name);
		entry = malloc(n + 3);
		if (entry) {
			memcpy(entry, STREAM_PREFIX, 2);
			memcpy(entry + 2, name, n + 1);
		}
	} else if (flags & O_EXCL) {
		free(entry);
		close(sdfd);
		return -EEXIST;
	}
	if (!entry) {
		close(sdfd);
		return -ENOMEM;
	}
	/* One component, never "." or "..", resolved beneath its directory. */
	int fd = vfs_openat_beneath(sdfd, entry, flags | O_NOFOLLOW | O_CLOEXEC, 0666);
	close(sdfd);
	if (fd >= 0 && actual_name) {
		*actual_name = strdup(entry + 2);
		if (!*actual_name) {
			close(fd);
			fd = -ENOMEM;
		}
	}
	free(entry);
	return fd;
}

int vfs_stream_unlink(const struct smbd_share *sh, int base_fd, const char *name)
{
	int sdfd = stream_dir_open(sh, base_fd, false);
	if (sdfd < 0) return sdfd;
	char *entry = stream_find(sdfd, name);
	int r = -ENOENT;
	if (entry) {
		r = unlinkat(sdfd, entry, 0) < 0 ? -errno : 0;
		free(entry);
	}
	close(sdfd);
	return r;
}

void vfs_streams_remove_all(const struct smbd_share *sh, int base_fd)
{
	char rel[80];
	if (stream_dir_path(base_fd, false, rel, sizeof(rel)) < 0) return;
	int sdfd = vfs_openat_beneath(sh->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (sdfd < 0) return;
	int dfd = dup(sdfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, STREAM_PREFIX, 2) == 0) unlinkat(sdfd, de->d_name, 0);
		closedir(d);
	} else if (dfd >= 0) {
		close(dfd);
	}
	close(sdfd);
	int top = vfs_openat_beneath(sh->root_fd, VFS_STREAM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (top >= 0) {
		unlinkat(top, rel + sizeof(VFS_STREAM_DIR), AT_REMOVEDIR);
		close(top);
	}
}

void vfs_stream_list_free(struct vfs_stream_info *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++) free(s[i].name);
	free(s);
}

int vfs_stream_list(const struct smbd_share *sh, int base_fd, struct vfs_stream_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int sdfd = stream_dir_open(sh, base_fd, false);
	if (sdfd == -ENOENT) return 0;
	if (sdfd < 0) return sdfd;
	int dfd = dup(sdfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0) close(dfd);
		close(sdfd);
		return -ENOMEM;
	}
	struct vfs_stream_info *v = NULL;
	size_t cnt = 0, cap = 0;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STREAM_PREFIX, 2) != 0) continue;
		struct stat sb;
		if (fstatat(sdfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode)) continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct vfs_stream_info *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) { ret = -ENOMEM; break; }
			v = nv;
			cap = nc;
		}
		v[cnt].name = strdup(de->d_name + 2);
		if (!v[cnt].name) { ret = -ENOMEM; break; }
		v[cnt].size = (uint64_t)sb.st_size;
		v[cnt].alloc = (uint64_t)sb.st_blocks * 512;
		cnt++;
	}
	closedir(d);
	close(sdfd);
	if (ret < 0) {
		vfs_stream_list_free(v, cnt);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ------------------------------------------------------------ EAs */


bool vfs_ea_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > VFS_EA_NAME_MAX) return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c >= 0x7f || strchr("\"*+,/:;<=>?[\\]|", c)) return false;
	}
	return true;
}

void vfs_ea_free(struct vfs_ea *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
}

static int ea_list_common(int fd, const char *path, struct vfs_ea **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char *names;
	size_t len;
	int r = xattr_names(fd, path, &names, &len);
	if (r < 0) return r;
	struct vfs_ea *v = NULL;
	size_t cnt = 0, cap = 0;
	const size_t plen = sizeof(XATTR_EA_PREFIX) - 1;
	for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
		const char *x = names + off;
		if (strncmp(x, XATTR_EA_PREFIX, plen) != 0) continue;
		/* Only names we could have written are reported. */
		if (!vfs_ea_name_valid(x + plen, strlen(x + plen))) continue;
		uint8_t *val = malloc(65536 + 1);
		if (!val) { r = -ENOMEM; break; }
		ssize_t vl = path ? lgetxattr(path, x, val, 65537) : vfs_fd_getxattr(fd, x, val, 65537);
		if (vl < 1) {   /* vanished meanwhile, or not ours (no flags byte) */
			free(val);
			continue;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct vfs_ea *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) { free(val); r = -ENOMEM; break; }
			v = nv;
			cap = nc;
		}
		v[cnt].name = strdup(x + plen);
		if (!v[cnt].name) { free(val); r = -ENOMEM; break; }
		v[cnt].flags = val[0];
		v[cnt].value_len = (size_t)vl - 1;
		memmove(val, val + 1, (size_t)vl - 1);
		v[cnt].value = val;
		cnt++;
	}
	free(names);
	if (r < 0) {
		vfs_ea_free(v, cnt);
		return r;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int vfs_ea_list(int fd, struct vfs_ea **out, size_t *n)
{
	return ea_list_common(fd, NULL, out, n);
}

int vfs_ea_list_at(int dirfd, const char *name, struct vfs_ea **out, size_t *n)
{
	char p[PATH_MAX];
	proc_path(p, sizeof(p), dirfd, name);
	return ea_list_common(-1, p, out, n);
}

int vfs_ea_set(int fd, const char *name, uint8_t flags, const uint8_t *value, size_t value_len)
{
	size_t nlen = strlen(name);
	if (!vfs_ea_name_valid(name, nlen) || value_len > 65535) return -EINVAL;
	char key[sizeof(XATTR_EA_PREFIX) + VFS_EA_NAME_MAX];
	snprintf(key, sizeof(key), "%s%s", XATTR_EA_PREFIX, name);
	if (value_len > 0) {
		uint8_t *v = malloc(value_len + 1);
		if (!v) return -ENOMEM;
		v[0] = flags;
		memcpy(v + 1, value, value_len);
		int r = vfs_fd_setxattr(fd, key, v, value_len + 1);
		free(v);
		/* ext4 keeps all xattrs of a file in one block. */
		if (r == -E2BIG || r == -ERANGE) r = -ENOSPC;
		if (r < 0) return r;
	}
	/* Drop other spellings of the same (case-insensitive) name, and the
	 * name itself when deleting. */
	char *names;
	size_t len;
	int r = xattr_names(fd, NULL, &names, &len);
	if (r < 0) return r;
	const size_t plen = sizeof(XATTR_EA_PREFIX) - 1;
	for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
		const char *x = names + off;
		if (strncmp(x, XATTR_EA_PREFIX, plen) != 0 || strcasecmp(x + plen, name) != 0) continue;
		if (value_len > 0 && strcmp(x + plen, name) == 0) continue;
		fd_removexattr(fd, x);
	}
	free(names);
	return 0;
}

uint32_t vfs_ea_size(const struct vfs_ea *e, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		/* NextEntryOffset, Flags, EaNameLength, EaValueLength, the name
		 * with its NUL, the value; each entry padded to 4 bytes. */
		uint64_t one = 8 + strlen(e[i].name) + 1 + e[i].value_len;
		total += (one + 3) & ~(uint64_t)3;
	}
	return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}
