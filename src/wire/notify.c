/* SMB2 CHANGE_NOTIFY (MS-SMB2 2.2.35, 2.2.36) and FILE_NOTIFY_INFORMATION
 * (MS-FSCC 2.7.1). */
#include "wire/notify.h"

#include "common/utf16.h"

uint32_t smb2_notify_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_notify_req *out)
{
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 32) return STATUS_INVALID_PARAMETER;
	out->flags = rbuf_u16(&b);
	out->output_buffer_length = rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	out->completion_filter = rbuf_u32(&b);
	rbuf_u32(&b);   /* Reserved */
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

bool smb2_notify_info_append(struct wbuf *w, long *last_off, uint32_t action, const char *name)
{
	size_t name_len = strlen(name);
	long u16 = utf8_utf16_size(name, name_len);
	if (u16 < 0 || u16 > 0xFFFF) return false;
	size_t before = w->len;
	/* MS-FSCC 2.7.1: each record starts on a 4-byte boundary; the previous
	 * record's NextEntryOffset is the distance to this one (0 = last). */
	if (*last_off >= 0) wbuf_align(w, 0, 4);
	size_t off = w->len;
	wbuf_u32(w, 0);                  /* NextEntryOffset */
	wbuf_u32(w, action);
	wbuf_u32(w, (uint32_t)u16);      /* FileNameLength, bytes */
	utf8_to_utf16le(w, name, name_len);
	if (w->err) {
		w->len = before;
		return false;
	}
	if (*last_off >= 0) wbuf_set_u32(w, (size_t)*last_off, (uint32_t)(off - (size_t)*last_off));
	*last_off = (long)off;
	return true;
}

void smb2_notify_rsp_encode(struct wbuf *w, const uint8_t *records, size_t len)
{
	wbuf_u16(w, 9);                                           /* StructureSize */
	wbuf_u16(w, len ? (uint16_t)(SMB2_HDR_SIZE + 8) : 0);     /* OutputBufferOffset */
	wbuf_u32(w, (uint32_t)len);                               /* OutputBufferLength */
	if (len)
		wbuf_bytes(w, records, len);
	else
		wbuf_u8(w, 0);   /* StructureSize 9 counts one byte of buffer */
}
