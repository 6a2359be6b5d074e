/* Security descriptors of files: the stored SD (xattr) or a POSIX-derived
 * one, and the access checks and inheritance of CREATE.  See
 * security_desc.h; the SD format work is in acl.c. */
#include "server/security_desc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/log.h"
#include "server/acl.h"
#include "server/server.h"
#include "server/vfs.h"
#include "wire/fileinfo.h"


#define SD_XATTR "user.smbkit.sd"
/* An SD holds at most a 64 KiB DACL plus owner, group and header. */
#define SD_MAX 66000

/* The stored SD is read and written through whatever fd the caller has.
 * CREATE of an existing file reads it through the data fd it opened, and
 * only when the file's xattr listing (which vfs_fstat_ex makes anyway) shows
 * a name vfs does not use itself; a file whose data open the kernel
 * refused is checked through an O_PATH fd, which vfs_fd_getxattr reaches
 * through /proc/self/fd relative to a descriptor of that directory opened
 * once (getxattrat(2); ~2.7 us against ~4 us for the full /proc path,
 * measured on tmpfs, kernel 6.18).  The listing is per file and read at
 * each CREATE, so it is no process-wide shortcut of the kind below.
 *
 * Why no cheaper "this share has no SDs" shortcut: an SD is an xattr that
 * any process may write at any time (another smbkitd, an admin's
 * setfattr, a restore), and a share may already hold SDs when the server
 * starts; a flag kept in this process could only be proved by scanning the
 * share and watching every inode, and a stale "no SD" would silently grant
 * what a DACL denies.  A cache keyed by inode and ctime (setxattr changes
 * ctime) would be correct on multigrain-timestamp file systems, but a
 * CREATE sees most inodes once (the stat workloads open each file once per
 * query), so it would rarely hit.  The read itself is made cheap instead
 * (vfs_posix.c: the stat of the same CREATE lists the xattrs once). */
static ssize_t sd_xattr_read(int fd, uint8_t *buf, size_t len)
{
	return vfs_fd_getxattr(fd, SD_XATTR, buf, len);
}

