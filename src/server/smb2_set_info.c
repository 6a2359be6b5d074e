/* SMB2 SET_INFO (MS-SMB2 3.3.5.21): changes to an open file's times and
 * attributes, size, name, links and delete disposition.
 *
 * Input buffers are decoded by wire/fileinfo.c; the rules about what each
 * class may change and which access it needs come from MS-FSA 2.1.5.14.
 * Renames and links work on the parent directories opened beneath the share
 * root, never on full paths from the root, so that a symlink planted in a
 * parent after the file was opened cannot redirect them outside the share.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/lease.h"
#include "server/notify_watch.h"
#include "server/security_desc.h"
#include "server/server.h"
#include "server/vfs.h"
#include "wire/fileinfo.h"
#include "wire/set_info.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* DOS attributes a client may set (MS-FSA 2.1.5.14.2). */
#define SETTABLE_ATTRIBUTES (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
			     FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE | \
			     FILE_ATTRIBUTE_NOT_CONTENT_INDEXED | FILE_ATTRIBUTE_NORMAL)

/* --------------------------------------------------------------- helpers */

/* Other opens' paths change under their inode lock when a file is renamed
 * (inode_update_paths); the old strings stay allocated until the open is
 * freed, so reading the pointer atomically is enough here. */
static const char *path_of(const struct smbd_open *o)
{
	return __atomic_load_n(&o->path, __ATOMIC_ACQUIRE);
}

struct opens_match {
	const struct smbd_open *self;
	const struct smbd_share *sh;
	const char *path;
	size_t n;
	bool beneath;
};

static bool match_path(const struct smbd_open *o, void *arg)
{
	const struct opens_match *m = arg;
	const char *p = path_of(o);
	if (o == m->self || !p || o->pipe || o->tree->share != m->sh) return false;
	if (m->beneath)
		return strlen(p) > m->n && p[m->n] == '/' &&
		       (m->sh->case_sensitive ? strncmp(p, m->path, m->n) == 0 : strncasecmp(p, m->path, m->n) == 0);
	return m->sh->case_sensitive ? strcmp(p, m->path) == 0 : utf8_casecmp(p, m->path) == 0;
}

/* True when some other ready open on the same share matches `path` (exactly,
 * or anything beneath it when `beneath`).  Paths are compared the way the
 * share looks names up. */
static bool share_has_opens(const struct smbd_open *self, const char *path, bool beneath)
{
	struct opens_match m = { self, self->tree->share, path, strlen(path), beneath };
	return open_table_any(match_path, &m);
}

/* Windows does not look at the source's directory when it renames a file.
 * NtSetInformationFile opens the *target* directory itself before the file
 * system sees the rename or link (the I/O manager's "open target
 * directory" step, SL_OPEN_TARGET_DIRECTORY): with FILE_ADD_FILE (or
 * FILE_ADD_SUBDIRECTORY when a directory moves) | SYNCHRONIZE, sharing
 * READ | WRITE but not DELETE.  That open goes through the ordinary share
 * check (MS-FSA 2.1.5.1.2.1; IoCheckShareAccess) against the opens of the
 * target directory, and its failure fails the rename with
 * STATUS_SHARING_VIOLATION.  An existing open of the directory conflicts
 * when
 *   - it has DELETE access (the implicit open does not share delete), or
 *   - it does not share write (the implicit open writes: ADD_FILE and
 *     ADD_SUBDIRECTORY are FILE_WRITE_DATA / FILE_APPEND_DATA);
 * reading opens are shared with (the implicit open shares READ), and opens
 * with no data or delete access (attributes, synchronize, security only)
 * take part in no share check at all.
 *
 * This is the one rule behind all of smbtorture's cases: smb2.rename.
 * share_delete_and_delete_access / no_share_delete_but_delete_access
 * (DELETE: refused), no_share_delete_no_delete_access (share 0: refused),
 * share_delete_no_delete_access (RWD, no DELETE: allowed), msword
 * (SYNCHRONIZE | READ_ATTRIBUTES, share 0: an attribute-only open, allowed)
 * and smb2.notify.rec / mask-change (SEC_FILE_ALL without DELETE, share
 * READ | WRITE: allowed). */
