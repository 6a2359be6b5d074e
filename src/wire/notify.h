/* SMB2 CHANGE_NOTIFY request (MS-SMB2 2.2.35).  Decoder conventions: see
 * the top of wire/smb2.h. */
#ifndef SMBKIT_WIRE_NOTIFY_H
#define SMBKIT_WIRE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "wire/ntstatus.h"
#include "wire/smb2.h"

#define SMB2_WATCH_TREE 0x0001u   /* Flags: watch the whole subtree */

struct smb2_notify_req {
	uint16_t flags;
	uint32_t output_buffer_length;
	uint64_t persistent_id, volatile_id;
	uint32_t completion_filter;
};

uint32_t smb2_notify_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_notify_req *out);

#endif
