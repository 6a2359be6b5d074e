/* SMB2 QUERY_DIRECTORY (MS-SMB2 3.3.5.18, MS-FSA 2.1.5.6.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/utf16.h"
#include "server/access_enum.h"
#include "server/dir_enum.h"
#include "server/server.h"
#include "server/vfs.h"
#include "wire/fileinfo.h"
#include "wire/query_directory.h"

/* Stats one directory entry.  "." is the directory itself; ".." of the
 * share root is the root again, never the directory above the share.
 * Symlinks are reported as what they point to when that is reachable. */
static int stat_entry(struct smbd_open *o, const char *name, struct smb_file_stat *st)
{
	if (!strcmp(name, ".") || (!strcmp(name, "..") && o->path[0] == 0)) return vfs_fstat(o->fd, st);
	int r = vfs_fstatat(o->fd, name, st);
	if (r == 0 && S_ISLNK(st->mode)) {
		struct stat sb;
		/* Follow the link only while it stays in the share: a link
		 * to outside must not reveal what it points to. */
		if (vfs_stat_beneath(o->tree->share, o->path, name, &sb) == 0) {
			/* Keep the link's own times; take type and size from the target. */
			st->is_dir = S_ISDIR(sb.st_mode);
			st->mode = sb.st_mode;
			st->end_of_file = st->is_dir ? 0 : (uint64_t)sb.st_size;
			st->allocation_size = st->is_dir ? 0 : (uint64_t)sb.st_blocks * 512;
			st->attributes = st->is_dir ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_ARCHIVE;
		}
	}
	return r;
}

static void fill_dirent(struct smb2_dirent *e, const char *name, const struct smb_file_stat *st,
			char short_name[13])
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	/* The same 8.3 name FileAlternateNameInformation reports; "." and
	 * ".." have none. */
	short_name[0] = 0;
	if (strcmp(name, ".") && strcmp(name, "..")) fileinfo_short_name(name, short_name);
	e->short_name = short_name;
	e->creation_time = st->creation_time;
	e->last_access_time = st->last_access_time;
	e->last_write_time = st->last_write_time;
	e->change_time = st->change_time;
	e->end_of_file = st->end_of_file;
	e->allocation_size = st->allocation_size;
	e->attributes = st->attributes;
	e->file_id = st->file_id;
	e->volume_id = st->dev;
}

/* EaSize of a listed entry: the same value FileEaInformation reports. */
static uint32_t entry_ea_size(struct smbd_open *o, const char *name)
{
	struct vfs_ea *eas = NULL;
	size_t n = 0;
	if (!strcmp(name, "..")) return 0;
	int r = !strcmp(name, ".") ? vfs_ea_list(o->fd, &eas, &n) : vfs_ea_list_at(o->fd, name, &eas, &n);
	uint32_t size = r == 0 ? vfs_ea_size(eas, n) : 0;
	vfs_ea_free(eas, n);
	return size;
}

