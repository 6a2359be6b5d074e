/* Oplocks and leases on the wire: the RqLs create context (MS-SMB2
 * 2.2.13.2.8 v1, 2.2.13.2.10 v2) and its response (2.2.14.2.10, 2.2.14.2.11),
 * and the OPLOCK_BREAK messages: notifications (2.2.23.1 oplock, 2.2.23.2
 * lease), acknowledgements (2.2.24.1, 2.2.24.2) and responses (2.2.25.1,
 * 2.2.25.2). */
#ifndef SMBKIT_WIRE_LEASE_H
#define SMBKIT_WIRE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/smb2.h"

/* LeaseState bits (2.2.13.2.8). */
#define SMB2_LEASE_NONE           0x00u
#define SMB2_LEASE_READ_CACHING   0x01u
#define SMB2_LEASE_HANDLE_CACHING 0x02u
#define SMB2_LEASE_WRITE_CACHING  0x04u
#define SMB2_LEASE_ALL (SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING | SMB2_LEASE_WRITE_CACHING)

/* LeaseFlags: request/response (2.2.13.2.10, 2.2.14.2.10). */
#define SMB2_LEASE_FLAG_BREAK_IN_PROGRESS     0x00000002u
#define SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET  0x00000004u

/* Lease break notification Flags (2.2.23.2). */
#define SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED 0x00000001u

#define SMB2_LEASE_V1_SIZE 32
#define SMB2_LEASE_V2_SIZE 52

/* Body sizes (StructureSize) of the OPLOCK_BREAK messages. */
#define SMB2_OPLOCK_BREAK_SIZE 24   /* oplock notification, ack and response */
#define SMB2_LEASE_BREAK_NOTIFY_SIZE 44
#define SMB2_LEASE_BREAK_ACK_SIZE 36 /* lease ack and response */

struct smb2_lease_ctx {
	uint8_t version;              /* 1 or 2, from the context length */
	uint8_t key[16];
	uint32_t state;
	uint32_t flags;
	uint64_t duration;            /* reserved, 0 */
	uint8_t parent_key[16];       /* v2, valid when flags has PARENT_LEASE_KEY_SET */
	uint16_t epoch;               /* v2 */
};

/* Decodes the data of an RqLs context: 32 bytes is v1, 52 bytes v2; any
 * other length is STATUS_INVALID_PARAMETER... except that MS-SMB2 3.3.5.9.8
 * says the server ignores a malformed lease context: callers treat an error
 * as "no lease requested". */
uint32_t smb2_lease_ctx_decode(const uint8_t *data, size_t len, struct smb2_lease_ctx *out);
/* Encodes a response context body (32 or 52 bytes per l->version) into
 * out (at least SMB2_LEASE_V2_SIZE bytes); returns its length. */
size_t smb2_lease_ctx_encode(uint8_t *out, const struct smb2_lease_ctx *l);

/* OPLOCK_BREAK request (acknowledgement) from the client: either form. */
struct smb2_oplock_break_req {
	bool is_lease;                /* StructureSize 36 */
	/* oplock ack (2.2.24.1) */
	uint8_t oplock_level;
	uint64_t persistent_id, volatile_id;
	/* lease ack (2.2.24.2) */
	uint32_t flags;
	uint8_t lease_key[16];
	uint32_t lease_state;
	uint64_t lease_duration;
};

uint32_t smb2_oplock_break_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_oplock_break_req *out);
/* 2.2.25.1 oplock break response body. */
void smb2_oplock_break_rsp_encode(struct wbuf *w, uint8_t level, uint64_t persistent_id, uint64_t volatile_id);
/* 2.2.25.2 lease break response body. */
void smb2_lease_break_rsp_encode(struct wbuf *w, const uint8_t key[16], uint32_t state);
/* 2.2.23.1 oplock break notification body (after the header). */
void smb2_oplock_break_notify_encode(struct wbuf *w, uint8_t level, uint64_t persistent_id, uint64_t volatile_id);
/* 2.2.23.2 lease break notification body. */
void smb2_lease_break_notify_encode(struct wbuf *w, uint16_t new_epoch, uint32_t flags, const uint8_t key[16],
				    uint32_t current_state, uint32_t new_state);

#endif
