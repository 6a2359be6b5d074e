/* SMB2 QUERY_INFO request decoder and response encoder
 * (MS-SMB2 2.2.37, 2.2.38). */
#include "wire/query_info.h"

#define QUERY_INFO_REQ_SIZE 41  /* StructureSize: 40 fixed + 1 for Buffer */
#define QUERY_INFO_RSP_SIZE 9

uint32_t smb2_query_info_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_query_info_req *out)
{
	if (msg_len < SMB2_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != QUERY_INFO_REQ_SIZE) return STATUS_INVALID_PARAMETER;
	out->info_type = rbuf_u8(&b);
	out->file_info_class = rbuf_u8(&b);
	out->output_buffer_length = rbuf_u32(&b);
	uint16_t in_off = rbuf_u16(&b);
	rbuf_skip(&b, 2);               /* Reserved */
	out->input_len = rbuf_u32(&b);
	out->additional_information = rbuf_u32(&b);
	out->flags = rbuf_u32(&b);
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	out->input = NULL;
	if (out->input_len) {
		/* The input buffer must lie after the fixed part and inside this
		 * command (3.3.5.20: otherwise STATUS_INVALID_PARAMETER). */
		if (in_off < SMB2_HDR_SIZE + 40 || !range_ok(in_off, out->input_len, msg_len))
			return STATUS_INVALID_PARAMETER;
		out->input = msg + in_off;
	}
	return STATUS_SUCCESS;
}

void smb2_query_info_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_query_info_rsp *r)
{
	size_t body = w->len;
	wbuf_u16(w, QUERY_INFO_RSP_SIZE);
	/* OutputBufferOffset is relative to the header; the buffer follows the
	 * 8 fixed body bytes. */
	wbuf_u16(w, (uint16_t)(body - hdr_off + 8));
	wbuf_u32(w, r->len);
	if (r->len)
		wbuf_bytes(w, r->data, r->len);
	else
		wbuf_u8(w, 0);          /* the one variable byte StructureSize 9 counts */
}
