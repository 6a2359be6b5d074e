/* SMB2 READ (MS-SMB2 2.2.19 request, 2.2.20 response). */
#ifndef SMBKIT_WIRE_READ_H
#define SMBKIT_WIRE_READ_H

#include "wire/smb2.h"

struct smb2_read_req {
	uint8_t padding;
	uint8_t flags;
	uint32_t length;
	uint64_t offset;
	uint64_t persistent_id, volatile_id;
	uint32_t minimum_count;
	uint32_t channel;
	uint32_t remaining_bytes;
	const uint8_t *channel_info;   /* into msg, or NULL */
	uint16_t channel_info_len;
};

/* The response body up to the data: StructureSize(2) DataOffset(1)
 * Reserved(1) DataLength(4) DataRemaining(4) Reserved2(4). */
#define SMB2_READ_RSP_FIXED 16
/* Data starts right after the fixed part: 64 + 16 = 0x50. */
#define SMB2_READ_RSP_DATA_OFFSET (SMB2_HDR_SIZE + SMB2_READ_RSP_FIXED)

uint32_t smb2_read_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_read_req *out);
/* Writes the fixed part for data_len bytes of data that the caller appends
 * (or has already placed) right after it. */
void smb2_read_rsp_encode_fixed(uint8_t *body, uint32_t data_len, uint32_t data_remaining);

#endif
