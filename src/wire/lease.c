/* Oplock/lease wire formats (MS-SMB2 2.2.13.2.8, 2.2.13.2.10, 2.2.14.2.10,
 * 2.2.14.2.11, 2.2.23, 2.2.24, 2.2.25).  See lease.h. */
#include <string.h>

#include "wire/lease.h"

uint32_t smb2_lease_ctx_decode(const uint8_t *data, size_t len, struct smb2_lease_ctx *out)
{
	memset(out, 0, sizeof(*out));
	if (len != SMB2_LEASE_V1_SIZE && len != SMB2_LEASE_V2_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf b = rbuf_make(data, len);
	rbuf_copy(&b, out->key, 16);
	out->state = rbuf_u32(&b);
	out->flags = rbuf_u32(&b);
	out->duration = rbuf_u64(&b);
	out->version = 1;
	if (len == SMB2_LEASE_V2_SIZE) {
		out->version = 2;
		rbuf_copy(&b, out->parent_key, 16);
		out->epoch = rbuf_u16(&b);
		rbuf_u16(&b);   /* Reserved */
		/* 2.2.13.2.10: ParentLeaseKey means nothing without the flag. */
		if (!(out->flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET)) memset(out->parent_key, 0, 16);
	}
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

size_t smb2_lease_ctx_encode(uint8_t *out, const struct smb2_lease_ctx *l)
{
	memcpy(out, l->key, 16);
	put_le32(out + 16, l->state);
	put_le32(out + 20, l->flags);
	put_le64(out + 24, 0);   /* LeaseDuration: reserved, 0 */
	if (l->version != 2) return SMB2_LEASE_V1_SIZE;
	memcpy(out + 32, l->parent_key, 16);
	put_le16(out + 48, l->epoch);
	put_le16(out + 50, 0);
	return SMB2_LEASE_V2_SIZE;
}

uint32_t smb2_oplock_break_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_oplock_break_req *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	uint16_t size = rbuf_u16(&b);
	if (size == SMB2_OPLOCK_BREAK_SIZE) {
		/* 2.2.24.1: OplockLevel, Reserved, Reserved2, FileId. */
		out->oplock_level = rbuf_u8(&b);
		rbuf_u8(&b);
		rbuf_u32(&b);
		out->persistent_id = rbuf_u64(&b);
		out->volatile_id = rbuf_u64(&b);
	} else if (size == SMB2_LEASE_BREAK_ACK_SIZE) {
		/* 2.2.24.2: Reserved, Flags, LeaseKey, LeaseState, LeaseDuration. */
		out->is_lease = true;
		rbuf_u16(&b);
		out->flags = rbuf_u32(&b);
		rbuf_copy(&b, out->lease_key, 16);
		out->lease_state = rbuf_u32(&b);
		out->lease_duration = rbuf_u64(&b);
	} else {
		return STATUS_INVALID_PARAMETER;
	}
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

static void oplock_body(struct wbuf *w, uint8_t level, uint64_t persistent_id, uint64_t volatile_id)
{
	wbuf_u16(w, SMB2_OPLOCK_BREAK_SIZE);
	wbuf_u8(w, level);
	wbuf_u8(w, 0);
	wbuf_u32(w, 0);
	wbuf_u64(w, persistent_id);
	wbuf_u64(w, volatile_id);
}

void smb2_oplock_break_rsp_encode(struct wbuf *w, uint8_t level, uint64_t persistent_id, uint64_t volatile_id)
{
	oplock_body(w, level, persistent_id, volatile_id);
}

void smb2_oplock_break_notify_encode(struct wbuf *w, uint8_t level, uint64_t persistent_id, uint64_t volatile_id)
{
	oplock_body(w, level, persistent_id, volatile_id);
}

void smb2_lease_break_rsp_encode(struct wbuf *w, const uint8_t key[16], uint32_t state)
{
	wbuf_u16(w, SMB2_LEASE_BREAK_ACK_SIZE);
	wbuf_u16(w, 0);
	wbuf_u32(w, 0);          /* Flags: none defined */
	wbuf_bytes(w, key, 16);
	wbuf_u32(w, state);
	wbuf_u64(w, 0);          /* LeaseDuration: reserved */
}

void smb2_lease_break_notify_encode(struct wbuf *w, uint16_t new_epoch, uint32_t flags, const uint8_t key[16],
				    uint32_t current_state, uint32_t new_state)
{
	wbuf_u16(w, SMB2_LEASE_BREAK_NOTIFY_SIZE);
	wbuf_u16(w, new_epoch);
	wbuf_u32(w, flags);
	wbuf_bytes(w, key, 16);
	wbuf_u32(w, current_state);
	wbuf_u32(w, new_state);
	wbuf_u32(w, 0);          /* BreakReason: reserved */
	wbuf_u32(w, 0);          /* AccessMaskHint */
	wbuf_u32(w, 0);          /* ShareMaskHint */
}
