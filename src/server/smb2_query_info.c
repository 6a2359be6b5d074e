/* SMB2 QUERY_INFO (MS-SMB2 3.3.5.20): file, file system and security
 * information about an open.
 *
 * Every class is first encoded in full into a scratch buffer by the pure
 * encoders of wire/fileinfo.c; only then is the client's OutputBufferLength
 * applied (3.3.5.20.1, MS-FSA 2.1.5.11/12):
 *  - shorter than the class's fixed structure: STATUS_INFO_LENGTH_MISMATCH;
 *  - long enough for the fixed part but not for a variable tail (names,
 *    streams): the truncated body with STATUS_BUFFER_OVERFLOW;
 *  - security descriptors that do not fit: STATUS_BUFFER_TOO_SMALL with the
 *    needed size in the error data (3.3.5.20.3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <unistd.h>

#include "server/security_desc.h"
#include "server/server.h"
#include "server/vfs.h"
#include "wire/fileinfo.h"
#include "wire/query_info.h"

/* "\dir\file" for FileNameInformation / FileAllInformation: Windows reports
 * the path from the share root with a leading backslash. */
static char *windows_path(const char *rel, bool leading_backslash)
{
	size_t n = strlen(rel);
	char *s = malloc(n + 2);
	if (!s) return NULL;
	size_t o = 0;
	if (leading_backslash) s[o++] = '\\';
	for (size_t i = 0; i < n; i++) s[o++] = rel[i] == '/' ? '\\' : rel[i];
	s[o] = 0;
	return s;
}

static void fill_fileinfo_stat(struct fileinfo_stat *fs, const struct smb_file_stat *st,
			       const struct smbd_open *o)
{
	memset(fs, 0, sizeof(*fs));
	fs->creation_time = st->creation_time;
	fs->last_access_time = st->last_access_time;
	fs->last_write_time = st->last_write_time;
	fs->change_time = st->change_time;
	fs->is_dir = st->is_dir;
	/* Directories have no data stream: Windows reports 0 sizes for them. */
	fs->allocation_size = st->is_dir ? 0 : st->allocation_size;
	fs->end_of_file = st->is_dir ? 0 : st->end_of_file;
	fs->attributes = st->attributes;
	/* Windows counts a directory once, and a delete-pending name as
	 * already gone (NumberOfLinks drops by one, MS-FSA 2.1.5.11.27). */
	fs->nlink = st->is_dir ? 1 : st->nlink;
	/* Delete-pending is the file's (or stream's) state, set through any
	 * handle (inode.c); this handle's own FILE_DELETE_ON_CLOSE counts too. */
	bool pending = o->delete_on_close || (o->inode && open_delete_pending(o));
	if (pending && fs->nlink > 0) fs->nlink--;
	fs->delete_pending = pending;
	fs->file_id = st->file_id;
	fs->ea_size = 0;
	fs->access_flags = o->access;
	fs->position = o->position;
	fs->mode = o->mode;
	fs->alignment = 0;          /* FILE_BYTE_ALIGNMENT */
}

/* Access a class needs on the handle (MS-FSA 2.1.5.11: only the classes
 * that expose timestamps/attributes and EAs check access; names, sizes,
 * positions and the like are free). */
static uint32_t file_class_access(uint8_t c)
{
	switch (c) {
	case FSCC_FILE_BASIC_INFORMATION:
	case FSCC_FILE_ALL_INFORMATION:
	case FSCC_FILE_NETWORK_OPEN_INFORMATION:
	case FSCC_FILE_ATTRIBUTE_TAG_INFORMATION:
		return FILE_READ_ATTRIBUTES;
	case FSCC_FILE_FULL_EA_INFORMATION:
		return FILE_READ_EA;
	default:
		return 0;
	}
}

static uint32_t query_file_class(struct smb2_request *req, struct smbd_open *o,
				 const struct smb2_query_info_req *q, struct wbuf *w, struct fileinfo_stat *fsp,
				 int bfd, const struct vfs_ea *eas, size_t neas);