static bool target_dir_open_conflicts(const struct smbd_open *o, void *arg)
{
	const struct opens_match *m = arg;
	const char *p = path_of(o);
	if (o == m->self || !o->is_dir || !p || o->pipe || o->tree->share != m->sh) return false;
	if (m->sh->case_sensitive ? strcmp(p, m->path) != 0 : utf8_casecmp(p, m->path) != 0) return false;
	if (!(o->access & INODE_SHARING_ACCESS)) return false;
	return (o->access & DELETE) || !(o->share_access & FILE_SHARE_WRITE);
}

/* The status of the implicit open of the directory that will hold
 * `target` (share-relative) that a rename or link makes (see above):
 * SHARING_VIOLATION when an open of it conflicts. */
static uint32_t target_dir_share_check(const struct smbd_open *self, const char *target)
{
	const char *slash = strrchr(target, '/');
	char *dir = strndup(target, slash ? (size_t)(slash - target) : 0);
	if (!dir) return STATUS_NO_MEMORY;
	struct opens_match m = { self, self->tree->share, dir, strlen(dir), false };
	bool conflict = open_table_any(target_dir_open_conflicts, &m);
	free(dir);
	return conflict ? STATUS_SHARING_VIOLATION : STATUS_SUCCESS;
}

/* Splits a share-relative path into a malloc'd parent ("" for the root) and
 * a pointer to its last component inside `path`. */
static char *split_parent(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return strdup("");
	}
	*base = slash + 1;
	return strndup(path, (size_t)(slash - path));
}

/* Opens a share-relative directory for use as a *at() anchor; the share root
 * is the root fd itself (*must_close false). Returns fd or -errno. */
static int open_parent_dir(const struct smbd_share *sh, const char *parent, bool *must_close)
{
	if (!parent[0]) {
		*must_close = false;
		return sh->root_fd;
	}
	*must_close = true;
	return vfs_open(sh, parent, O_PATH | O_DIRECTORY, 0, NULL);
}

/* Converts the UTF-16 FileName of a rename/link request to a normalized
 * share-relative path.  SMB2 names are relative to the share root; tolerate
 * a leading backslash some clients send. */
static uint32_t target_path(const struct fileinfo_rename_set *ri, char **out)
{
	if (ri->name_len == 0) return STATUS_INVALID_PARAMETER;
	char *utf8 = utf16le_to_utf8(ri->name, ri->name_len, NULL);
	if (!utf8) return STATUS_OBJECT_NAME_INVALID;
	const char *p = utf8;
	while (*p == '\\' || *p == '/') p++;
	if (!*p) { free(utf8); return STATUS_OBJECT_NAME_INVALID; }
	uint32_t status = vfs_normalize_path(p, out);
	free(utf8);
	/* "x\.." names the share root: never a rename or link target (a
	 * directory that exists; Windows answers ACCESS_DENIED). */
	if (!status && !**out) {
		free(*out);
		*out = NULL;
		status = STATUS_ACCESS_DENIED;
	}
	return status;
}

/* Works out the on-disk target of a rename/link.  *final is the path to
 * create (resolved parent + the client's spelling of the last component);
 * *exists / *same_file tell whether something already sits there and
 * whether that is the source itself (a case-only rename). */
