/* SMB2 SET_INFO request decoder and response encoder
 * (MS-SMB2 2.2.39, 2.2.40). */
#include "wire/set_info.h"

#define SET_INFO_REQ_SIZE 33  /* StructureSize: 32 fixed + 1 for Buffer */
#define SET_INFO_RSP_SIZE 2

uint32_t smb2_set_info_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_set_info_req *out)
{
	if (msg_len < SMB2_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != SET_INFO_REQ_SIZE) return STATUS_INVALID_PARAMETER;
	out->info_type = rbuf_u8(&b);
	out->file_info_class = rbuf_u8(&b);
	out->buffer_len = rbuf_u32(&b);
	uint16_t off = rbuf_u16(&b);
	rbuf_skip(&b, 2);               /* Reserved */
	out->additional_information = rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	out->buffer = NULL;
	if (out->buffer_len) {
		/* 3.3.5.21: the buffer must lie inside the request. */
		if (off < SMB2_HDR_SIZE + 32 || !range_ok(off, out->buffer_len, msg_len))
			return STATUS_INVALID_PARAMETER;
		out->buffer = msg + off;
	}
	return STATUS_SUCCESS;
}

void smb2_set_info_rsp_encode(struct wbuf *w, size_t hdr_off)
{
	(void)hdr_off;
	wbuf_u16(w, SET_INFO_RSP_SIZE);
}