static uint32_t query_file(struct smb2_request *req, struct smbd_open *o,
			   const struct smb2_query_info_req *q, struct wbuf *w)
{
	uint8_t c = q->file_info_class;
	uint32_t need = file_class_access(c);
	if (need && !(o->access & need)) return STATUS_ACCESS_DENIED;

	if (o->pipe) {
		/* Named pipes: clients only ask the standard class (to learn it is
		 * not a directory); answer it with an empty pipe. */
		if (c != FSCC_FILE_STANDARD_INFORMATION) return STATUS_NOT_SUPPORTED;
		struct fileinfo_stat ps = { .nlink = 1, .allocation_size = 4096,
					    .delete_pending = o->delete_on_close };
		fileinfo_standard_encode(w, &ps);
		return STATUS_SUCCESS;
	}

	/* Times, attributes, ids and EAs belong to the file; a stream open
	 * only brings its own sizes.  A plain open is asked through its own
	 * fd: synchronous handlers run with a reference on the open, which
	 * keeps o->fd open (a dup + close per QUERY_INFO was two syscalls of
	 * the ~10 a CREATE/QUERY_INFO/CLOSE costs). */
	bool is_stream = open_stream_name(o) != NULL;
	int bfd = is_stream ? open_base_fd(o) : o->fd;
	if (bfd < 0) return ntstatus_from_errno(-bfd);
	struct smb_file_stat st;
	int r = open_fstat_at(o, bfd, &st);
	if (r < 0) {
		if (is_stream) close(bfd);
		return ntstatus_from_errno(-r);
	}
	struct fileinfo_stat fs;
	fill_fileinfo_stat(&fs, &st, o);
	struct vfs_ea *eas = NULL;
	size_t neas = 0;
	/* vfs_fstat listed the file's xattrs: no EA among them, no second
	 * listing. */
	if (st.may_have_eas && vfs_ea_list(bfd, &eas, &neas) == 0) fs.ea_size = vfs_ea_size(eas, neas);
	uint32_t status = query_file_class(req, o, q, w, &fs, bfd, eas, neas);
	vfs_ea_free(eas, neas);
	if (is_stream) close(bfd);
	return status;
}

/* FileStreamInformation (MS-FSCC 2.4.43): the default stream of a file,
 * then its named streams. */
static uint32_t query_streams(struct smbd_open *o, struct wbuf *w, const struct fileinfo_stat *fs, int bfd)
{
	struct vfs_stream_info *si = NULL;
	size_t n = 0;
	int r = vfs_stream_list(o->tree->share, bfd, &si, &n);
	if (r < 0) return ntstatus_from_errno(-r);
	struct fileinfo_stream *e = calloc(n + 1, sizeof(*e));
	char **names = calloc(n + 1, sizeof(*names));
	uint32_t status = STATUS_SUCCESS;
	size_t k = 0;
	if (!e || !names) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	/* fs holds the base file's sizes and type unless this is a stream
	 * open (which reports its own sizes, and never a directory). */
	bool has_default_stream = !fs->is_dir;
	uint64_t eof = fs->end_of_file, alloc = fs->allocation_size;
	if (open_stream_name(o)) {
		struct smb_file_stat bst;
		if (vfs_fstat(bfd, &bst) < 0) bst = (struct smb_file_stat){ 0 };
		has_default_stream = !bst.is_dir;
		eof = bst.end_of_file;
		alloc = bst.allocation_size;
	}
	if (has_default_stream) e[k++] = (struct fileinfo_stream){ "::$DATA", eof, alloc };
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(si[i].name) + 8;
		names[i] = malloc(len);
		if (!names[i]) {
			status = STATUS_NO_MEMORY;
			goto out;
		}
		snprintf(names[i], len, ":%s:$DATA", si[i].name);
		e[k++] = (struct fileinfo_stream){ names[i], si[i].size, si[i].alloc };
	}
	if (fileinfo_streams_encode(w, e, k) < 0) status = STATUS_OBJECT_NAME_INVALID;
out:
	for (size_t i = 0; names && i < n; i++) free(names[i]);
	free(names);
	free(e);
	vfs_stream_list_free(si, n);
	return status;
}

/* FileFullEaInformation (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.11.12).  With a
 * FILE_GET_EA_INFORMATION list in the input buffer exactly those EAs are
 * returned (missing ones with an empty value); otherwise the file's EAs are
 * enumerated from the start, or from EaIndex (1-based) with
 * SL_INDEX_SPECIFIED.  The open keeps no enumeration cursor yet, so a query
 * without SL_RESTART_SCAN starts over as well.  Whole entries only: none
 * fits gives STATUS_BUFFER_TOO_SMALL, some gives STATUS_BUFFER_OVERFLOW. */
