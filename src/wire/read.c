/* SMB2 READ (MS-SMB2 2.2.19, 2.2.20). */
#include "wire/read.h"

#include <string.h>

uint32_t smb2_read_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_read_req *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 49) return STATUS_INVALID_PARAMETER;
	out->padding = rbuf_u8(&b);
	out->flags = rbuf_u8(&b);
	out->length = rbuf_u32(&b);
	out->offset = rbuf_u64(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	out->minimum_count = rbuf_u32(&b);
	out->channel = rbuf_u32(&b);
	out->remaining_bytes = rbuf_u32(&b);
	uint16_t ci_off = rbuf_u16(&b);
	uint16_t ci_len = rbuf_u16(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	if (ci_len) {
		if (!range_ok(ci_off, ci_len, msg_len)) return STATUS_INVALID_PARAMETER;
		out->channel_info = msg + ci_off;
		out->channel_info_len = ci_len;
	}
	return STATUS_SUCCESS;
}

void smb2_read_rsp_encode_fixed(uint8_t *body, uint32_t data_len, uint32_t data_remaining)
{
	put_le16(body, 17);
	body[2] = SMB2_READ_RSP_DATA_OFFSET;
	body[3] = 0;
	put_le32(body + 4, data_len);
	put_le32(body + 8, data_remaining);
	put_le32(body + 12, 0);
}
