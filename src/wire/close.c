/* SMB2 CLOSE (MS-SMB2 2.2.15, 2.2.16). */
#include "wire/close.h"

uint32_t smb2_close_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_close_req *out)
{
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 24) return STATUS_INVALID_PARAMETER;
	out->flags = rbuf_u16(&b);
	rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

void smb2_close_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_close_rsp *r)
{
	(void)hdr_off;
	wbuf_u16(w, 60);
	wbuf_u16(w, r->flags);
	wbuf_u32(w, 0);
	/* 2.2.16: with POSTQUERY_ATTRIB clear every attribute field is zero. */
	static const struct smb2_file_basics none;
	smb2_file_basics_encode(w, (r->flags & SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB) ? &r->basics : &none);
}
