/* SMB2 CHANGE_NOTIFY (MS-SMB2 2.2.35). */
#include "wire/notify.h"

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