static uint32_t resolve_target(const struct smbd_open *o, const char *target, char **final,
			       bool *exists, bool *same_file, bool *target_is_dir)
{
	const struct smbd_share *sh = o->tree->share;
	char *actual = NULL;
	int r = vfs_resolve(sh, target, &actual);
	*exists = r == 0;
	*same_file = false;
	*target_is_dir = false;
	if (r < 0 && r != -ENOENT) {
		free(actual);
		return ntstatus_from_errno(-r);
	}
	if (!actual) {
		actual = strdup(target);
		if (!actual) return STATUS_NO_MEMORY;
	}
	if (*exists) {
		struct stat st;
		const char *base;
		char *parent = split_parent(actual, &base);
		bool close_parent;
		int pfd = parent ? open_parent_dir(sh, parent, &close_parent) : -ENOMEM;
		if (pfd >= 0) {
			if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				*same_file = st.st_dev == o->dev && st.st_ino == o->ino;
				*target_is_dir = S_ISDIR(st.st_mode);
			}
			if (close_parent) close(pfd);
		}
		free(parent);
	}
	/* Keep the resolved spelling of the directories but the client's
	 * spelling of the new name, so case-only renames take effect. */
	const char *abase, *tbase;
	char *aparent = split_parent(actual, &abase);
	char *tparent = split_parent(target, &tbase);
	(void)tparent;
	free(tparent);
	if (!aparent) { free(actual); return STATUS_NO_MEMORY; }
	size_t need = strlen(aparent) + 1 + strlen(tbase) + 1;
	*final = malloc(need);
	if (*final) snprintf(*final, need, "%s%s%s", aparent, aparent[0] ? "/" : "", tbase);
	free(aparent);
	free(actual);
	return *final ? STATUS_SUCCESS : STATUS_NO_MEMORY;
}

/* ------------------------------------------------------------ the classes */

static uint32_t set_basic_fd(int fd, const struct fileinfo_basic_set *bp, const uint64_t *t);

static uint32_t set_basic(struct smbd_open *o, const uint8_t *buf, size_t len)
{
	struct fileinfo_basic_set b;
	uint32_t status = fileinfo_basic_decode(buf, len, &b);
	if (status) return status;
	if (!(o->access & FILE_WRITE_ATTRIBUTES)) return STATUS_ACCESS_DENIED;

	/* Times: 0 leaves a time alone, -1 asks the file system to stop
	 * updating it for this handle and -2 to resume; we treat both as
	 * "leave".  Anything more negative is invalid (MS-FSA 2.1.5.14.2). */
	uint64_t t[4] = { b.creation_time, b.last_access_time, b.last_write_time, b.change_time };
	for (int i = 0; i < 4; i++) {
		if ((int64_t)t[i] < -2) return STATUS_INVALID_PARAMETER;
		if ((int64_t)t[i] < 0) t[i] = 0;
	}

	/* Attributes and times belong to the file, also for a stream open. */
	int bfd = open_base_fd(o);
	if (bfd < 0) return ntstatus_from_errno(-bfd);
	uint32_t status2 = set_basic_fd(bfd, &b, t);
	close(bfd);
	return status2;
}

static uint32_t set_basic_fd(int fd, const struct fileinfo_basic_set *bp, const uint64_t *t)
{
	struct fileinfo_basic_set b = *bp;
	struct smb_file_stat st;
	int r = vfs_fstat(fd, &st);
	if (r < 0) return ntstatus_from_errno(-r);
	if (b.attributes) {
		/* The DIRECTORY bit cannot be given to a file, and TEMPORARY
		 * cannot be given to a directory. */
		if (!st.is_dir && (b.attributes & FILE_ATTRIBUTE_DIRECTORY)) return STATUS_INVALID_PARAMETER;
		if (st.is_dir && (b.attributes & FILE_ATTRIBUTE_TEMPORARY)) return STATUS_INVALID_PARAMETER;
		uint32_t attrs = b.attributes & SETTABLE_ATTRIBUTES & ~FILE_ATTRIBUTE_NORMAL;
		r = vfs_set_dos_attributes_keep_sparse(fd, attrs);
		if (r < 0) return ntstatus_from_errno(-r);
	}
	if (t[0] || t[1] || t[2] || t[3]) {
		r = vfs_set_times(fd, t[0], t[1], t[2], t[3]);
		if (r < 0) return ntstatus_from_errno(-r);
	}
	return STATUS_SUCCESS;
}

