/* SMB2 QUERY_DIRECTORY (MS-SMB2 2.2.33, 2.2.34) and directory entries
 * (MS-FSCC 2.4.10 FileDirectoryInformation, 2.4.14 FileFullDirectory...,
 * 2.4.17 FileIdBothDirectory..., 2.4.18 FileIdExtdDirectory...,
 * 2.4.19 FileIdFullDirectory..., 2.4.8 FileBothDirectory...,
 * 2.4.32 FileNamesInformation). */
#include "wire/query_directory.h"

#include <string.h>

#include "common/utf16.h"

uint32_t smb2_query_directory_req_decode(const uint8_t *msg, size_t msg_len,
					 struct smb2_query_directory_req *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 33) return STATUS_INVALID_PARAMETER;
	out->info_class = rbuf_u8(&b);
	out->flags = rbuf_u8(&b);
	out->file_index = rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	uint16_t name_off = rbuf_u16(&b);
	uint16_t name_len = rbuf_u16(&b);
	out->output_buffer_length = rbuf_u32(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	if (name_len) {
		if (name_len & 1 || !range_ok(name_off, name_len, msg_len)) return STATUS_INVALID_PARAMETER;
		out->pattern = msg + name_off;
		out->pattern_len = name_len;
	}
	return STATUS_SUCCESS;
}

bool smb2_dirent_class_supported(uint8_t c)
{
	return smb2_dirent_fixed_size(c) != 0;
}

size_t smb2_dirent_fixed_size(uint8_t c)
{
	switch (c) {
	case FILE_DIRECTORY_INFORMATION: return 64;
	case FILE_FULL_DIRECTORY_INFORMATION: return 68;
	case FILE_ID_FULL_DIRECTORY_INFORMATION: return 80;
	case FILE_BOTH_DIRECTORY_INFORMATION: return 94;
	case FILE_ID_BOTH_DIRECTORY_INFORMATION: return 104;
	case FILE_NAMES_INFORMATION: return 12;
	case FILE_ID_EXTD_DIRECTORY_INFORMATION: return 88;
	default: return 0;
	}
}

/* ShortNameLength (1), Reserved (1), ShortName (24 bytes, UTF-16, up to
 * 12 characters). */
static void put_short_name(struct wbuf *w, const char *sn)
{
	size_t n = sn ? strlen(sn) : 0;
	if (n > 12 || (n && utf8_utf16_size(sn, n) != (long)(2 * n))) n = 0;
	wbuf_u8(w, (uint8_t)(2 * n));
	wbuf_u8(w, 0);
	uint8_t *q = wbuf_reserve(w, 24);
	if (!q) return;
	for (size_t i = 0; i < n; i++) put_le16(q + 2 * i, (uint8_t)sn[i]);
}

int smb2_dirent_encode(struct wbuf *w, size_t limit, uint8_t c, const struct smb2_dirent *e)
{
	size_t fixed = smb2_dirent_fixed_size(c);
	if (!fixed) return -1;
	long name_bytes = utf8_utf16_size(e->name, strlen(e->name));
	if (name_bytes < 0) return -1;
	if (w->len > limit || fixed + (size_t)name_bytes > limit - w->len) return 1;

	wbuf_u32(w, 0);                  /* NextEntryOffset, patched by the caller */
	wbuf_u32(w, e->file_index);
	if (c == FILE_NAMES_INFORMATION) {
		wbuf_u32(w, (uint32_t)name_bytes);
		utf8_to_utf16le(w, e->name, strlen(e->name));
		return w->err ? -1 : 0;
	}
	wbuf_u64(w, e->creation_time);
	wbuf_u64(w, e->last_access_time);
	wbuf_u64(w, e->last_write_time);
	wbuf_u64(w, e->change_time);
	wbuf_u64(w, e->end_of_file);
	wbuf_u64(w, e->allocation_size);
	wbuf_u32(w, e->attributes);
	wbuf_u32(w, (uint32_t)name_bytes);
	/* For reparse points EaSize carries the reparse tag (MS-FSA 2.1.5.6.3). */
	uint32_t ea = (e->attributes & FILE_ATTRIBUTE_REPARSE_POINT) ? e->reparse_tag : e->ea_size;
	switch (c) {
	case FILE_DIRECTORY_INFORMATION:
		break;
	case FILE_FULL_DIRECTORY_INFORMATION:
		wbuf_u32(w, ea);
		break;
	case FILE_ID_FULL_DIRECTORY_INFORMATION:
		wbuf_u32(w, ea);
		wbuf_u32(w, 0);
		wbuf_u64(w, e->file_id);
		break;
	case FILE_BOTH_DIRECTORY_INFORMATION:
		wbuf_u32(w, ea);
		put_short_name(w, e->short_name);
		break;
	case FILE_ID_BOTH_DIRECTORY_INFORMATION:
		wbuf_u32(w, ea);
		put_short_name(w, e->short_name);
		wbuf_u16(w, 0);
		wbuf_u64(w, e->file_id);
		break;
	case FILE_ID_EXTD_DIRECTORY_INFORMATION:
		wbuf_u32(w, e->ea_size);
		wbuf_u32(w, e->reparse_tag);
		wbuf_u64(w, e->file_id);   /* 128-bit FileId: low 64 bits = inode */
		wbuf_u64(w, 0);
		break;
	}
	utf8_to_utf16le(w, e->name, strlen(e->name));
	return w->err ? -1 : 0;
}

size_t smb2_query_directory_rsp_begin(struct wbuf *w, size_t hdr_off)
{
	size_t pos = w->len;
	wbuf_u16(w, 9);
	wbuf_u16(w, (uint16_t)(SMB2_HDR_SIZE + 8));
	wbuf_u32(w, 0);
	(void)hdr_off;
	return pos;
}

void smb2_query_directory_rsp_set_length(struct wbuf *w, size_t fixed_pos, uint32_t len)
{
	wbuf_set_u32(w, fixed_pos + 4, len);
}
