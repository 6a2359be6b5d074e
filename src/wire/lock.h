/* SMB2 LOCK (MS-SMB2 2.2.26 request, 2.2.26.1 lock element, 2.2.27 response). */
#ifndef SMBKIT_WIRE_LOCK_H
#define SMBKIT_WIRE_LOCK_H

#include "wire/smb2.h"

/* SMB2_LOCK_ELEMENT Flags (2.2.26.1) */
#define SMB2_LOCKFLAG_SHARED_LOCK      0x00000001u
#define SMB2_LOCKFLAG_EXCLUSIVE_LOCK   0x00000002u
#define SMB2_LOCKFLAG_UNLOCK           0x00000004u
#define SMB2_LOCKFLAG_FAIL_IMMEDIATELY 0x00000010u

/* Size of one SMB2_LOCK_ELEMENT on the wire: Offset(8) Length(8) Flags(4) Reserved(4). */
#define SMB2_LOCK_ELEMENT_SIZE 24

struct smb2_lock_element {
	uint64_t offset;
	uint64_t length;
	uint32_t flags;
};

struct smb2_lock_req {
	uint16_t lock_count;          /* >= 1 */
	uint8_t lock_sequence_number; /* low 4 bits of the 32-bit field (2.2.26) */
	uint32_t lock_sequence_index; /* high 28 bits; valid indexes are 1..64 */
	uint64_t persistent_id, volatile_id;
	const uint8_t *locks;         /* into msg: lock_count elements of SMB2_LOCK_ELEMENT_SIZE */
};

/* Validates StructureSize 48, LockCount >= 1 and that every element lies
 * inside the message. */
uint32_t smb2_lock_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_lock_req *out);
/* Element i (< lock_count) of a decoded request. */
void smb2_lock_req_element(const struct smb2_lock_req *r, unsigned i, struct smb2_lock_element *out);
/* Appends the 4-byte response body (2.2.27). */
void smb2_lock_rsp_encode(struct wbuf *w, size_t hdr_off);

#endif