/* FileDispositionInformation (MS-FSA 2.1.5.14.3): sets or clears
 * delete-pending on the file (or, for a stream open, the stream).  It is
 * state of the inode, not of this handle: later opens fail with
 * STATUS_DELETE_PENDING and the last close of any handle deletes. */
static uint32_t set_disposition(struct smbd_open *o, bool delete_pending, bool ignore_readonly)
{
	if (!(o->access & DELETE)) return STATUS_ACCESS_DENIED;
	if (!delete_pending) {
		open_set_delete_pending(o, false);
		return STATUS_SUCCESS;
	}
	if (!o->path[0]) return STATUS_ACCESS_DENIED;   /* the share root */
	struct smb_file_stat st;
	int bfd = open_base_fd(o);
	if (bfd < 0) return ntstatus_from_errno(-bfd);
	int r = vfs_fstat(bfd, &st);
	close(bfd);
	if (r < 0) return ntstatus_from_errno(-r);
	if (open_stream_name(o)) st.is_dir = false;   /* a stream of a directory is a file */
	/* MS-FSA 2.1.5.14.3: a read-only file cannot be marked for deletion. */
	if (!ignore_readonly && (st.attributes & FILE_ATTRIBUTE_READONLY)) return STATUS_CANNOT_DELETE;
	if (st.is_dir) {
		/* A non-empty directory cannot be deleted; check now so the client
		 * learns it here rather than silently at close. */
		int dfd = openat(o->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) return ntstatus_from_errno(errno);
		DIR *d = fdopendir(dfd);
		if (!d) { close(dfd); return STATUS_NO_MEMORY; }
		bool empty = true;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) { empty = false; break; }
		}
		closedir(d);
		if (!empty) return STATUS_DIRECTORY_NOT_EMPTY;
	}
	open_set_delete_pending(o, true);
	return STATUS_SUCCESS;
}

/* Renaming a stream open to ":newname[:$DATA]" (MS-FSA 2.1.5.14.11.1):
 * the stream moves within its file.  Anything else is refused. */
static uint32_t set_stream_rename(struct smbd_open *o, const struct fileinfo_rename_set *ri, bool link)
{
	if (link) return STATUS_INVALID_PARAMETER;
	char *utf8 = ri->name_len ? utf16le_to_utf8(ri->name, ri->name_len, NULL) : NULL;
	if (!utf8) return STATUS_OBJECT_NAME_INVALID;
	char *fpart = NULL, *stream = NULL;
	uint32_t status = utf8[0] == ':' ? vfs_split_stream(utf8, &fpart, &stream) : STATUS_INVALID_PARAMETER;
	free(utf8);
	if (status) return status;
	if (fpart[0] || !stream || !*stream) {
		/* Renaming to the default stream or to another file is not
		 * supported by NTFS for named streams either. */
		free(fpart);
		free(stream);
		return STATUS_INVALID_PARAMETER;
	}
	const char *cur = open_stream_name(o);
	uint32_t result = STATUS_SUCCESS;
	int bfd = open_base_fd(o);
	if (bfd < 0) {
		result = ntstatus_from_errno(-bfd);
		goto out;
	}
	if (strcasecmp(cur, stream) != 0) {
		int nfd = vfs_stream_open(o->tree->share, bfd, stream, O_RDONLY, NULL);
		if (nfd >= 0) {
			close(nfd);
			if (!ri->replace_if_exists) {
				result = STATUS_OBJECT_NAME_COLLISION;
				goto out;
			}
		}
	}
	/* Copy the data over: the stream directory keeps one file per name. */
	int dst = vfs_stream_open(o->tree->share, bfd, stream, O_RDWR | O_CREAT | O_TRUNC, NULL);
	if (dst < 0) {
		result = ntstatus_from_errno(-dst);
		goto out;
	}
	char buf[65536];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(o->fd, buf, sizeof(buf), off);
		if (n < 0) { result = ntstatus_from_errno(errno); break; }
		if (n == 0) break;
		if (pwrite(dst, buf, (size_t)n, off) != n) { result = STATUS_DISK_FULL; break; }
		off += n;
	}
	if (result == STATUS_SUCCESS && strcasecmp(cur, stream) != 0) {
		vfs_stream_unlink(o->tree->share, bfd, cur);
		size_t plen = (size_t)(cur - o->path) + strlen(stream) + 1;
		char *np = malloc(plen);
		if (np) {
			snprintf(np, plen, "%.*s%s", (int)(cur - o->path), o->path, stream);
			/* The open now reads another data file: move it to that
			 * file's stream inode, then switch name and fd. */
			struct stat dst_st;
			struct smbd_inode *nsin = fstat(dst, &dst_st) == 0 && o->inode
							  ? inode_lookup(dst_st.st_dev, dst_st.st_ino, vfs_file_generation(dst), o->inode)
							  : NULL;
			if (nsin) inode_move_stream(o, nsin);
			open_set_path(o, np);
			close(o->fd);
			o->fd = dst;
			dst = -1;
		}
	}
	if (dst >= 0) close(dst);