uint32_t smb2_query_directory(struct smb2_request *req)
{
	struct smb2_query_directory_req qr;
	uint32_t status = smb2_query_directory_req_decode(req->msg, req->msg_len, &qr);
	if (status) return status;
	struct smbd_open *o = smb2_req_open(req, qr.persistent_id, qr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	char *pattern = NULL;
	struct wbuf *w = req->out;
	size_t rsp_start = w->len;

	if (o->pipe || !o->is_dir || o->fd < 0) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	if (!smb2_dirent_class_supported(qr.info_class)) {
		status = STATUS_INVALID_INFO_CLASS;
		goto out;
	}
	if (!(o->access & FILE_LIST_DIRECTORY)) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	unsigned max_io = req->conn && req->conn->cfg ? req->conn->cfg->max_io_size : 8u << 20;
	if (qr.output_buffer_length > max_io) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	/* MS-FSA 2.1.5.6.3: room for less than one entry's fixed part. */
	if (qr.output_buffer_length < smb2_dirent_fixed_size(qr.info_class)) {
		status = STATUS_INFO_LENGTH_MISMATCH;
		goto out;
	}
	if (qr.pattern_len) {
		pattern = utf16le_to_utf8(qr.pattern, qr.pattern_len, NULL);
		if (!pattern) {
			status = STATUS_OBJECT_NAME_INVALID;
			goto out;
		}
	}

	bool restart = qr.flags & (SMB2_RESTART_SCANS | SMB2_REOPEN);
	struct smbd_dir_enum *d = o->dir;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			status = STATUS_NO_MEMORY;
			goto out;
		}
		o->dir = d;
		restart = true;
	}
	if (restart) {
		int r = dir_enum_start(d, o->fd);
		if (r < 0) {
			status = ntstatus_from_errno(-r);
			goto out;
		}
		/* The pattern of a scan is fixed when it starts; later
		 * requests' patterns are ignored (as on Windows). */
		free(d->pattern);
		d->pattern = pattern ? pattern : strdup("*");
		pattern = NULL;
		if (!d->pattern) {
			status = STATUS_NO_MEMORY;
			goto out;
		}
		d->returned_any = false;
	}

	size_t fixed_pos = smb2_query_directory_rsp_begin(w, req->out_hdr_off);
	size_t buf_start = w->len;
	size_t limit = buf_start + qr.output_buffer_length;
	size_t prev_entry = (size_t)-1;
	unsigned count = 0;
	bool literal = wildcard_is_literal(d->pattern);
	/* Access-based enumeration (access_enum.h; the share announced it
	 * with SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM, MS-SMB2 2.2.10):
	 * decided once per request, so a share without it pays nothing per
	 * entry. */
	bool abe = config_share_access_based_enum(o->tree->share);

	const char *name;
	while ((name = dir_enum_peek(d)) != NULL) {
		bool match = literal ? (utf8_casecmp(d->pattern, name) == 0) : wildcard_match(d->pattern, name);
		if (!match) {
			dir_enum_advance(d);
			continue;
		}
		struct smb_file_stat st;
		if (stat_entry(o, name, &st) < 0) {
			dir_enum_advance(d);  /* gone since it was listed */
			continue;
		}
		/* "." is the directory the caller opened for listing and ".."
		 * is always shown (smb2.acls.ACCESSBASED counts both); any
		 * other entry the user could not open for reading is left
		 * out, as if it did not exist. */
		if (abe && strcmp(name, ".") && strcmp(name, "..") &&
		    !access_enum_entry_visible(o->session, o->tree->share, o->fd, o->path, name)) {
			dir_enum_advance(d);
			continue;
		}
		struct smb2_dirent e;
		char short_name[13];
		fill_dirent(&e, name, &st, short_name);
		e.ea_size = st.may_have_eas ? entry_ea_size(o, name) : 0;
		size_t before = w->len;
		if (count) wbuf_align(w, buf_start, 8);
		size_t entry_start = w->len;
		int rc = smb2_dirent_encode(w, limit, qr.info_class, &e);
		if (rc < 0) {
			/* Unencodable name (not valid UTF-8): skip it. */
			w->len = before;
			w->err = false;
			dir_enum_advance(d);
			continue;
		}
		if (rc == 1) {
			w->len = before;
			if (count == 0) {
				/* Not even the first entry fits: return its first
				 * bytes with STATUS_BUFFER_OVERFLOW (MS-FSA 2.1.5.6.3);
				 * the entry stays next in the scan. */
				struct wbuf tmp;
				wbuf_init(&tmp, 256);
				smb2_dirent_encode(&tmp, SIZE_MAX / 4, qr.info_class, &e);
				if (!tmp.err) wbuf_bytes(w, tmp.p, qr.output_buffer_length);
				wbuf_free(&tmp);
				smb2_query_directory_rsp_set_length(w, fixed_pos, (uint32_t)(w->len - buf_start));
				req->body_written = true;
				status = STATUS_BUFFER_OVERFLOW;
				goto out;
			}
			break;
		}
		/* MS-FSCC 2.4: each entry's NextEntryOffset points at the next
		 * 8-byte aligned entry; the last one stays 0. */
		if (prev_entry != (size_t)-1) wbuf_set_u32(w, prev_entry, (uint32_t)(entry_start - prev_entry));
		prev_entry = entry_start;
		count++;
		dir_enum_advance(d);
		d->returned_any = true;
		if (qr.flags & SMB2_RETURN_SINGLE_ENTRY) break;
	}
	if (w->err) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	if (count == 0) {
		/* Nothing at all matched this scan: NO_SUCH_FILE; the scan
		 * ran out after earlier results: NO_MORE_FILES. */
		status = d->returned_any ? STATUS_NO_MORE_FILES : STATUS_NO_SUCH_FILE;
		goto out;
	}
	smb2_query_directory_rsp_set_length(w, fixed_pos, (uint32_t)(w->len - buf_start));
out:
	if (status != STATUS_SUCCESS && status != STATUS_BUFFER_OVERFLOW) w->len = rsp_start;
	free(pattern);
	open_put(o);
	return status;
}
