/* SMB2 FLUSH (MS-SMB2 2.2.17, 2.2.18). */
#include "wire/flush.h"

uint32_t smb2_flush_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_flush_req *out)
{
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 24) return STATUS_INVALID_PARAMETER;
	rbuf_u16(&b);
	rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

void smb2_flush_rsp_encode(struct wbuf *w, size_t hdr_off)
{
	(void)hdr_off;
	wbuf_u16(w, 4);
	wbuf_u16(w, 0);
}