static uint32_t query_full_ea(const struct smb2_query_info_req *q, struct wbuf *w, const struct vfs_ea *eas,
			      size_t neas)
{
	struct fileinfo_ea *out = NULL;
	size_t nout = 0;
	uint32_t status = STATUS_SUCCESS;
	if (q->input_len) {
		size_t n;
		status = fileinfo_get_ea_decode(q->input, q->input_len, NULL, 8192, &n);
		if (status) return status;
		out = calloc(n ? n : 1, sizeof(*out));
		if (!out) return STATUS_NO_MEMORY;
		fileinfo_get_ea_decode(q->input, q->input_len, out, n, &n);
		for (size_t i = 0; i < n; i++) {
			if (!vfs_ea_name_valid(out[i].name, out[i].name_len)) {
				free(out);
				return STATUS_INVALID_EA_NAME;
			}
			for (size_t j = 0; j < neas; j++) {
				if (strlen(eas[j].name) == out[i].name_len &&
				    strncasecmp(eas[j].name, out[i].name, out[i].name_len) == 0) {
					out[i].flags = eas[j].flags;
					out[i].value = eas[j].value;
					out[i].value_len = (uint16_t)eas[j].value_len;
					break;
				}
			}
		}
		nout = n;
	} else {
		if (neas == 0) return STATUS_NO_EAS_ON_FILE;
		/* SMB2 carries no EaIndex value (2.2.37), so SL_INDEX_SPECIFIED
		 * and SL_RESTART_SCAN both mean "from the first EA". */
		size_t start = 0;
		nout = (q->flags & SL_RETURN_SINGLE_ENTRY) ? 1 : neas - start;
		out = calloc(nout, sizeof(*out));
		if (!out) return STATUS_NO_MEMORY;
		for (size_t i = 0; i < nout; i++) {
			const struct vfs_ea *e = &eas[start + i];
			out[i].flags = e->flags;
			out[i].name = e->name;
			out[i].name_len = (uint8_t)strlen(e->name);
			out[i].value = e->value;
			out[i].value_len = (uint16_t)e->value_len;
		}
	}
	size_t written = fileinfo_full_ea_encode(w, out, nout, q->output_buffer_length);
	if (written == 0 && nout > 0) status = STATUS_BUFFER_TOO_SMALL;
	else if (written < nout) status = STATUS_BUFFER_OVERFLOW;
	free(out);
	return status;
}