/* 0, or -1 with errno set. */
static int sd_xattr_write(int fd, const uint8_t *buf, size_t len)
{
	int r = vfs_fd_setxattr(fd, SD_XATTR, buf, len);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* A file's stored SD, parsed.  `buf` owns the bytes `sd` points into. */
struct stored_sd {
	uint8_t *buf;
	size_t len;
	struct acl_sd sd;
};

/* 1: a valid stored SD was loaded; 0: none; -errno: it could not be read.
 * A stored SD that does not parse (written by hand, truncated) is treated
 * as denying everything but what its owner implicitly gets: it is fixed by
 * setting a new one, and must not silently open the file up. */
static int sd_load(int fd, struct stored_sd *out)
{
	memset(out, 0, sizeof(*out));
	uint8_t small[1024];
	ssize_t n = sd_xattr_read(fd, small, sizeof(small));
	if (n < 0 && errno == ERANGE) {
		out->buf = malloc(SD_MAX);
		if (!out->buf) return -ENOMEM;
		n = sd_xattr_read(fd, out->buf, SD_MAX);
	} else if (n >= 0) {
		out->buf = malloc(n ? (size_t)n : 1);
		if (!out->buf) return -ENOMEM;
		memcpy(out->buf, small, (size_t)n);
	}
	if (n < 0) {
		int e = errno;
		free(out->buf);
		out->buf = NULL;
		if (e == ENODATA || e == ENOTSUP) return 0;
		return -e;
	}
	out->len = (size_t)n;
	if (acl_sd_parse(out->buf, out->len, &out->sd) != STATUS_SUCCESS) {
		log_warn("stored security descriptor (%zu bytes) is malformed: treated as an empty DACL", out->len);
		/* An empty DACL: present, no ACE. */
		static const uint8_t empty_acl[8] = { 2, 0, 8, 0, 0, 0, 0, 0 };
		memset(&out->sd, 0, sizeof(out->sd));
		out->sd.control = SE_DACL_PRESENT | SE_SELF_RELATIVE;
		out->sd.dacl = empty_acl;
		out->sd.dacl_len = sizeof(empty_acl);
	}
	return 1;
}

static void sd_release(struct stored_sd *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* The SD derived from the POSIX owner, group and mode (wire/fileinfo.c). */
static uint32_t sd_posix(int fd, struct wbuf *w)
{
	struct stat st;
	if (fstat(fd, &st) < 0) return ntstatus_from_errno(errno);
	struct posix_sd_input in = { .uid = st.st_uid, .gid = st.st_gid, .mode = st.st_mode,
				     .is_dir = S_ISDIR(st.st_mode) };
	security_desc_encode(w, &in, OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
					     DACL_SECURITY_INFORMATION);
	return w->err ? STATUS_NO_MEMORY : STATUS_SUCCESS;
}

/* The fd whose SD an open reports and changes: the file itself, or for a
 * stream open its base file (streams have no SD of their own). */
static int sd_fd_of(const struct smbd_open *o, bool *must_close)
{
	*must_close = false;
	if (!open_stream_name(o)) return o->fd;
	int fd = open_base_fd(o);
	if (fd >= 0) *must_close = true;
	return fd;
}

/* The complete current SD of fd (stored, or POSIX-derived) into w. */
static uint32_t sd_current(int fd, struct wbuf *w)
{
	struct stored_sd s;
	int r = sd_load(fd, &s);
	if (r < 0) return ntstatus_from_errno(-r);
	if (r == 0) return sd_posix(fd, w);
	acl_sd_write(w, s.sd.control, s.sd.owner, s.sd.owner_len, s.sd.group, s.sd.group_len, s.sd.dacl,
		     s.sd.dacl_len);
	sd_release(&s);
	return w->err ? STATUS_NO_MEMORY : STATUS_SUCCESS;
}

/* The open file's complete SD (owner, group and DACL) into w. */
static uint32_t sd_of_open(const struct smbd_open *o, struct wbuf *w)
{
	bool close_fd;
	int fd = sd_fd_of(o, &close_fd);
	if (fd < 0) return ntstatus_from_errno(-fd);
	uint32_t status = sd_current(fd, w);
	if (close_fd) close(fd);
	return status;
}

uint32_t smbd_sd_query(const struct smbd_open *o, uint32_t secinfo, struct wbuf *w)
{
	struct wbuf full;
	wbuf_init(&full, 256);
	uint32_t status = sd_of_open(o, &full);
	struct acl_sd sd;
	if (status == STATUS_SUCCESS) status = acl_sd_parse(full.p, full.len, &sd);
	if (status == STATUS_SUCCESS) {
		bool dacl = secinfo & DACL_SECURITY_INFORMATION;
		/* Each part only when asked for; the DACL's control bits
		 * (present, auto-inherited, protected) travel with it. */
		acl_sd_write(w, dacl ? sd.control : 0,
			     (secinfo & OWNER_SECURITY_INFORMATION) ? sd.owner : NULL, sd.owner_len,
			     (secinfo & GROUP_SECURITY_INFORMATION) ? sd.group : NULL, sd.group_len,
			     dacl ? sd.dacl : NULL, sd.dacl_len);
		if (w->err) status = STATUS_NO_MEMORY;
	}
	wbuf_free(&full);
	return status;
}

/* The token of a session's user (acl.h). */
static int token_of(const struct smbd_session *s, struct acl_token *t)
{
	if (!s) {
		/* No session: nobody in particular, Everyone only. */
		return acl_token_init(t, (uint32_t)-1, (uint32_t)-1, NULL, 0, false, true);
	}
	uint32_t *groups = NULL;
	size_t n = s->ngroups > 0 ? (size_t)s->ngroups : 0;
	if (n) {
		groups = malloc(n * sizeof(*groups));
		if (!groups) return -1;
		for (size_t i = 0; i < n; i++) groups[i] = (uint32_t)s->groups[i];
	}
	int r = acl_token_init(t, (uint32_t)s->uid, (uint32_t)s->gid, groups, n, !s->is_guest && !s->is_anonymous,
			       s->is_anonymous);
	free(groups);
	return r;
}

uint32_t smbd_sd_set(const struct smbd_open *o, const uint8_t *sd, size_t len, uint32_t secinfo)
{
	struct acl_sd newp;
	uint32_t status = acl_sd_parse(sd, len, &newp);
	if (status) return status;

	bool close_fd;
	int fd = sd_fd_of(o, &close_fd);
	if (fd < 0) return ntstatus_from_errno(-fd);

	struct wbuf curw, dacl, out;
	wbuf_init(&curw, 256);
	wbuf_init(&dacl, 256);
	wbuf_init(&out, 256);
	struct acl_token tok = { 0 };
	struct acl_sd cur;
	status = sd_current(fd, &curw);
	if (status == STATUS_SUCCESS) status = acl_sd_parse(curw.p, curw.len, &cur);
	if (status) goto done;

	const uint8_t *owner = cur.owner, *group = cur.group;
	size_t owner_len = cur.owner_len, group_len = cur.group_len;
	if (secinfo & OWNER_SECURITY_INFORMATION) {
		if (!newp.owner) { status = STATUS_INVALID_OWNER; goto done; }
		/* MS-DTYP 2.5.3.4 / Windows: the new owner must be one of the
		 * caller's own SIDs, unless it holds SeRestorePrivilege. */
		if (token_of(o->session, &tok) < 0) { status = STATUS_NO_MEMORY; goto done; }
		if (!tok.can_set_any_owner && !acl_token_has(&tok, newp.owner, newp.owner_len)) {
			status = STATUS_INVALID_OWNER;
			goto done;
		}
		owner = newp.owner;
		owner_len = newp.owner_len;
	}
	if (secinfo & GROUP_SECURITY_INFORMATION) {
		if (!newp.group) { status = STATUS_INVALID_PARAMETER; goto done; }
		group = newp.group;
		group_len = newp.group_len;
	}
	uint16_t control = cur.control;
	const uint8_t *dacl_bytes = cur.dacl;
	size_t dacl_len = cur.dacl_len;
	if (secinfo & DACL_SECURITY_INFORMATION) {
		/* Without SE_DACL_PRESENT the caller sets a NULL DACL (all
		 * access for everyone).  AUTO_INHERIT_REQ asks the system to
		 * compute the inheritance and is never stored; AUTO_INHERITED
		 * is kept only together with it (smb2.acls.INHERITFLAGS shows
		 * what Windows keeps). */
		uint16_t c = newp.control;
		control = SE_DACL_PRESENT | (c & SE_DACL_PROTECTED);
		if ((c & SE_DACL_AUTO_INHERITED) && (c & SE_DACL_AUTO_INHERIT_REQ)) control |= SE_DACL_AUTO_INHERITED;
		if ((c & SE_DACL_PRESENT) && newp.dacl) {
			acl_dacl_copy_mapped(&dacl, newp.dacl, newp.dacl_len);
			if (dacl.err) { status = STATUS_NO_MEMORY; goto done; }
			dacl_bytes = dacl.p;
			dacl_len = dacl.len;
		} else {
			dacl_bytes = NULL;
			dacl_len = 0;
		}
	}
	acl_sd_write(&out, control, owner, owner_len, group, group_len, dacl_bytes, dacl_len);
	if (out.err) status = STATUS_NO_MEMORY;
	else if (out.len > SD_MAX) status = STATUS_INVALID_PARAMETER;
	else if (sd_xattr_write(fd, out.p, out.len) < 0)
		status = errno == ENOTSUP ? STATUS_NOT_SUPPORTED : ntstatus_from_errno(errno);
done:
	acl_token_free(&tok);
	wbuf_free(&out);
	wbuf_free(&dacl);
	wbuf_free(&curw);
	if (close_fd) close(fd);
	return status;
}

/* ------------------------------------------------------ CREATE hooks */

/* A token built on first use: most files have no stored SD, and their
 * CREATE should not pay for one. */
struct lazy_token {
	const struct smbd_session *session;
	struct acl_token tok;
	bool built, failed;
};

static const struct acl_token *lazy_token_get(struct lazy_token *lt)
{
	if (!lt->built && !lt->failed) {
		if (token_of(lt->session, &lt->tok) < 0) lt->failed = true;
		else lt->built = true;
	}
	return lt->built ? &lt->tok : NULL;
}

static void lazy_token_free(struct lazy_token *lt)
{
	if (lt->built) acl_token_free(&lt->tok);
}

/* The access a stored SD of fd grants: UINT32_MAX when fd has none. */
static uint32_t granted_by(int fd, struct lazy_token *lt)
{
	struct stored_sd s;
	int r = sd_load(fd, &s);
	if (r == 0) return UINT32_MAX;
	if (r < 0) {
		/* Unreadable (the user.* xattr needs read permission): the
		 * Unix permissions, which just refused the read, decide. */
		log_debug("security descriptor unreadable: %s", strerror(-r));
		return UINT32_MAX;
	}
	const struct acl_token *tok = lazy_token_get(lt);
	if (!tok) {
		sd_release(&s);
		return 0;
	}
	/* An SD without owner: the file's Unix owner is its owner. */
	struct acl_sid fallback = { 0 };
	struct stat st;
	if (!s.sd.owner && fstat(fd, &st) == 0) acl_sid_make(&fallback, 22, 2, (uint32_t[]){ 1, st.st_uid });
	uint32_t g = acl_granted(&s.sd, tok, fallback.len ? fallback.b : NULL, fallback.len);
	sd_release(&s);
	return g;
}

uint32_t smbd_sd_access_allowed(const struct smbd_session *s, int root_fd, const char *path, int fd)
{
	struct lazy_token lt = { .session = s };
	uint32_t granted = granted_by(fd, &lt);
	const uint32_t via_parent = DELETE | FILE_READ_ATTRIBUTES;
	if (granted != UINT32_MAX && (granted & via_parent) != via_parent && path && *path) {
		/* MS-FSA 2.1.5.1.2.1: DELETE also comes from the parent's
		 * FILE_DELETE_CHILD, FILE_READ_ATTRIBUTES from its
		 * FILE_LIST_DIRECTORY. */
		const char *base;
		int pfd = vfs_open_parent(root_fd, path, &base);
		if (pfd >= 0) {
			uint32_t pg = granted_by(pfd, &lt);
			close(pfd);
			if (pg & FILE_DELETE_CHILD) granted |= DELETE;
			if (pg & FILE_LIST_DIRECTORY) granted |= FILE_READ_ATTRIBUTES;
		}
	}
	lazy_token_free(&lt);
	return granted;
}

uint32_t smbd_sd_own_access(const struct smbd_session *s, int fd)
{
	struct lazy_token lt = { .session = s };
	uint32_t granted = granted_by(fd, &lt);
	lazy_token_free(&lt);
	return granted;
}

uint32_t smbd_sd_check_create(const struct smbd_session *s, int parent_fd, bool is_dir)
{
	struct lazy_token lt = { .session = s };
	uint32_t g = granted_by(parent_fd, &lt);
	lazy_token_free(&lt);
	uint32_t need = is_dir ? FILE_ADD_SUBDIRECTORY : FILE_ADD_FILE;
	return (g & need) == need ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
}

uint32_t smbd_sd_inherit(const struct smbd_session *s, int parent_fd, int fd, bool is_dir)
{
	struct stored_sd parent;
	int r = sd_load(parent_fd, &parent);
	if (r <= 0) return STATUS_SUCCESS;   /* a POSIX parent: the child stays POSIX too */
	/* The creator's SIDs: the user owns the new file, its primary group
	 * is the group (MS-DTYP 2.5.3.4: token owner and primary group). */
	struct acl_sid owner, group;
	struct stat st;
	if (s) {
		acl_sid_make(&owner, 22, 2, (uint32_t[]){ 1, (uint32_t)s->uid });
		acl_sid_make(&group, 22, 2, (uint32_t[]){ 2, (uint32_t)s->gid });
	} else if (fstat(fd, &st) == 0) {
		acl_sid_make(&owner, 22, 2, (uint32_t[]){ 1, st.st_uid });
		acl_sid_make(&group, 22, 2, (uint32_t[]){ 2, st.st_gid });
	} else {
		sd_release(&parent);
		return ntstatus_from_errno(errno);
	}
	struct wbuf w;
	wbuf_init(&w, 256);
	acl_sd_inherit(&w, &parent.sd, is_dir, &owner, &group);
	uint32_t status = STATUS_SUCCESS;
	if (w.err || w.len > SD_MAX) status = STATUS_NO_MEMORY;
	else if (sd_xattr_write(fd, w.p, w.len) < 0)
		status = errno == ENOTSUP ? STATUS_NOT_SUPPORTED : ntstatus_from_errno(errno);
	wbuf_free(&w);
	sd_release(&parent);
	return status;
}