out:
	if (bfd >= 0) close(bfd);
	free(fpart);
	free(stream);
	return result;
}

static uint32_t set_rename_or_link(struct smb2_request *req, struct smbd_open *o, const uint8_t *buf, size_t len,
				   bool link)
{
	const struct smbd_share *sh = o->tree->share;
	struct fileinfo_rename_set ri;
	uint32_t status = fileinfo_rename_decode(buf, len, &ri);
	if (status) return status;
	/* MS-SMB2 3.3.5.21.1: SMB2 names are share-relative; RootDirectory
	 * must be zero. */
	if (ri.root_directory) return STATUS_INVALID_PARAMETER;
	if (!link && !(o->access & DELETE)) return STATUS_ACCESS_DENIED;
	if (!o->path[0]) return STATUS_ACCESS_DENIED;   /* cannot rename the share root */
	if (open_stream_name(o)) return set_stream_rename(o, &ri, link);

	char *target = NULL;
	status = target_path(&ri, &target);
	if (status) return status;

	char *final = NULL;
	bool exists, same_file, target_is_dir;
	status = resolve_target(o, target, &final, &exists, &same_file, &target_is_dir);
	free(target);
	if (status) return status;

	if (!link && strcmp(final, o->path) == 0) {
		/* Renaming to its own name is a no-op that succeeds. */
		free(final);
		return STATUS_SUCCESS;
	}
	if (link && o->is_dir) { free(final); return STATUS_FILE_IS_A_DIRECTORY; }
	/* The target directory is opened (and share-checked) before the file
	 * system looks at the names, so this comes before a name collision. */
	status = target_dir_share_check(o, final);
	if (status) { free(final); return status; }
	bool replace = false;
	if (exists && !same_file) {
		if (!ri.replace_if_exists) { free(final); return STATUS_OBJECT_NAME_COLLISION; }
		/* MS-FSA 2.1.5.14.11: a directory is never replaced, nor a file
		 * someone has open. */
		if (target_is_dir || share_has_opens(o, final, false)) {
			free(final);
			return STATUS_ACCESS_DENIED;
		}
		replace = true;
	}
	/* Windows refuses to rename a directory while files beneath it are
	 * open (their handles would keep stale names). */
	if (!link && o->is_dir && share_has_opens(o, o->path, true)) {
		free(final);
		return STATUS_ACCESS_DENIED;
	}
	/* Handle caching of the file's other opens ends, and the rename waits
	 * (asynchronously) until the holders have acknowledged: a cached
	 * handle may be what would block it below (lease.c).  When the wait
	 * ends this whole request runs again from the start. */
	if (!link) {
		status = lease_rename_breaks(req, o, smb2_set_info);
		if (status) {
			free(final);
			return status;
		}
	}
	/* Another handle on the file that reads, writes or deletes without
	 * sharing delete keeps its name (MS-FSA 2.1.5.1.2.2 applied to the
	 * rename's DELETE). */
	if (!link && inode_rename_blocked(o)) {
		free(final);
		return STATUS_SHARING_VIOLATION;
	}

	const char *old_base, *new_base;
	char *old_parent = split_parent(o->path, &old_base);
	char *new_parent = split_parent(final, &new_base);
	int ofd = -1, nfd = -1;
	bool oclose = false, nclose = false;
	status = STATUS_NO_MEMORY;
	if (!old_parent || !new_parent) goto out;
	ofd = open_parent_dir(sh, old_parent, &oclose);
	if (ofd < 0) { status = ntstatus_from_errno(-ofd); goto out; }
	nfd = open_parent_dir(sh, new_parent, &nclose);
	if (nfd < 0) {
		/* A missing target directory is a path error, not a name error. */
		status = (nfd == -ENOENT || nfd == -ENOTDIR) ? STATUS_OBJECT_PATH_NOT_FOUND
							     : ntstatus_from_errno(-nfd);
		goto out;
	}
	int r;
	if (link) {
		if (replace && unlinkat(nfd, new_base, 0) < 0 && errno != ENOENT) {
			status = ntstatus_from_errno(errno);
			goto out;
		}
		r = linkat(ofd, old_base, nfd, new_base, 0);
	} else {
		r = renameat2(ofd, old_base, nfd, new_base, replace || same_file ? 0 : RENAME_NOREPLACE);
	}
	if (r < 0) {
		int e = errno;
		status = e == ENOENT ? STATUS_OBJECT_PATH_NOT_FOUND :
			 e == EEXIST ? STATUS_OBJECT_NAME_COLLISION :
			 e == EPERM && link ? STATUS_ACCESS_DENIED : ntstatus_from_errno(e);
		goto out;
	}
	/* Both directories' listings changed: their leases break (lease.c). */
	lease_break_parent(o, o->path);
	if (!link) {
		/* Every open of the file (and of its streams) now lives under the
		 * new name (inode_update_paths, under the inode lock). */
		inode_update_paths(o, final);
	}
	lease_break_parent(o, final);
	if (!link) notify_file_renamed(o);   /* reported when o closes (smb2_notify.c) */
	status = STATUS_SUCCESS;
out:
	if (oclose && ofd >= 0) close(ofd);
	if (nclose && nfd >= 0) close(nfd);
	free(old_parent);
	free(new_parent);
	free(final);
	return status;
}

