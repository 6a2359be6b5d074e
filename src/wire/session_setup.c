/* SESSION_SETUP / LOGOFF wire format (MS-SMB2 2.2.5 - 2.2.8). */
#include "wire/session_setup.h"

uint32_t smb2_session_setup_req_decode(const uint8_t *msg, size_t len, struct smb2_session_setup_req *r)
{
	memset(r, 0, sizeof(*r));
	struct rbuf b = rbuf_make(msg, len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 25) return STATUS_INVALID_PARAMETER;
	r->flags = rbuf_u8(&b);
	r->security_mode = rbuf_u8(&b);
	r->capabilities = rbuf_u32(&b);
	rbuf_u32(&b); /* Channel */
	uint16_t off = rbuf_u16(&b);
	uint16_t blen = rbuf_u16(&b);
	r->previous_session_id = rbuf_u64(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	if (blen) {
		if (off < SMB2_HDR_SIZE + 24 || !range_ok(off, blen, len)) return STATUS_INVALID_PARAMETER;
		r->security_blob = msg + off;
		r->security_blob_len = blen;
	}
	return STATUS_SUCCESS;
}

void smb2_session_setup_rsp_encode(struct wbuf *w, size_t hdr_off, uint16_t session_flags,
				   const uint8_t *blob, size_t blob_len)
{
	wbuf_u16(w, 9);
	wbuf_u16(w, session_flags);
	wbuf_u16(w, (uint16_t)(w->len + 4 - hdr_off));
	wbuf_u16(w, (uint16_t)blob_len);
	if (blob_len) wbuf_bytes(w, blob, blob_len);
}

void smb2_session_setup_req_encode(struct wbuf *w, size_t hdr_off, const struct smb2_session_setup_req *r)
{
	wbuf_u16(w, 25);
	wbuf_u8(w, r->flags);
	wbuf_u8(w, r->security_mode);
	wbuf_u32(w, r->capabilities);
	wbuf_u32(w, 0);
	wbuf_u16(w, (uint16_t)(w->len + 12 - hdr_off));
	wbuf_u16(w, (uint16_t)r->security_blob_len);
	wbuf_u64(w, r->previous_session_id);
	if (r->security_blob_len) wbuf_bytes(w, r->security_blob, r->security_blob_len);
}

void smb2_empty4_encode(struct wbuf *w)
{
	wbuf_u16(w, 4);
	wbuf_u16(w, 0);
}
