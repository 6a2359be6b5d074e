/* SMB2 CREATE (MS-SMB2 3.3.5.9): open or create a file, directory or named
 * pipe beneath the tree's share. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/acl.h"
#include "server/app_instance.h"
#include "server/durable.h"
#include "server/lease.h"
#include "server/security_desc.h"
#include "server/server.h"
#include "server/test_hook.h"
#include "server/vfs.h"
#include "wire/create.h"
#include "wire/fileinfo.h"

/* Bits of a desired access mask no file object defines (smbtorture
 * smb2.create.gentest: Windows denies each of them on its own). */
#define ACCESS_RESERVED_BITS 0x0ce0fe00u
/* Everything that modifies the file or its metadata: refused on
 * read-only shares. */
#define ACCESS_WRITE_BITS (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | \
			   DELETE | FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER)
/* CreateOptions bits Windows refuses with STATUS_NOT_SUPPORTED:
 * FILE_CREATE_TREE_CONNECTION (0x80), FILE_OPEN_BY_FILE_ID,
 * FILE_RESERVE_OPFILTER. */
#define CREATE_OPTIONS_NOT_SUPPORTED (0x00000080u | FILE_OPEN_BY_FILE_ID | FILE_RESERVE_OPFILTER)
#define CREATE_OPTIONS_INVALID 0xff000000u
/* FileAttributes Windows rejects on create: VOLUME (0x8), DEVICE (0x40),
 * INTEGRITY_STREAM and everything above 0xffff. */
#define CREATE_ATTRS_INVALID 0xffff8048u
/* The attributes a create stores (MS-FSA 2.1.5.1.2.1; gentest expects
 * (attrs | ARCHIVE) & 0x5127 plus NOT_CONTENT_INDEXED). */
#define CREATE_ATTRS_STORED (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | \
			     FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE | \
			     FILE_ATTRIBUTE_NOT_CONTENT_INDEXED | FILE_ATTRIBUTE_ENCRYPTED)

static uint32_t map_generic(uint32_t a)
{
	if (a & GENERIC_READ) a |= FILE_GENERIC_READ;
	if (a & GENERIC_WRITE) a |= FILE_GENERIC_WRITE;
	if (a & GENERIC_EXECUTE) a |= FILE_GENERIC_EXECUTE;
	if (a & GENERIC_ALL) a |= FILE_ALL_ACCESS;
	return a & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
}

/* The most access the caller's identity gets on an object it may read (r)
 * and/or write (w) by its Unix permissions (MS-SMB2 3.3.5.9 "maximal
 * access").  More Unix access never gives less: an answer computed with an
 * unknown permission taken as missing is a lower bound. */
static uint32_t unix_maximal_access(bool r, bool w, bool read_only_tree, uint32_t dos_attrs)
{
	uint32_t m = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
	if (r && w) m = FILE_ALL_ACCESS;
	else {
		if (r) m |= FILE_GENERIC_READ | FILE_GENERIC_EXECUTE;
		if (w) m |= FILE_GENERIC_WRITE | DELETE | FILE_DELETE_CHILD;
	}
	if (read_only_tree) m &= ~ACCESS_WRITE_BITS;
	/* A READONLY file cannot be written or appended to (MS-FSA 2.1.5.1.2.1). */
	if (dos_attrs & FILE_ATTRIBUTE_READONLY) m &= ~(FILE_WRITE_DATA | FILE_APPEND_DATA);
	return m;
}

static bool may_access(int fd, int how)
{
	return faccessat(fd, "", how, AT_EACCESS | AT_EMPTY_PATH) == 0;
}

/* The maximal access on the object behind fd, from the kernel's own
 * permission check under the impersonated fsuid. */
static uint32_t maximal_access_of(int fd, bool read_only_tree, uint32_t dos_attrs)
{
	bool r = may_access(fd, R_OK);
	bool w = may_access(fd, W_OK);
	return unix_maximal_access(r, w, read_only_tree, dos_attrs);
}

static struct smbd_open *open_alloc(struct smb2_request *req)
{
	struct smbd_open *o = calloc(1, sizeof(*o));
	if (!o) return NULL;
	atomic_init(&o->refcount, 1);
	list_init(&o->link);
	o->fd = -1;
	o->tree = req->tree;
	tree_get(o->tree);
	o->session = req->session;
	session_get(o->session);
	o->conn = req->conn;
	/* Open.ClientGuid (3.3.5.9: every open records it; durable
	 * reconnects and AppInstanceId compare it). */
	memcpy(o->client_guid, req->conn->client_guid, 16);
	if (req->create_guid) {
		o->has_create_guid = true;
		memcpy(o->create_guid, req->create_guid, 16);
		atomic_init(&o->replay_eligible, true);
	}
	return o;
}

/* Test hook, debug builds only: SMBKIT_TEST_GRANT_PAUSE_MS makes a CREATE
 * of a name beginning "grantpause" that was granted an oplock or lease
 * wait between the grant and publishing the open, the window in which
 * another client's CREATE breaks a grant that no connection can carry yet
 * (tests/stress/stress.py grant-break checks lease_open_published). */
static void test_pause_after_grant(const struct smbd_open *o, uint8_t granted_level)
{
#ifndef NDEBUG
	if (granted_level != SMB2_OPLOCK_LEVEL_NONE && o->path && !strncmp(o->path, "grantpause", 10))
		test_hook_pause("SMBKIT_TEST_GRANT_PAUSE_MS");
#else
	(void)o;
	(void)granted_level;
#endif
}

/* Test hook, debug builds only: SMBKIT_TEST_CREATE_PAUSE_MS makes the
 * first attempt of a CREATE of a name whose last component begins
 * "createrace" wait after its lookup found nothing and before it creates
 * the name, so that a test can create the name meanwhile
 * (tests/stress/stress.py create-race checks the second lookup). */
static void test_pause_before_create(const char *base, unsigned lookups)
{
#ifndef NDEBUG
	if (lookups == 0 && !strncmp(base, "createrace", 10)) test_hook_pause("SMBKIT_TEST_CREATE_PAUSE_MS");
#else
	(void)base;
	(void)lookups;
#endif
}