static uint32_t set_end_of_file(struct smbd_open *o, const uint8_t *buf, size_t len)
{
	uint64_t eof;
	uint32_t status = fileinfo_u64_decode(buf, len, &eof);
	if (status) return status;
	if (!(o->access & FILE_WRITE_DATA)) return STATUS_ACCESS_DENIED;
	if (o->is_dir) return STATUS_INVALID_PARAMETER;
	if ((int64_t)eof < 0) return STATUS_INVALID_PARAMETER;
	lease_break_on_write(o);   /* read caching of other opens ends (lease.c) */
	if (ftruncate(o->fd, (off_t)eof) < 0) return ntstatus_from_errno(errno);
	return STATUS_SUCCESS;
}

static uint32_t set_allocation(struct smbd_open *o, const uint8_t *buf, size_t len)
{
	uint64_t alloc;
	uint32_t status = fileinfo_u64_decode(buf, len, &alloc);
	if (status) return status;
	if (!(o->access & FILE_WRITE_DATA)) return STATUS_ACCESS_DENIED;
	if (o->is_dir) return STATUS_INVALID_PARAMETER;
	if ((int64_t)alloc < 0) return STATUS_INVALID_PARAMETER;
	/* Like end of file (MS-FSA 2.1.5.14.1): read caching of other opens
	 * ends (smbtorture smb2.oplock.batch12). */
	lease_break_on_write(o);
	struct stat st;
	if (fstat(o->fd, &st) < 0) return ntstatus_from_errno(errno);
	/* Shrinking the allocation below the end of file truncates the file
	 * (MS-FSA 2.1.5.14.1); growing it reserves space without changing the
	 * size, where the file system can. */
	if (alloc <= (uint64_t)st.st_size) {
		if (alloc < (uint64_t)st.st_size && ftruncate(o->fd, (off_t)alloc) < 0) return ntstatus_from_errno(errno);
		/* Release space reserved beyond the (new) end of file by an
		 * earlier, larger allocation (FALLOC_FL_KEEP_SIZE). */
		if ((uint64_t)st.st_blocks * 512 > alloc)
			fallocate(o->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)alloc,
				  (off_t)((uint64_t)st.st_blocks * 512 + 65536));
	} else {
		if (fallocate(o->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)alloc) < 0 &&
		    errno != EOPNOTSUPP && errno != ENOSYS) {
			if (errno == ENOSPC) return STATUS_DISK_FULL;
			return ntstatus_from_errno(errno);
		}
	}
	return STATUS_SUCCESS;
}