static uint32_t query_file_class(struct smb2_request *req, struct smbd_open *o,
				 const struct smb2_query_info_req *q, struct wbuf *w, struct fileinfo_stat *fsp,
				 int bfd, const struct vfs_ea *eas, size_t neas)
{
	uint8_t c = q->file_info_class;
	struct fileinfo_stat fs = *fsp;

	switch (c) {
	case FSCC_FILE_BASIC_INFORMATION: fileinfo_basic_encode(w, &fs); break;
	case FSCC_FILE_STANDARD_INFORMATION: fileinfo_standard_encode(w, &fs); break;
	case FSCC_FILE_INTERNAL_INFORMATION: fileinfo_internal_encode(w, &fs); break;
	case FSCC_FILE_EA_INFORMATION: fileinfo_ea_encode(w, &fs); break;
	case FSCC_FILE_ACCESS_INFORMATION: fileinfo_access_encode(w, &fs); break;
	case FSCC_FILE_POSITION_INFORMATION: fileinfo_position_encode(w, &fs); break;
	case FSCC_FILE_MODE_INFORMATION: fileinfo_mode_encode(w, &fs); break;
	case FSCC_FILE_ALIGNMENT_INFORMATION: fileinfo_alignment_encode(w, &fs); break;
	case FSCC_FILE_NETWORK_OPEN_INFORMATION: fileinfo_network_open_encode(w, &fs); break;
	case FSCC_FILE_ATTRIBUTE_TAG_INFORMATION: fileinfo_attribute_tag_encode(w, &fs); break;
	case FSCC_FILE_STREAM_INFORMATION: return query_streams(o, w, &fs, bfd);
	case FSCC_FILE_COMPRESSION_INFORMATION: fileinfo_compression_encode(w, &fs); break;
	case FSCC_FILE_ALL_INFORMATION:
	case FSCC_FILE_NAME_INFORMATION: {
		char *name = windows_path(o->path, true);
		if (!name) return STATUS_NO_MEMORY;
		fs.name = name;
		int e = c == FSCC_FILE_ALL_INFORMATION ? fileinfo_all_encode(w, &fs)
						       : fileinfo_name_encode(w, name);
		free(name);
		if (e < 0) return STATUS_OBJECT_NAME_INVALID;
		break;
	}
	case FSCC_FILE_NORMALIZED_NAME_INFORMATION: {
		/* Only SMB 3.1.1 offers this class (MS-SMB2 3.3.5.20.1). */
		if (req->conn->dialect < SMB2_DIALECT_311) return STATUS_NOT_SUPPORTED;
		char *name = windows_path(o->path, false);
		if (!name) return STATUS_NO_MEMORY;
		int e = fileinfo_name_encode(w, name);
		free(name);
		if (e < 0) return STATUS_OBJECT_NAME_INVALID;
		break;
	}
	case FSCC_FILE_ALTERNATE_NAME_INFORMATION: {
		/* The share root has no name, hence no short name. */
		if (!o->path[0]) return STATUS_OBJECT_NAME_NOT_FOUND;
		const char *base = strrchr(o->path, '/');
		base = base ? base + 1 : o->path;
		/* A stream open names the file's short name ("d1", not "d1:s"). */
		const char *stream = open_stream_name(o);
		char *file = strndup(base, stream ? (size_t)(stream - 1 - base) : strlen(base));
		if (!file) return STATUS_NO_MEMORY;
		char shortname[13];
		fileinfo_short_name(file, shortname);
		free(file);
		fileinfo_name_encode(w, shortname);
		break;
	}
	case FSCC_FILE_FULL_EA_INFORMATION:
		return query_full_ea(q, w, eas, neas);
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
	return STATUS_SUCCESS;
}

static uint32_t query_fs(struct smb2_request *req, struct smbd_open *o,
			 const struct smb2_query_info_req *q, struct wbuf *w)
{
	const struct smbd_share *sh = o->tree->share;
	if (o->pipe || sh->root_fd < 0) return STATUS_NOT_SUPPORTED;

	struct fsinfo_stat f;
	memset(&f, 0, sizeof(f));
	struct statvfs sv;
	if (fstatvfs(sh->root_fd, &sv) < 0) return ntstatus_from_errno(errno);
	struct stat rs;
	if (fstat(sh->root_fd, &rs) < 0) return ntstatus_from_errno(errno);

	/* Allocation unit = fragment size, expressed in 512-byte sectors. */
	uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	if (unit < 512) unit = 512;
	f.bytes_per_sector = 512;
	f.sectors_per_unit = (uint32_t)(unit / 512);
	f.total_units = sv.f_blocks;
	f.caller_avail_units = sv.f_bavail;
	f.actual_avail_units = sv.f_bfree;
	f.volume_creation_time = nt_time_from_timespec(rs.st_ctim.tv_sec, rs.st_ctim.tv_nsec);
	/* Serial number and object id: stable values derived from the share
	 * path, so a client sees the same volume across reconnects. */
	uint32_t h = 2166136261u;
	for (const char *p = sh->path ? sh->path : ""; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
	f.volume_serial = h;
	for (int i = 0; i < 16; i++) {
		h = (h ^ (uint32_t)i) * 16777619u;
		f.object_id[i] = (uint8_t)(h >> 24);
	}
	f.volume_label = sh->name;
	/* "NTFS" with its usual flags is what clients expect of a disk share;
	 * we answer security queries from the POSIX owner and mode, so ACLs
	 * are reported as persistent. */
	f.fs_name = "NTFS";
	f.fs_attributes = FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK |
			  FILE_PERSISTENT_ACLS | FILE_SUPPORTS_HARD_LINKS | FILE_SUPPORTS_SPARSE_FILES |
			  FILE_NAMED_STREAMS | FILE_SUPPORTS_EXTENDED_ATTRIBUTES |
			  (sh->case_sensitive ? FILE_CASE_SENSITIVE_SEARCH : 0);
	f.max_component_len = 255;

	switch (q->file_info_class) {
	case FSCC_FS_VOLUME_INFORMATION:
		if (fsinfo_volume_encode(w, &f) < 0) return STATUS_INTERNAL_ERROR;
		break;
	case FSCC_FS_SIZE_INFORMATION: fsinfo_size_encode(w, &f); break;
	case FSCC_FS_DEVICE_INFORMATION: fsinfo_device_encode(w, &f); break;
	case FSCC_FS_ATTRIBUTE_INFORMATION:
		if (fsinfo_attribute_encode(w, &f) < 0) return STATUS_INTERNAL_ERROR;
		break;
	case FSCC_FS_CONTROL_INFORMATION: fsinfo_control_encode(w, &f); break;
	case FSCC_FS_FULL_SIZE_INFORMATION: fsinfo_full_size_encode(w, &f); break;
	case FSCC_FS_OBJECTID_INFORMATION: fsinfo_objectid_encode(w, &f); break;
	case FSCC_FS_SECTOR_SIZE_INFORMATION: fsinfo_sector_size_encode(w, &f); break;
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
	return STATUS_SUCCESS;
}

static uint32_t query_security(struct smbd_open *o, const struct smb2_query_info_req *q,
			       struct wbuf *w)
{
	uint32_t secinfo = q->additional_information;
	/* MS-FSA 2.1.5.13: owner/group/DACL need READ_CONTROL, the SACL
	 * ACCESS_SYSTEM_SECURITY (we never return a SACL, but still check). */
	if ((secinfo & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
			DACL_SECURITY_INFORMATION | LABEL_SECURITY_INFORMATION)) &&
	    !(o->access & READ_CONTROL))
		return STATUS_ACCESS_DENIED;
	if ((secinfo & SACL_SECURITY_INFORMATION) && !(o->access & ACCESS_SYSTEM_SECURITY))
		return STATUS_ACCESS_DENIED;
	if (o->pipe || o->fd < 0) return STATUS_NOT_SUPPORTED;
	/* The requested parts with the DACL's control flags (security_desc.c). */
	return smbd_sd_query(o, secinfo, w);
}

/* STATUS_BUFFER_TOO_SMALL carries the size the client should retry with as
 * four bytes of ErrorData (MS-SMB2 2.2.2, 3.3.5.20.3). */
static void encode_too_small(struct smb2_request *req, uint32_t needed)
{
	wbuf_u16(req->out, 9);
	wbuf_u8(req->out, 0);           /* ErrorContextCount */
	wbuf_u8(req->out, 0);           /* Reserved */
	wbuf_u32(req->out, 4);          /* ByteCount */
	wbuf_u32(req->out, needed);
	req->body_written = true;
}

uint32_t smb2_query_info(struct smb2_request *req)
{
	struct smb2_query_info_req q;
	uint32_t status = smb2_query_info_req_decode(req->msg, req->msg_len, &q);
	if (status) return status;

	struct smbd_open *o = smb2_req_open(req, q.persistent_id, q.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;

	struct wbuf w;
	wbuf_init(&w, 256);
	size_t min_size = 0;
	bool variable = false;
	switch (q.info_type) {
	case SMB2_0_INFO_FILE:
		status = query_file(req, o, &q, &w);
		min_size = fileinfo_min_size(q.file_info_class);
		variable = fileinfo_is_variable(q.file_info_class);
		break;
	case SMB2_0_INFO_FILESYSTEM:
		status = query_fs(req, o, &q, &w);
		min_size = fsinfo_min_size(q.file_info_class);
		variable = fsinfo_is_variable(q.file_info_class);
		break;
	case SMB2_0_INFO_SECURITY:
		status = query_security(o, &q, &w);
		if (status == STATUS_SUCCESS && w.len > q.output_buffer_length) {
			encode_too_small(req, (uint32_t)w.len);
			status = STATUS_BUFFER_TOO_SMALL;
			goto out;
		}
		break;
	case SMB2_0_INFO_QUOTA:
		/* Quotas are not tracked (as on a volume with quotas disabled). */
		status = STATUS_NOT_SUPPORTED;
		break;
	default:
		status = STATUS_INVALID_PARAMETER;
		break;
	}
	/* An EA list cut short carries the entries that fit (the EA encoder
	 * already stopped at OutputBufferLength). */
	bool ea_partial = status == STATUS_BUFFER_OVERFLOW && q.info_type == SMB2_0_INFO_FILE;
	if (status && !ea_partial) goto out;
	if (w.err) { status = STATUS_NO_MEMORY; goto out; }
	if (ea_partial) req->body_written = true;

	size_t len = w.len;
	if (q.output_buffer_length < min_size) {
		status = STATUS_INFO_LENGTH_MISMATCH;
		goto out;
	}
	if (len > q.output_buffer_length) {
		if (!variable) {
			status = STATUS_INFO_LENGTH_MISMATCH;
			goto out;
		}
		/* The fixed part fits: return as much as fits, with a warning
		 * status that still carries the body. */
		len = q.output_buffer_length;
		status = STATUS_BUFFER_OVERFLOW;
		req->body_written = true;
	}
	struct smb2_query_info_rsp rsp = { .data = w.p, .len = (uint32_t)len };
	smb2_query_info_rsp_encode(req->out, req->out_hdr_off, &rsp);
out:
	log_debug("QUERY_INFO type %u class %u out_len %u: %s", q.info_type, q.file_info_class,
		  q.output_buffer_length, ntstatus_name(status));
	wbuf_free(&w);
	open_put(o);
	return status;
}
