/* POSIX file-system backend: path resolution beneath a share root with
 * openat2, case-insensitive lookup, stat in SMB units, DOS attributes and
 * creation time in extended attributes.  See vfs.h. */
#include "server/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/server.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

#define XATTR_DOSATTRIB "user.smbkit.dosattrib"
#define XATTR_BTIME "user.smbkit.btime"
/* Linux cannot set ctime; an explicitly set ChangeTime is kept here with
 * the mtime and size it was set at, and reported while those are unchanged:
 * u64 change time, u64 mtime (NT), u64 size. */
#define XATTR_CTIME "user.smbkit.ctime"

/* The DOS attribute bits we persist; DIRECTORY and NORMAL are derived. */
#define DOS_STORED_ATTRS (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
			  FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE | \
			  FILE_ATTRIBUTE_NOT_CONTENT_INDEXED | FILE_ATTRIBUTE_ENCRYPTED)

/* ------------------------------------------------------------ names */

uint32_t vfs_normalize_path(const char *in, char **out)
{
	*out = NULL;
	size_t n = strlen(in);
	char *p = malloc(n + 1);
	if (!p) return STATUS_NO_MEMORY;
	size_t i = 0;
	/* Leading separators are dropped: the path is share-relative. */
	while (in[i] == '\\' || in[i] == '/') i++;
	size_t o = 0, comp_start = 0;
	for (; i <= n; i++) {
		char c = in[i];
		bool sep = c == '\\' || c == '/' || c == 0;
		if (!sep) {
			unsigned char uc = (unsigned char)c;
			/* MS-FSCC 2.1.5.2: characters not allowed in a file name. */
			if (uc < 0x20 || c == '"' || c == '<' || c == '>' || c == '|' || c == '*' || c == '?' ||
			    c == ':') {
				free(p);
				return STATUS_OBJECT_NAME_INVALID;
			}
			p[o++] = c;
			continue;
		}
		size_t clen = o - comp_start;
		if (clen == 0) {
			/* "a\\b" is invalid; a trailing separator ("dir\") is
			 * accepted and dropped. */
			if (c == 0) break;
			bool rest_is_seps = true;
			for (size_t k = i; k < n; k++)
				if (in[k] != '\\' && in[k] != '/') rest_is_seps = false;
			if (rest_is_seps) break;
			free(p);
			return STATUS_OBJECT_NAME_INVALID;
		}
		if (clen == 1 && p[comp_start] == '.') {
			free(p);
			return STATUS_OBJECT_NAME_INVALID;
		}
		if (clen == 2 && p[comp_start] == '.' && p[comp_start + 1] == '.') {
			free(p);
			return STATUS_OBJECT_PATH_SYNTAX_BAD;
		}
		if (clen > 255) {
			free(p);
			return STATUS_OBJECT_NAME_INVALID;
		}
		if (c == 0) break;
		p[o++] = '/';
		comp_start = o;
	}
	while (o > 0 && p[o - 1] == '/') o--;
	p[o] = 0;
	*out = p;
	return STATUS_SUCCESS;
}

/* ------------------------------------------------------------ resolution */

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
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

/* Looks for a case-insensitive match of comp in directory dir (share
 * relative).  Returns a malloc'd on-disk name or NULL. */
static char *find_ci(const struct smbd_share *sh, const char *dir, const char *comp)
{
	int dfd = sys_openat2(sh->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0) return NULL;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return NULL;
	}
	char *found = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (utf8_casecmp(de->d_name, comp) == 0) {
			found = strdup(de->d_name);
			break;
		}
	}
	closedir(d);
	return found;
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
		int fd = sys_openat2(sh->root_fd, cand, O_PATH | O_CLOEXEC, 0);
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
	int fd = sys_openat2(sh->root_fd, rel, O_PATH | O_CLOEXEC, 0);
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

int vfs_open(const struct smbd_share *sh, const char *rel, int flags, mode_t mode, char **actual)
{
	if (actual) *actual = NULL;
	flags |= O_CLOEXEC;
	if (sh->case_sensitive || !(flags & O_CREAT)) {
		int fd = sys_openat2(sh->root_fd, rel, flags, mode);
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
	int fd = sys_openat2(sh->root_fd, res, flags, mode);
	if (fd >= 0 && actual) *actual = res;
	else free(res);
	return fd;
}

/* ------------------------------------------------------------ xattrs */

static void proc_path(char *buf, size_t len, int fd, const char *name)
{
	if (name) snprintf(buf, len, "/proc/self/fd/%d/%s", fd, name);
	else snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Reads an xattr through fd; O_PATH fds need the /proc path. */
static ssize_t fd_getxattr(int fd, const char *attr, void *val, size_t len)
{
	ssize_t r = fgetxattr(fd, attr, val, len);
	if (r < 0 && errno == EBADF) {
		char p[64];
		proc_path(p, sizeof(p), fd, NULL);
		r = getxattr(p, attr, val, len);
	}
	return r;
}

static int fd_setxattr(int fd, const char *attr, const void *val, size_t len)
{
	int r = fsetxattr(fd, attr, val, len, 0);
	if (r < 0 && errno == EBADF) {
		char p[64];
		proc_path(p, sizeof(p), fd, NULL);
		r = setxattr(p, attr, val, len, 0);
	}
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

int vfs_fstat(int fd, struct smb_file_stat *st)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	uint8_t dos[4], bt[8], ct[24];
	ssize_t dl = fd_getxattr(fd, XATTR_DOSATTRIB, dos, sizeof(dos));
	ssize_t bl = fd_getxattr(fd, XATTR_BTIME, bt, sizeof(bt));
	ssize_t cl = fd_getxattr(fd, XATTR_CTIME, ct, sizeof(ct));
	fill_stat(&sx, dos, dl, bt, bl, ct, cl, st);
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
	if (!S_ISLNK(sx.stx_mode)) {
		char p[300];
		proc_path(p, sizeof(p), dirfd, name);
		dl = lgetxattr(p, XATTR_DOSATTRIB, dos, sizeof(dos));
		bl = lgetxattr(p, XATTR_BTIME, bt, sizeof(bt));
		cl = lgetxattr(p, XATTR_CTIME, ct, sizeof(ct));
	}
	fill_stat(&sx, dos, dl, bt, bl, ct, cl, st);
	return 0;
}

int vfs_set_dos_attributes(int fd, uint32_t attrs)
{
	uint8_t v[4];
	put_le32(v, attrs & DOS_STORED_ATTRS);
	return fd_setxattr(fd, XATTR_DOSATTRIB, v, sizeof(v));
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
		ret = fd_setxattr(fd, XATTR_BTIME, v, sizeof(v));
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
			int r = fd_setxattr(fd, XATTR_CTIME, v, sizeof(v));
			if (r < 0) ret = r;
		}
	}
	return ret;
}
