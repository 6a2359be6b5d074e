/* SMB2 TRANSFORM_HEADER encode/decode (MS-SMB2 2.2.41). */
#include "wire/transform.h"

#include <string.h>

#include "common/buf.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

uint32_t smb2_transform_decode(const uint8_t *msg, size_t len, struct smb2_transform_hdr *h)
{
	memset(h, 0, sizeof(*h));
	/* 3.3.5.2.1.1: a message not longer than the transform header is
	 * invalid; a decrypted message must hold at least an SMB2 header. */
	if (!msg || len <= SMB2_TRANSFORM_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf b = rbuf_make(msg, len);
	if (rbuf_u32(&b) != SMB2_TRANSFORM_ID) return STATUS_INVALID_PARAMETER;
	rbuf_copy(&b, h->signature, 16);
	rbuf_copy(&b, h->nonce, 16);
	h->original_size = rbuf_u32(&b);
	rbuf_u16(&b); /* Reserved: not checked, as Windows does not */
	h->flags = rbuf_u16(&b);
	h->session_id = rbuf_u64(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	/* 3.3.5.2.1.1: Flags/EncryptionAlgorithm other than 0x0001 -> disconnect. */
	if (h->flags != SMB2_TRANSFORM_FLAG_ENCRYPTED) return STATUS_INVALID_PARAMETER;
	/* CCM and GCM produce ciphertext of the plaintext's length, so the
	 * stated size must be exactly what follows.  A smaller size would
	 * leave trailing bytes outside the authenticated plaintext; a larger
	 * one would read past the message. */
	if (h->original_size != len - SMB2_TRANSFORM_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	if (h->original_size < SMB2_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	if (h->session_id == 0) return STATUS_INVALID_PARAMETER;
	return STATUS_SUCCESS;
}

void smb2_transform_encode(uint8_t out[SMB2_TRANSFORM_HDR_SIZE], const struct smb2_transform_hdr *h)
{
	put_le32(out, SMB2_TRANSFORM_ID);
	memcpy(out + SMB2_TRANSFORM_SIG_OFF, h->signature, 16);
	memcpy(out + SMB2_TRANSFORM_NONCE_OFF, h->nonce, 16);
	put_le32(out + 36, h->original_size);
	put_le16(out + 40, 0);
	put_le16(out + 42, h->flags);
	put_le64(out + 44, h->session_id);
}
