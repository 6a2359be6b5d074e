/* SMB2 WRITE (MS-SMB2 2.2.21, 2.2.22). */
#include "wire/write.h"

#include <string.h>

uint32_t smb2_write_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_write_req *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 49) return STATUS_INVALID_PARAMETER;
	uint16_t data_off = rbuf_u16(&b);
	out->length = rbuf_u32(&b);
	out->offset = rbuf_u64(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	out->channel = rbuf_u32(&b);
	out->remaining_bytes = rbuf_u32(&b);
	uint16_t ci_off = rbuf_u16(&b);
	uint16_t ci_len = rbuf_u16(&b);
	out->flags = rbuf_u32(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	/* 3.3.5.13: the data must lie inside the request.  With an RDMA
	 * channel the payload is not in the message and Length is 0. */
	if (out->length) {
		if (data_off < SMB2_HDR_SIZE + 48 || !range_ok(data_off, out->length, msg_len))
			return STATUS_INVALID_PARAMETER;
		out->data = msg + data_off;
	}
	if (ci_len) {
		if (!range_ok(ci_off, ci_len, msg_len)) return STATUS_INVALID_PARAMETER;
		out->channel_info = msg + ci_off;
		out->channel_info_len = ci_len;
	}
	return STATUS_SUCCESS;
}

void smb2_write_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_write_rsp *r)
{
	(void)hdr_off;
	wbuf_u16(w, 17);
	wbuf_u16(w, 0);
	wbuf_u32(w, r->count);
	wbuf_u32(w, r->remaining);
	wbuf_u16(w, 0);
	wbuf_u16(w, 0);
	wbuf_u8(w, 0); /* StructureSize 17 counts one buffer byte */
}
