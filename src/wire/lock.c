/* SMB2 LOCK (MS-SMB2 2.2.26, 2.2.26.1, 2.2.27). */
#include "wire/lock.h"

uint32_t smb2_lock_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_lock_req *out)
{
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	/* 2.2.26: StructureSize is 48 (the fixed part plus one element)
	 * whatever LockCount says. */
	if (rbuf_u16(&b) != 48) return STATUS_INVALID_PARAMETER;
	out->lock_count = rbuf_u16(&b);
	uint32_t seq = rbuf_u32(&b);
	/* LockSequenceNumber is the low 4 bits, LockSequenceIndex the other
	 * 28 (2.2.26, as the field is read little-endian). */
	out->lock_sequence_number = (uint8_t)(seq & 0xF);
	out->lock_sequence_index = seq >> 4;
	out->persistent_id = rbuf_u64(&b);
	out->volatile_id = rbuf_u64(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	/* 3.3.5.14: a request with LockCount 0 is invalid. */
	if (out->lock_count == 0) return STATUS_INVALID_PARAMETER;
	size_t need = (size_t)out->lock_count * SMB2_LOCK_ELEMENT_SIZE;
	if (!range_ok(SMB2_HDR_SIZE + 24, need, msg_len)) return STATUS_INVALID_PARAMETER;
	out->locks = msg + SMB2_HDR_SIZE + 24;
	return STATUS_SUCCESS;
}

void smb2_lock_req_element(const struct smb2_lock_req *r, unsigned i, struct smb2_lock_element *out)
{
	const uint8_t *p = r->locks + (size_t)i * SMB2_LOCK_ELEMENT_SIZE;
	out->offset = get_le64(p);
	out->length = get_le64(p + 8);
	out->flags = get_le32(p + 16);
	/* Reserved (4 bytes) is ignored (2.2.26.1). */
}

void smb2_lock_rsp_encode(struct wbuf *w, size_t hdr_off)
{
	(void)hdr_off;
	wbuf_u16(w, 4);   /* StructureSize */
	wbuf_u16(w, 0);   /* Reserved */
}