/* Publishes o, answers the request, and drops the creator's reference. */
static uint32_t finish(struct smb2_request *req, struct smbd_open *o, struct smb2_create_rsp *rsp)
{
	o->create_action = (uint8_t)rsp->create_action;
	if (open_table_insert(o) < 0) {
		bool df, ds;
		o->delete_on_close = false;
		lease_open_closed(o);
		inode_detach_open(o, &df, &ds);
		open_put(o);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	durable_published(o);
	/* A break that found o granted but unpublished (a CREATE of another
	 * client between lease_grant and here) reached nobody: it follows
	 * this answer, which still reports the level granted before it.  An
	 * open granted no caching has nothing to break (and skips the lock). */
	if (rsp->oplock_level != SMB2_OPLOCK_LEVEL_NONE) lease_open_published(o, false);
	rsp->persistent_id = o->persistent_id;
	rsp->volatile_id = o->volatile_id;
	smb2_req_set_related_fid(req, o->persistent_id, o->volatile_id);
	smb2_create_rsp_encode(req->out, req->out_hdr_off, rsp);
	log_debug("create %s -> fid %llu action %u", o->path ? o->path : "?",
		  (unsigned long long)o->volatile_id, rsp->create_action);
	open_put(o);
	return STATUS_SUCCESS;
}

static uint32_t create_pipe(struct smb2_request *req, const struct smb2_create_req *cr, const char *name)
{
	while (*name == '\\' || *name == '/') name++;
	uint32_t status = STATUS_OBJECT_NAME_NOT_FOUND;
	struct smbd_pipe *p = pipe_open(name, req->session, &status);
	if (!p) return status ? status : STATUS_OBJECT_NAME_NOT_FOUND;
	struct smbd_open *o = open_alloc(req);
	if (!o) {
		pipe_close(p);
		return STATUS_NO_MEMORY;
	}
	o->pipe = p;
	o->path = strdup(name);
	o->access = map_generic(cr->desired_access) & ~MAXIMUM_ALLOWED;
	if (cr->desired_access & MAXIMUM_ALLOWED) o->access |= FILE_GENERIC_READ | FILE_GENERIC_WRITE;
	o->share_access = cr->share_access;
	o->create_options = cr->create_options;
	struct smb2_create_rsp rsp = { .create_action = FILE_OPENED, .basics.file_attributes = FILE_ATTRIBUTE_NORMAL };
	return finish(req, o, &rsp);
}

static uint32_t status_from_neg_errno(int r)
{
	return ntstatus_from_errno(-r);
}

/* Most EAs one create or SET_INFO may carry (a 64 KiB buffer holds at most
 * about 7000 minimal entries). */
#define CREATE_MAX_EAS 8192

/* Stores a validated FILE_FULL_EA_INFORMATION list on fd: every name is
 * checked first, so a bad name changes nothing (MS-FSA 2.1.5.1.2.1). */
uint32_t smbd_apply_ea_list(int fd, const uint8_t *buf, size_t len)
{
	size_t n;
	uint32_t status = fileinfo_full_ea_decode(buf, len, NULL, CREATE_MAX_EAS, &n);
	if (status) return status;
	struct fileinfo_ea *eas = calloc(n ? n : 1, sizeof(*eas));
	if (!eas) return STATUS_NO_MEMORY;
	fileinfo_full_ea_decode(buf, len, eas, n, &n);
	for (size_t i = 0; i < n; i++) {
		if (!vfs_ea_name_valid(eas[i].name, eas[i].name_len)) {
			free(eas);
			return STATUS_INVALID_EA_NAME;
		}
	}
	for (size_t i = 0; i < n && !status; i++) {
		char name[VFS_EA_NAME_MAX + 1];
		memcpy(name, eas[i].name, eas[i].name_len);
		name[eas[i].name_len] = 0;
		int r = vfs_ea_set(fd, name, eas[i].flags & FILE_NEED_EA, eas[i].value, eas[i].value_len);
		if (r == -ENOSPC) status = STATUS_EA_TOO_LARGE;
		else if (r == -ENOTSUP) status = STATUS_EAS_NOT_SUPPORTED;
		else if (r < 0) status = ntstatus_from_errno(-r);
	}
	free(eas);
	return status;
}

/* ExtA and SecD contexts (2.2.13.2.1, 2.2.13.2.2) apply to a file this
 * create made or overwrote.  fd is the file (not a stream) to change. */
static uint32_t apply_create_contexts(struct smbd_open *o, int fd, uint32_t action,
				      const struct smb2_create_context *ext_a,
				      const struct smb2_create_context *sec_d)
{
	uint32_t status = STATUS_SUCCESS;
	if (ext_a) status = smbd_apply_ea_list(fd, ext_a->data, ext_a->data_len);
	if (!status && sec_d && action == FILE_CREATED) {
		/* smbd_sd_set works on o->fd; for a stream open that is the data
		 * file, so point it at the base for the call. */
		int saved = o->fd;
		o->fd = fd;
		struct acl_sd parts;
		uint32_t secinfo = 0;
		if (acl_sd_parse(sec_d->data, sec_d->data_len, &parts) == STATUS_SUCCESS) {
			if (parts.owner) secinfo |= OWNER_SECURITY_INFORMATION;
			if (parts.group) secinfo |= GROUP_SECURITY_INFORMATION;
			if (parts.control & SE_DACL_PRESENT) secinfo |= DACL_SECURITY_INFORMATION;
		}
		if (secinfo) status = smbd_sd_set(o, sec_d->data, sec_d->data_len, secinfo);
		o->fd = saved;
	}
	return status;
}

/* CREATE of "file:stream" (MS-FSCC 2.1.4): the base file is opened (or
 * created, as NTFS does when a stream of a missing file is created), then
 * the stream's data file in the stream directory (vfs.h). */
static uint32_t create_stream(struct smb2_request *req, const struct smb2_create_req *cr, const char *rel,
			      const char *stream, const struct smb2_create_context *ext_a,
			      const struct smb2_create_context *sec_d, bool q_mxac, bool q_qfid,
			      const struct lease_request *lr)
{
	struct smbd_tree *tree = req->tree;
	struct smbd_share *sh = tree->share;
	uint32_t disp = cr->create_disposition;
	char *actual = NULL, *sname = NULL;
	int bfd = -1, sfd = -1;
	bool base_created = false;
	struct smbd_open *o = NULL;
	uint32_t status;

	/* A stream is never a directory. */
	if (cr->create_options & FILE_DIRECTORY_FILE) return STATUS_NOT_A_DIRECTORY;
	uint32_t desired = map_generic(cr->desired_access);
	bool want_max = desired & MAXIMUM_ALLOWED;
	desired &= ~MAXIMUM_ALLOWED;

	int r = vfs_resolve(sh, rel, &actual);
	if (r < 0 && r != -ENOENT) {
		status = r == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND : status_from_neg_errno(r);
		goto out;
	}
	if (r == -ENOENT) {
		if (disp == FILE_OPEN || disp == FILE_OVERWRITE) {
			status = STATUS_OBJECT_NAME_NOT_FOUND;
			goto out;
		}
		if (tree->read_only) {
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		const char *base;
		int pfd = vfs_open_parent(sh->root_fd, actual, &base);
		if (pfd < 0) {
			status = pfd == -ENOENT || pfd == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND
								   : status_from_neg_errno(pfd);
			goto out;
		}
		status = smbd_sd_check_create(req->session, pfd, false);
		if (status) {
			close(pfd);
			goto out;
		}
		int fd = openat(pfd, base, O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0666);
		int e = errno;
		if (fd < 0) {
			close(pfd);
			status = e == EEXIST ? STATUS_OBJECT_NAME_COLLISION : ntstatus_from_errno(e);
			goto out;
		}
		vfs_set_dos_attributes(fd, (cr->file_attributes & CREATE_ATTRS_STORED) | FILE_ATTRIBUTE_ARCHIVE);
		vfs_set_times(fd, nt_time_now(), 0, 0, 0);
		status = smbd_sd_inherit(req->session, pfd, fd, false);
		if (status) unlinkat(pfd, base, 0);
		close(pfd);
		close(fd);
		if (status) goto out;
		base_created = true;
	}
	bfd = vfs_openat_beneath(sh->root_fd, actual, O_PATH, 0);
	if (bfd < 0) {
		status = status_from_neg_errno(bfd);
		goto out;
	}
	struct smb_file_stat bst;
	r = vfs_fstat(bfd, &bst);
	if (r < 0) {
		status = status_from_neg_errno(r);
		goto out;
	}
	if (!S_ISDIR(bst.mode) && !S_ISREG(bst.mode)) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	uint32_t maximal = maximal_access_of(bfd, tree->read_only, bst.attributes);
	if (!base_created) maximal &= smbd_sd_access_allowed(req->session, sh->root_fd, actual, bfd);
	bool truncate = disp == FILE_OVERWRITE || disp == FILE_OVERWRITE_IF || disp == FILE_SUPERSEDE;
	uint32_t needed = desired | (truncate ? FILE_WRITE_DATA : 0);
	if (needed & ~maximal & ~SYNCHRONIZE) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	if ((cr->create_options & FILE_DELETE_ON_CLOSE) && (bst.attributes & FILE_ATTRIBUTE_READONLY)) {
		status = STATUS_CANNOT_DELETE;
		goto out;
	}

	/* Open the stream: existing first, then create if the disposition
	 * allows; the data file is always opened read-write when the
	 * identity may, the handle's access mask is enforced by the
	 * READ/WRITE handlers. */
	uint32_t action = FILE_OPENED;
	sfd = vfs_stream_open(sh, bfd, stream, O_RDWR | O_NOCTTY, &sname);
	if (sfd == -EACCES) sfd = vfs_stream_open(sh, bfd, stream, O_RDONLY | O_NOCTTY, &sname);
	if (sfd >= 0) {
		if (disp == FILE_CREATE) {
			status = STATUS_OBJECT_NAME_COLLISION;
			goto out;
		}
		if (truncate) {
			if (tree->read_only) {
				status = STATUS_ACCESS_DENIED;
				goto out;
			}
			/* Truncated once the share modes allow the open (below). */
			action = disp == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
		}
	} else if (sfd == -ENOENT) {
		if (disp == FILE_OPEN || disp == FILE_OVERWRITE) {
			status = STATUS_OBJECT_NAME_NOT_FOUND;
			goto out;
		}
		if (tree->read_only) {
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		sfd = vfs_stream_open(sh, bfd, stream, O_RDWR | O_CREAT | O_EXCL | O_NOCTTY, &sname);
		if (sfd < 0) {
			status = sfd == -EEXIST ? STATUS_OBJECT_NAME_COLLISION : status_from_neg_errno(sfd);
			goto out;
		}
		action = FILE_CREATED;
	} else {
		status = sfd == -EINVAL ? STATUS_OBJECT_NAME_INVALID : status_from_neg_errno(sfd);
		goto out;
	}
	if (base_created) maximal = FILE_ALL_ACCESS;

	o = open_alloc(req);
	if (!o) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	size_t plen = strlen(actual) + 1 + strlen(sname) + 1;
	o->path = malloc(plen);
	if (!o->path) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	snprintf(o->path, plen, "%s:%s", actual, sname);
	o->fd = sfd;
	sfd = -1;
	o->is_dir = false;
	o->dev = (dev_t)bst.dev;
	o->ino = (ino_t)bst.file_id;
	o->access = desired | (want_max ? maximal : 0);
	o->share_access = cr->share_access;
	o->create_options = cr->create_options;
	o->oplock_level = SMB2_OPLOCK_LEVEL_NONE;
	o->delete_on_close = cr->create_options & FILE_DELETE_ON_CLOSE;

	/* The stream's own inode carries its share modes and delete-pending;
	 * the base file's carries the file's (a stream of a delete-pending
	 * file cannot be opened; deleting the file needs its stream opens to
	 * share delete).  MS-FSA 2.1.5.1.2. */
	{
		struct stat sfst;
		if (fstat(o->fd, &sfst) < 0) {
			status = ntstatus_from_errno(errno);
			goto out;
		}
		o->inode = inode_lookup(o->dev, o->ino, vfs_file_generation(bfd), NULL);
		if (o->inode) o->stream_inode = inode_lookup(sfst.st_dev, sfst.st_ino, vfs_file_generation(o->fd), o->inode);
		if (!o->inode || !o->stream_inode) {
			status = STATUS_NO_MEMORY;
			goto out;
		}
	}
	status = inode_attach_open(o);
	/* Oplock/lease breaks before the open goes on (lease.c). */
	if (status == STATUS_SHARING_VIOLATION &&
	    lease_create_breaks(req, o, lr, true, action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED,
				action != FILE_CREATED) == STATUS_PENDING)
		status = STATUS_PENDING;
	if (!status)
		status = lease_create_breaks(req, o, lr, false, action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED,
					     action != FILE_CREATED);
	if (status) goto out;
	if ((action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED) && ftruncate(o->fd, 0) < 0) {
		status = ntstatus_from_errno(errno);
		goto out;
	}

	if (base_created) {
		/* ExtA and SecD describe the file, which only now exists. */
		int wfd = vfs_openat_beneath(sh->root_fd, actual, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
		if (wfd >= 0) {
			status = apply_create_contexts(o, wfd, FILE_CREATED, ext_a, sec_d);
			close(wfd);
			if (status) goto out;
		}
		vfs_fstat(bfd, &bst);
	}

	struct smb_file_stat sst;
	r = vfs_fstat(o->fd, &sst);
	if (r < 0) {
		status = status_from_neg_errno(r);
		goto out;
	}
	struct lease_response lrsp;
	status = lease_grant(o, lr, &lrsp);
	if (status) goto out;
	struct smb2_create_rsp rsp = { 0 };
	rsp.oplock_level = lrsp.oplock_level;
	rsp.create_action = action;
	/* A stream reports the base file's times and attributes but its own
	 * sizes, and is never a directory. */
	smb_file_stat_as_stream(&bst, &sst);
	rsp.basics = smb_file_basics(&bst);

	struct smb2_create_context out_ctx[3];
	uint8_t mxac[8], qfid[32];
	unsigned nout = 0;
	if (q_mxac) {
		put_le32(mxac, STATUS_SUCCESS);
		put_le32(mxac + 4, maximal);
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"MxAc", 4, mxac, 8 };
	}
	if (lrsp.has_lease)
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"RqLs", 4, lrsp.ctx, (uint32_t)lrsp.ctx_len };
	if (q_qfid) {
		memset(qfid, 0, sizeof(qfid));
		put_le64(qfid, bst.file_id);
		put_le64(qfid + 8, bst.dev);
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"QFid", 4, qfid, 32 };
	}
	rsp.ctx = out_ctx;
	rsp.nctx = nout;
	status = finish(req, o, &rsp);
	o = NULL;
out:
	if (o) {
		bool df, ds;
		o->delete_on_close = false;
		lease_open_closed(o);
		inode_detach_open(o, &df, &ds);
		if (status && base_created && actual && inode_other_opens(o) != 0) base_created = false;
		open_put(o);
	}
	if (status && base_created && actual) vfs_unlink(sh, actual, 0);
	if (sfd >= 0) close(sfd);
	if (bfd >= 0) close(bfd);
	free(sname);
	free(actual);
	return status;
}

/* ---- an existing file or directory: the common CREATE (open, query, close)
 *
 * Its data fd is opened first, by name beneath the share, and everything
 * else is learnt through it: type, times and DOS attributes (vfs_fstat_ex),
 * the stored security descriptor, and as much of the Unix permissions as
 * the open itself proves.  That is one path walk, and xattrs read straight
 * from the fd rather than through /proc as an O_PATH fd needs.  The open
 * comes before the type is known, so it carries O_NONBLOCK: a FIFO in the
 * share must not block the worker in open(2); it is refused once the fstat
 * shows what it is.  Devices are not opened at all (names_device).  A data open the kernel refuses does not
 * end the CREATE yet: an O_PATH fd stands in, the checks Windows makes
 * first (name collision, file/directory mismatch, read-only attribute,
 * access) run on it, and the open's own error is the answer only where an
 * open is needed (settle_open_mode). */
struct existing_open {
	int fd;                /* owned by the caller once open_existing succeeds */
	int mode;              /* O_RDONLY, O_WRONLY, O_RDWR, or O_PATH */
	int data_err;          /* mode O_PATH: why the data open failed (-errno) */
	bool nonblock;         /* fd still carries O_NONBLOCK */
	bool foreign_xattrs;   /* xattrs beyond vfs's own: maybe a stored SD */
	struct smb_file_stat st;
};

/* Access that moves data through the fd (READ, WRITE, FLUSH, the FSCTLs
 * that read or zero data).  A handle without any of it only stats, reads
 * and sets metadata, renames or deletes by name, for which O_NONBLOCK
 * changes nothing. */
#define ACCESS_DATA_BITS (FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_EXECUTE)

/* Whether path names a character or block device.  O_NONBLOCK keeps a
 * FIFO's open from waiting, but nothing keeps a device's open from running
 * its driver (a watchdog arms, a tape rewinds), so a device is never opened
 * for data; only root can have put one in a share, and smbkitd serves none.
 * One statx by name, without RESOLVE_BENEATH: it is only a hint that picks
 * the O_PATH route, whose own walk is confined to the share; a name swapped
 * for a device between the two would need a device node on the share's own
 * file system. */
static bool names_device(int root_fd, const char *path)
{
	struct statx sx;
	if (!path[0]) return false;   /* the share root is a directory */
	if (statx(root_fd, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) < 0) return false;
	return S_ISCHR(sx.stx_mode) || S_ISBLK(sx.stx_mode);
}

/* Opens path (share-relative, on-disk spelling) the way a file open asking
 * for write (w) and/or read (rd) data access needs, or as a directory
 * (dir_hint: FILE_DIRECTORY_FILE), and stats it.  0, or -errno (-ENOENT:
 * nothing by that name; the same errors a lookup of the name gives). */
static int open_existing(int root_fd, const char *path, bool w, bool rd, bool dir_hint, struct existing_open *ex)
{
	int fd, mode = O_RDONLY;
	bool nonblock = false;
	if (dir_hint) {
		/* O_DIRECTORY opens nothing else: no need for O_NONBLOCK. */
		fd = vfs_openat_beneath(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
	} else if (names_device(root_fd, path)) {
		/* Never run a device driver's open for a client: the O_PATH
		 * stand-in below, and the type check refuses it. */
		fd = -EACCES;
	} else {
		const int fl = O_NOCTTY | O_NONBLOCK;
		mode = w ? O_RDWR : O_RDONLY;
		nonblock = true;
		fd = vfs_openat_beneath(root_fd, path, fl | mode, 0);
		if (fd == -EISDIR) {
			/* A directory: the kernel refuses a write open of one
			 * before checking any permission; directories are
			 * always opened read-only. */
			mode = O_RDONLY;
			nonblock = false;
			fd = vfs_openat_beneath(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
		} else if (fd == -EACCES && w && !rd) {
			mode = O_WRONLY;
			fd = vfs_openat_beneath(root_fd, path, fl | O_WRONLY, 0);
		}
	}
	if (fd == -ENOENT) return fd;
	ex->data_err = 0;
	if (fd < 0) {
		int pfd = vfs_openat_beneath(root_fd, path, O_PATH, 0);
		if (pfd < 0) return pfd;
		ex->data_err = fd;
		fd = pfd;
		mode = O_PATH;
		nonblock = false;
	}
	int r = vfs_fstat_ex(fd, &ex->st, &ex->foreign_xattrs);
	if (r < 0) {
		close(fd);
		return r;
	}
	ex->fd = fd;
	ex->mode = mode;
	ex->nonblock = nonblock;
	return 0;
}

/* The maximal access on an existing object (MS-SMB2 3.3.5.9), as far as
 * deciding whether `needed` is granted requires, or exactly when `exact`
 * (MAXIMUM_ALLOWED, or an MxAc context to answer).  A successful read or
 * write open proves that Unix permission; faccessat asks only for what it
 * did not prove, and only when the answer could change the decision.  The
 * stored SD restricts it (MS-FSA 2.1.5.1.2.1); a file whose xattrs are all
 * vfs's own has none, and its read is skipped. */
static uint32_t existing_maximal_access(const struct smbd_session *s, int root_fd, const char *path,
					const struct existing_open *ex, bool read_only_tree, uint32_t needed,
					bool exact)
{
	uint32_t sd_allowed = ex->foreign_xattrs ? smbd_sd_access_allowed(s, root_fd, path, ex->fd) : UINT32_MAX;
	bool r = ex->mode == O_RDONLY || ex->mode == O_RDWR;
	bool w = ex->mode == O_WRONLY || ex->mode == O_RDWR;
	uint32_t m = unix_maximal_access(r, w, read_only_tree, ex->st.attributes) & sd_allowed;
	if ((r && w) || (!exact && !(needed & ~m & ~SYNCHRONIZE))) return m;
	if (!r) r = may_access(ex->fd, R_OK);
	if (!w) w = may_access(ex->fd, W_OK);
	return unix_maximal_access(r, w, read_only_tree, ex->st.attributes) & sd_allowed;
}

/* Brings ex->fd to the open mode the granted access needs: the rules of a
 * file open (read-write or read-only; write-only when only writing and the
 * read is refused; O_PATH when neither data access is wanted and the read
 * is refused) and of a directory open (read-only; O_PATH when listing is
 * not wanted and refused).  open_existing followed them for the access
 * the request named; MAXIMUM_ALLOWED may have added more, and then the
 * same inode is opened again in the right mode.  An NTSTATUS. */
static uint32_t settle_open_mode(struct existing_open *ex, uint32_t granted, bool truncate, bool opened_w,
				 bool opened_rd)
{
	if (ex->st.is_dir) {
		if (ex->mode == O_PATH && !(ex->data_err == -EACCES && !(granted & FILE_LIST_DIRECTORY)))
			return status_from_neg_errno(ex->data_err);
		return STATUS_SUCCESS;
	}
	bool w = (granted & (FILE_WRITE_DATA | FILE_APPEND_DATA)) || truncate;
	bool rd = granted & (FILE_READ_DATA | FILE_EXECUTE);
	/* The first choice succeeded, or the same rules were followed. */
	bool settled = ex->mode == (w ? O_RDWR : O_RDONLY) || (w == opened_w && rd == opened_rd);
	if (!settled) {
		/* The type is known now (a regular file): no O_NONBLOCK. */
		int nfd = vfs_reopen(ex->fd, (w ? O_RDWR : O_RDONLY) | O_NOCTTY);
		if (nfd == -EACCES && w && !rd) nfd = vfs_reopen(ex->fd, O_WRONLY | O_NOCTTY);
		if (nfd == -EACCES && !w && !rd) nfd = vfs_reopen(ex->fd, O_PATH);
		if (nfd < 0) return status_from_neg_errno(nfd);
		close(ex->fd);
		ex->fd = nfd;
		ex->nonblock = false;
		return STATUS_SUCCESS;
	}
	if (ex->mode == O_PATH && !(ex->data_err == -EACCES && !w && !rd))
		return status_from_neg_errno(ex->data_err);
	/* A handle that moves data gets a blocking fd, as any other file
	 * open; the open set no other status flag (O_APPEND, O_DIRECT,
	 * O_NOATIME), so F_SETFL 0 clears O_NONBLOCK alone. */
	if (ex->nonblock && (granted & ACCESS_DATA_BITS) && fcntl(ex->fd, F_SETFL, 0) == 0) ex->nonblock = false;
	return STATUS_SUCCESS;
}

uint32_t smb2_create(struct smb2_request *req)
{
	struct smb2_create_req *cr = malloc(sizeof(*cr));
	if (!cr) return STATUS_NO_MEMORY;
	uint32_t status = smb2_create_req_decode(req->msg, req->msg_len, cr);
	char *uname = NULL, *rel = NULL, *actual = NULL, *fpart = NULL, *stream = NULL;
	struct smbd_open *o = NULL;
	bool created_here = false;
	int pfd = -1, fd = -1;
	if (status) goto out;
	struct smbd_tree *tree = req->tree;
	if (!tree || !req->session) {
		status = STATUS_NETWORK_NAME_DELETED;
		goto out;
	}
	struct smbd_share *sh = tree->share;

	/* ---- durable handles (durable.c) ---- */
	struct durable_request dreq;
	status = durable_parse(req, cr, &dreq);
	if (status) goto out;
	/* Every open this CREATE makes records the DH2Q's CreateGuid, durable
	 * or not (3.3.5.9.10); a wait for a break remembers it too (lease.c). */
	req->create_guid = dreq.request == 2 ? dreq.create_guid : NULL;
	if (dreq.reconnect && !sh->ipc) {
		/* 3.3.5.9.7 / 3.3.5.9.12: the open exists; no validation of
		 * the request's path or access, no open execution. */
		/* The lease context names the lease to reclaim, whatever
		 * RequestedOplockLevel says. */
		const struct smb2_create_context *rqls = smb2_create_find_context(cr, SMB2_CREATE_REQUEST_LEASE);
		struct lease_request rlreq;
		lease_request_parse(req->conn, rqls ? SMB2_OPLOCK_LEVEL_LEASE : cr->requested_oplock_level, rqls,
				    &rlreq);
		status = durable_reconnect(req, cr, &dreq, &rlreq);
		goto out;
	}

	/* ---- request validation (MS-SMB2 3.3.5.9, gentest results) ---- */
	if (cr->impersonation_level > 3) {
		status = STATUS_BAD_IMPERSONATION_LEVEL;
		goto out;
	}
	if (cr->create_options & CREATE_OPTIONS_INVALID) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	if (cr->create_options & CREATE_OPTIONS_NOT_SUPPORTED) {
		status = STATUS_NOT_SUPPORTED;
		goto out;
	}
	/* Access is checked before attributes (gentest: reserved access bits
	 * with an invalid attribute give ACCESS_DENIED). */
	/* A zero mask is refused; SYNCHRONIZE alone is a valid (if nearly
	 * useless) open that Windows grants (smb2.getinfo.getinfo_access). */
	if (cr->desired_access & ACCESS_RESERVED_BITS || cr->desired_access == 0) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	if (cr->desired_access & ACCESS_SYSTEM_SECURITY) {
		status = STATUS_PRIVILEGE_NOT_HELD;
		goto out;
	}
	if (cr->create_disposition > FILE_OVERWRITE_IF || cr->share_access & ~FILE_SHARE_VALID ||
	    cr->file_attributes & CREATE_ATTRS_INVALID) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	if ((cr->create_options & (FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE)) ==
	    (FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE)) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	uint32_t desired = map_generic(cr->desired_access);
	bool want_max = desired & MAXIMUM_ALLOWED;
	desired &= ~MAXIMUM_ALLOWED;
	/* MS-SMB2 3.3.5.9: FILE_DELETE_ON_CLOSE without DELETE (or
	 * GENERIC_ALL, mapped above) is refused with ACCESS_DENIED. */
	if ((cr->create_options & FILE_DELETE_ON_CLOSE) && !(desired & DELETE) && !want_max) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	if ((cr->create_options & FILE_DIRECTORY_FILE) && cr->create_disposition != FILE_CREATE &&
	    cr->create_disposition != FILE_OPEN && cr->create_disposition != FILE_OPEN_IF) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}

	/* ---- name ---- */
	if (cr->name_len) {
		uname = utf16le_to_utf8(cr->name, cr->name_len, NULL);
		if (!uname) {
			status = STATUS_OBJECT_NAME_INVALID;
			goto out;
		}
	} else {
		uname = strdup("");
		if (!uname) {
			status = STATUS_NO_MEMORY;
			goto out;
		}
	}
	if (sh->ipc) {
		status = create_pipe(req, cr, uname);
		goto out;
	}
	/* 3.3.5.9: a name starting with a separator is invalid. */
	if (uname[0] == '\\' || uname[0] == '/') {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}

	/* ---- create contexts ---- */
	bool q_mxac = false, q_qfid = false;
	uint64_t alloc_size = 0;
	const struct smb2_create_context *ext_a = NULL, *sec_d = NULL, *lease_ctx = NULL;
	const uint8_t *app_instance = NULL;
	for (unsigned i = 0; i < cr->nctx; i++) {
		const struct smb2_create_context *c = &cr->ctx[i];
		if (c->name_len == 16 && !memcmp(c->name, SMB2_CREATE_APP_INSTANCE_ID, 16) &&
		    req->conn->dialect >= SMB2_DIALECT_300) {
			/* 2.2.13.2.13; 3.3.5.9.13 applies to SMB 3.x only. */
			if (c->data_len < SMB2_CREATE_APP_INSTANCE_ID_SIZE || get_le16(c->data) != 20) {
				status = STATUS_INVALID_PARAMETER;
				goto out;
			}
			app_instance = c->data + 4;
			continue;
		}
		if (c->name_len != 4) continue;  /* unknown longer tags are ignored */
		if (!memcmp(c->name, SMB2_CREATE_QUERY_MAXIMAL_ACCESS, 4)) {
			/* Optional 8-byte timestamp (2.2.13.2.5). */
			if (c->data_len != 0 && c->data_len != 8) {
				status = STATUS_INVALID_PARAMETER;
				goto out;
			}
			q_mxac = true;
		} else if (!memcmp(c->name, SMB2_CREATE_QUERY_ON_DISK_ID, 4)) {
			q_qfid = true;
		} else if (!memcmp(c->name, SMB2_CREATE_ALLOCATION_SIZE, 4)) {
			if (c->data_len != 8) {
				status = STATUS_INVALID_PARAMETER;
				goto out;
			}
			alloc_size = get_le64(c->data);
		} else if (!memcmp(c->name, SMB2_CREATE_TIMEWARP_TOKEN, 4)) {
			/* No snapshots: a previous version never exists. */
			if (c->data_len != 8) {
				status = STATUS_INVALID_PARAMETER;
				goto out;
			}
			status = STATUS_OBJECT_NAME_NOT_FOUND;
			goto out;
		} else if (!memcmp(c->name, SMB2_CREATE_EA_BUFFER, 4)) {
			/* 2.2.13.2.1: a FILE_FULL_EA_INFORMATION list applied to
			 * the file created; validated before anything is created. */
			size_t nea;
			status = fileinfo_full_ea_decode(c->data, c->data_len, NULL, CREATE_MAX_EAS, &nea);
			if (status) goto out;
			ext_a = c;
		} else if (!memcmp(c->name, SMB2_CREATE_SD_BUFFER, 4)) {
			/* 2.2.13.2.2: a self-relative SD for the new file. */
			struct acl_sd parts;
			status = acl_sd_parse(c->data, c->data_len, &parts);
			if (status) goto out;
			sec_d = c;
		} else if (!memcmp(c->name, SMB2_CREATE_REQUEST_LEASE, 4)) {
			lease_ctx = c;   /* decoded by lease_request_parse below */
		}
		/* DHnQ, DH2Q, ...: accepted and not granted,
		 * as Windows does when it cannot honour them. */
	}

	struct lease_request lreq;
	lease_request_parse(req->conn, cr->requested_oplock_level, lease_ctx, &lreq);

	/* A replay is recognised when it arrives; a CREATE that runs again
	 * after waiting for a break is the same request going on, not a
	 * replay (Windows: smb2.replay.dhv2-pending1n-vs-violation-*). */
	if (!lease_resuming(req) && durable_replay(req, &dreq, &lreq, &status)) goto out;

	status = vfs_split_stream(uname, &fpart, &stream);
	if (status) goto out;
	status = vfs_normalize_path(fpart, &rel);
	if (status) goto out;
	bool explicit_data = false;
	if (stream && !*stream) {
		explicit_data = true;
		free(stream);
		stream = NULL;
	}
	if (stream) {
		status = create_stream(req, cr, rel, stream, ext_a, sec_d, q_mxac, q_qfid, &lreq);
		goto out;
	}

	/* ---- look the name up: an existing object is opened right away ---- */
	uint32_t disp = cr->create_disposition;
	bool truncate = disp == FILE_OVERWRITE || disp == FILE_OVERWRITE_IF || disp == FILE_SUPERSEDE;
	/* The data access the request itself asks for (MAXIMUM_ALLOWED may
	 * add to it below).  A read-only tree refuses every write open before
	 * the mode matters, so it never opens for write. */
	bool want_w = ((desired & (FILE_WRITE_DATA | FILE_APPEND_DATA)) || truncate) && !tree->read_only;
	bool want_rd = desired & (FILE_READ_DATA | FILE_EXECUTE);
	bool dir_hint = cr->create_options & FILE_DIRECTORY_FILE;
	/* How many times the name was looked up: see the EEXIST below. */
	unsigned lookups = 0;
lookup:;
	struct existing_open ex;
	int r = open_existing(sh->root_fd, rel, want_w, want_rd, dir_hint, &ex);
	if (r == -ENOENT) {
		/* Not under this spelling: a case-insensitive share looks for
		 * another (its on-disk name, or the parent to create in). */
		r = vfs_resolve_after_miss(sh, rel, &actual);
		if (r == 0) {
			r = open_existing(sh->root_fd, actual, want_w, want_rd, dir_hint, &ex);
			if (r == -ENOENT) {
				/* Listed in its directory, yet no open reaches
				 * it (a dangling symlink): not found, whatever
				 * the disposition. */
				status = status_from_neg_errno(r);
				goto out;
			}
		}
	} else if (r == 0) {
		actual = rel;
		rel = NULL;
	}
	if (r < 0 && r != -ENOENT) {
		status = r == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND : status_from_neg_errno(r);
		goto out;
	}
	bool exists = r == 0;
	struct smb2_create_rsp rsp = { 0 };
	struct smb_file_stat st;
	uint32_t maximal;
	bool is_dir;
	uint32_t action;

	if (exists) {
		fd = ex.fd;
		st = ex.st;
		if (!S_ISDIR(st.mode) && !S_ISREG(st.mode)) {
			/* FIFOs, devices, sockets, dangling links: not served
			 * (the O_NONBLOCK open did not wait for a FIFO's writer). */
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		is_dir = st.is_dir;
		if (is_dir && explicit_data) {
			/* "dir::$DATA": a directory has no data stream. */
			status = (cr->create_options & FILE_DIRECTORY_FILE) ? STATUS_NOT_A_DIRECTORY
									   : STATUS_FILE_IS_A_DIRECTORY;
			goto out;
		}
		if (disp == FILE_CREATE) {
			status = STATUS_OBJECT_NAME_COLLISION;
			goto out;
		}
		if (is_dir && (cr->create_options & FILE_NON_DIRECTORY_FILE)) {
			status = STATUS_FILE_IS_A_DIRECTORY;
			goto out;
		}
		if (!is_dir && (cr->create_options & FILE_DIRECTORY_FILE)) {
			status = STATUS_NOT_A_DIRECTORY;
			goto out;
		}
		if (is_dir && truncate) {
			status = STATUS_INVALID_PARAMETER;
			goto out;
		}
		if (st.attributes & FILE_ATTRIBUTE_READONLY) {
			if (cr->create_options & FILE_DELETE_ON_CLOSE) {
				status = STATUS_CANNOT_DELETE;
				goto out;
			}
			if (truncate || (desired & (FILE_WRITE_DATA | FILE_APPEND_DATA))) {
				status = STATUS_ACCESS_DENIED;
				goto out;
			}
		}
		if (tree->read_only && (truncate || (desired & ACCESS_WRITE_BITS))) {
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		/* Overwriting needs write access whatever was asked for. */
		uint32_t needed = desired | (truncate ? FILE_WRITE_DATA : 0);
		maximal = existing_maximal_access(req->session, sh->root_fd, actual, &ex, tree->read_only, needed,
						  want_max || q_mxac);
		if (needed & ~maximal & ~SYNCHRONIZE) {
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		uint32_t granted = desired | (want_max ? maximal : 0);
		status = settle_open_mode(&ex, granted, truncate, want_w, want_rd);
		fd = ex.fd;
		if (status) goto out;
		action = FILE_OPENED;
		/* The truncation waits until the share modes allow this open
		 * (below): a refused open must not have destroyed the data. */
		if (truncate) action = disp == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
		desired = granted;
	} else {
		const char *base;
		pfd = vfs_open_parent(sh->root_fd, actual, &base);
		if (pfd < 0) {
			status = pfd == -ENOENT || pfd == -ENOTDIR ? STATUS_OBJECT_PATH_NOT_FOUND
								   : status_from_neg_errno(pfd);
			goto out;
		}
		if (cr->create_disposition == FILE_OPEN || cr->create_disposition == FILE_OVERWRITE) {
			status = STATUS_OBJECT_NAME_NOT_FOUND;
			goto out;
		}
		if (tree->read_only) {
			status = STATUS_ACCESS_DENIED;
			goto out;
		}
		is_dir = cr->create_options & FILE_DIRECTORY_FILE;
		uint32_t attrs = cr->file_attributes & CREATE_ATTRS_STORED;
		/* MS-FSA 2.1.5.1.1: a new read-only file cannot be delete-on-close. */
		if ((attrs & FILE_ATTRIBUTE_READONLY) && (cr->create_options & FILE_DELETE_ON_CLOSE)) {
			status = STATUS_CANNOT_DELETE;
			goto out;
		}
		status = smbd_sd_check_create(req->session, pfd, is_dir);
		if (status) goto out;
		test_pause_before_create(base, lookups);
		/* pfd is an O_PATH directory fd, which the *at calls accept. */
		if (is_dir) {
			if (mkdirat(pfd, base, 0777) < 0) {
				/* EEXIST goes through the same retry as a file's
				 * O_EXCL below. */
				fd = -1;
			} else {
				fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			}
		} else {
			attrs |= FILE_ATTRIBUTE_ARCHIVE;
			/* O_EXCL never follows a symlink in the last component. */
			fd = openat(pfd, base, O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0666);
		}
		if (fd < 0) {
			int e = errno;
			/* Another client created the name since the lookup.
			 * Only FILE_CREATE fails then (MS-FSA 2.1.5.1.1);
			 * OPEN_IF, OVERWRITE_IF and SUPERSEDE open what is
			 * there now, as if it had been there all along: look
			 * again (it could go again just as fast, hence the
			 * bound). */
			if (e == EEXIST && disp != FILE_CREATE && ++lookups < 4) {
				close(pfd);
				pfd = -1;
				free(actual);
				actual = NULL;
				goto lookup;
			}
			status = e == EEXIST ? STATUS_OBJECT_NAME_COLLISION : ntstatus_from_errno(e);
			goto out;
		}
		vfs_note_created_at(pfd, base);
		if (attrs) vfs_set_dos_attributes(fd, attrs);
		vfs_set_times(fd, nt_time_now(), 0, 0, 0);
		status = smbd_sd_inherit(req->session, pfd, fd, is_dir);
		if (status) {
			unlinkat(pfd, base, is_dir ? AT_REMOVEDIR : 0);
			goto out;
		}
		action = FILE_CREATED;
		created_here = true;
		maximal = FILE_ALL_ACCESS;
		desired |= want_max ? maximal : 0;
		r = vfs_fstat(fd, &st);
		if (r < 0) {
			status = status_from_neg_errno(r);
			goto out;
		}
	}

	o = open_alloc(req);
	if (!o) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	o->fd = fd;
	fd = -1;
	o->path = actual;
	actual = NULL;
	o->is_dir = is_dir;
	o->dev = (dev_t)st.dev;
	o->ino = (ino_t)st.file_id;
	o->access = desired;
	o->share_access = cr->share_access;
	o->create_options = cr->create_options;
	o->oplock_level = SMB2_OPLOCK_LEVEL_NONE;
	o->delete_on_close = cr->create_options & FILE_DELETE_ON_CLOSE;
	if (cr->create_options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT | FILE_WRITE_THROUGH |
				  FILE_SEQUENTIAL_ONLY | FILE_NO_INTERMEDIATE_BUFFERING))
		o->mode = cr->create_options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT |
						FILE_WRITE_THROUGH | FILE_SEQUENTIAL_ONLY |
						FILE_NO_INTERMEDIATE_BUFFERING);

	/* Share modes and delete-pending (MS-FSA 2.1.5.1.2): the open joins
	 * its inode's list, or the create fails without having changed the
	 * file.  A file created here can still meet another open (a racing
	 * CREATE that found the new name), so it is checked too. */
	o->inode = inode_lookup(o->dev, o->ino, vfs_file_generation(o->fd), NULL);
	if (!o->inode) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	/* An open this application instance left behind (on another client)
	 * is closed first (3.3.5.9.13); the CREATE may wait for that. */
	if (app_instance) {
		o->has_app_instance = true;
		memcpy(o->app_instance_id, app_instance, 16);
		status = app_instance_close_previous(req, o);
		if (status) goto out;
	}
	status = inode_attach_open(o);
	/* Oplocks and leases the new open conflicts with are broken first;
	 * the CREATE may wait (asynchronously) for the acknowledgements and
	 * then runs again (lease.c, MS-FSA 2.1.5.1.2). */
	{
		bool overwrite = action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED;
		if (status == STATUS_SHARING_VIOLATION &&
		    lease_create_breaks(req, o, &lreq, true, overwrite, !created_here) == STATUS_PENDING)
			status = STATUS_PENDING;
		if (!status) status = lease_create_breaks(req, o, &lreq, false, overwrite, !created_here);
	}
	if (status) goto out;

	if (action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED) {
		if (ftruncate(o->fd, 0) < 0) {
			status = ntstatus_from_errno(errno);
			goto out;
		}
		/* MS-FSA 2.1.5.1.2.1: overwrite replaces the attributes. */
		vfs_set_dos_attributes(o->fd, (cr->file_attributes & CREATE_ATTRS_STORED) | FILE_ATTRIBUTE_ARCHIVE);
	}
	if (!is_dir && alloc_size && action != FILE_OPENED) {
		/* AllocationSize (2.2.13.2.6): reserve space, size unchanged. */
		if (fallocate(o->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)alloc_size) < 0)
			log_debug("fallocate %llu failed: errno %d", (unsigned long long)alloc_size, errno);
	}

	if (action != FILE_OPENED) {
		status = apply_create_contexts(o, o->fd, action, ext_a, sec_d);
		if (status) goto out;
		vfs_fstat(o->fd, &st);
	}

	struct lease_response lrsp;
	status = lease_grant(o, &lreq, &lrsp);
	if (status) goto out;
	test_pause_after_grant(o, lrsp.oplock_level);
	rsp.oplock_level = lrsp.oplock_level;
	rsp.create_action = action;
	rsp.basics = smb_file_basics(&st);

	struct smb2_create_context out_ctx[4];
	uint8_t mxac[8], qfid[32];
	unsigned nout = 0;
	if (q_mxac) {
		put_le32(mxac, STATUS_SUCCESS);
		put_le32(mxac + 4, maximal);
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"MxAc", 4, mxac, 8 };
	}
	if (lrsp.has_lease)
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"RqLs", 4, lrsp.ctx, (uint32_t)lrsp.ctx_len };
	durable_grant(req, o, &dreq, &lrsp, out_ctx, &nout);
	if (q_qfid) {
		/* 2.2.14.2.9: DiskFileId (8) VolumeId (8) Reserved (16). */
		memset(qfid, 0, sizeof(qfid));
		put_le64(qfid, st.file_id);
		put_le64(qfid + 8, st.dev);
		out_ctx[nout++] = (struct smb2_create_context){ (const uint8_t *)"QFid", 4, qfid, 32 };
	}
	rsp.ctx = out_ctx;
	rsp.nctx = nout;
	/* A new name (or new contents) in a directory: its leases break. */
	if (action != FILE_OPENED) lease_break_parent(o, o->path);
	status = finish(req, o, &rsp);
	o = NULL;
out:
	req->create_guid = NULL;
	if (status != STATUS_SUCCESS)
		log_debug("create '%s' disp %u opts 0x%x access 0x%x: %s", uname ? uname : "?",
			  cr->create_disposition, cr->create_options, cr->desired_access, ntstatus_name(status));
	if (o) {
		/* Built but never published: leave the inode, then undo a
		 * create we made (only if no other open found it meanwhile). */
		bool df, ds;
		o->delete_on_close = false;
		lease_open_closed(o);
		inode_detach_open(o, &df, &ds);
		if (created_here && o->path && (!o->inode || inode_other_opens(o) == 0))
			vfs_unlink(req->tree->share, o->path, o->is_dir ? AT_REMOVEDIR : 0);
		open_put(o);
	}
	if (fd >= 0) close(fd);
	if (pfd >= 0) close(pfd);
	free(actual);
	free(rel);
	free(uname);
	free(fpart);
	free(stream);
	free(cr);
	return status;
}