static uint32_t set_mode(struct smbd_open *o, const uint8_t *buf, size_t len)
{
	uint32_t mode;
	uint32_t status = fileinfo_u32_decode(buf, len, &mode);
	if (status) return status;
	/* MS-FSA 2.1.5.14.9: only these bits may be set, and not both
	 * synchronous flavours at once. */
	const uint32_t valid = FILE_WRITE_THROUGH | FILE_SEQUENTIAL_ONLY | FILE_NO_INTERMEDIATE_BUFFERING |
			       FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT;
	if (mode & ~valid) return STATUS_INVALID_PARAMETER;
	if ((mode & FILE_SYNCHRONOUS_IO_ALERT) && (mode & FILE_SYNCHRONOUS_IO_NONALERT))
		return STATUS_INVALID_PARAMETER;
	o->mode = mode;
	return STATUS_SUCCESS;
}

static uint32_t set_file(struct smb2_request *req, struct smbd_open *o, const struct smb2_set_info_req *s)
{
	uint8_t c = s->file_info_class;
	const uint8_t *buf = s->buffer;
	size_t len = s->buffer_len;
	bool modifies = c != FSCC_FILE_POSITION_INFORMATION && c != FSCC_FILE_MODE_INFORMATION;
	if (o->pipe) return STATUS_NOT_SUPPORTED;
	/* The tree's read-only flag already includes the share's, adjusted
	 * per user by "read list" / "write list" at tree connect. */
	if (modifies && (req->tree->read_only || o->tree->read_only)) {
		/* Still validate the class so unknown classes get their own error. */
		switch (c) {
		case FSCC_FILE_BASIC_INFORMATION: case FSCC_FILE_RENAME_INFORMATION:
		case FSCC_FILE_LINK_INFORMATION: case FSCC_FILE_DISPOSITION_INFORMATION:
		case FSCC_FILE_DISPOSITION_INFORMATION_EX: case FSCC_FILE_END_OF_FILE_INFORMATION:
		case FSCC_FILE_ALLOCATION_INFORMATION: case FSCC_FILE_FULL_EA_INFORMATION:
			return STATUS_ACCESS_DENIED;
		default:
			return STATUS_INVALID_INFO_CLASS;
		}
	}
	switch (c) {
	case FSCC_FILE_BASIC_INFORMATION: {
		uint32_t status = set_basic(o, buf, len);
		if (!status) lease_break_parent(o, o->path);   /* the entry's attributes changed */
		return status;
	}
	case FSCC_FILE_RENAME_INFORMATION:
		return set_rename_or_link(req, o, buf, len, false);
	case FSCC_FILE_LINK_INFORMATION:
		return set_rename_or_link(req, o, buf, len, true);
	case FSCC_FILE_DISPOSITION_INFORMATION: {
		uint8_t del;
		uint32_t status = fileinfo_u8_decode(buf, len, &del);
		if (status) return status;
		status = set_disposition(o, del != 0, false);
		if (!status && del) lease_break_handle(o);   /* lease.c */
		return status;
	}
	case FSCC_FILE_DISPOSITION_INFORMATION_EX: {
		uint32_t flags;
		uint32_t status = fileinfo_u32_decode(buf, len, &flags);
		if (status) return status;
		/* POSIX semantics and on-close variants all end up as "delete
		 * when the last handle closes" here. */
		return set_disposition(o, flags & FILE_DISPOSITION_DELETE,
				       flags & FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE);
	}
	case FSCC_FILE_END_OF_FILE_INFORMATION:
		return set_end_of_file(o, buf, len);
	case FSCC_FILE_ALLOCATION_INFORMATION:
		return set_allocation(o, buf, len);
	case FSCC_FILE_POSITION_INFORMATION: {
		uint64_t pos;
		uint32_t status = fileinfo_u64_decode(buf, len, &pos);
		if (status) return status;
		if ((int64_t)pos < 0) return STATUS_INVALID_PARAMETER;
		o->position = pos;
		return STATUS_SUCCESS;
	}
	case FSCC_FILE_MODE_INFORMATION:
		return set_mode(o, buf, len);
	case FSCC_FILE_FULL_EA_INFORMATION: {
		/* MS-FSA 2.1.5.14.5 (FileFullEaInformation): a validated list;
		 * an empty value deletes that EA. */
		if (!(o->access & FILE_WRITE_EA)) return STATUS_ACCESS_DENIED;
		if (len == 0) return STATUS_INVALID_PARAMETER;
		int bfd = open_base_fd(o);
		if (bfd < 0) return ntstatus_from_errno(-bfd);
		uint32_t status = smbd_apply_ea_list(bfd, buf, len);
		close(bfd);
		return status;
	}
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
}

static uint32_t set_security(struct smb2_request *req, struct smbd_open *o, const struct smb2_set_info_req *s)
{
	uint32_t secinfo = s->additional_information;
	/* MS-FSA 2.1.5.16: owner/group need WRITE_OWNER, the DACL WRITE_DAC. */
	if ((secinfo & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION)) &&
	    !(o->access & WRITE_OWNER))
		return STATUS_ACCESS_DENIED;
	if ((secinfo & DACL_SECURITY_INFORMATION) && !(o->access & WRITE_DAC))
		return STATUS_ACCESS_DENIED;
	if ((secinfo & SACL_SECURITY_INFORMATION) && !(o->access & ACCESS_SYSTEM_SECURITY))
		return STATUS_ACCESS_DENIED;
	if (req->tree->read_only) return STATUS_ACCESS_DENIED;
	if (o->pipe || o->fd < 0) return STATUS_NOT_SUPPORTED;
	/* Stored and reported back, but access is still enforced by POSIX
	 * permissions only (see security_desc.h). */
	return smbd_sd_set(o, s->buffer, s->buffer_len, secinfo);
}

uint32_t smb2_set_info(struct smb2_request *req)
{
	struct smb2_set_info_req s;
	uint32_t status = smb2_set_info_req_decode(req->msg, req->msg_len, &s);
	if (status) return status;

	struct smbd_open *o = smb2_req_open(req, s.persistent_id, s.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;

	switch (s.info_type) {
	case SMB2_0_INFO_FILE:
		status = set_file(req, o, &s);
		break;
	case SMB2_0_INFO_SECURITY:
		status = set_security(req, o, &s);
		break;
	case SMB2_0_INFO_FILESYSTEM:
	case SMB2_0_INFO_QUOTA:
		/* Volume labels, quotas and object ids are not settable here. */
		status = STATUS_NOT_SUPPORTED;
		break;
	default:
		status = STATUS_INVALID_PARAMETER;
		break;
	}
	log_debug("SET_INFO type %u class %u len %u: %s", s.info_type, s.file_info_class,
		  s.buffer_len, ntstatus_name(status));
	if (status == STATUS_SUCCESS) smb2_set_info_rsp_encode(req->out, req->out_hdr_off);
	open_put(o);
	return status;
}
