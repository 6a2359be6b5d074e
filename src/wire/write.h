/* SMB2 WRITE (MS-SMB2 2.2.21 request, 2.2.22 response). */
#ifndef SMBKIT_WIRE_WRITE_H
#define SMBKIT_WIRE_WRITE_H

#include "wire/smb2.h"

struct smb2_write_req {
	const uint8_t *data;     /* into msg */
	uint32_t length;
	uint64_t offset;
	uint64_t persistent_id, volatile_id;
	uint32_t channel;
	uint32_t remaining_bytes;
	const uint8_t *channel_info;
	uint16_t channel_info_len;
	uint32_t flags;
};

struct smb2_write_rsp {
	uint32_t count;
	uint32_t remaining;
};

uint32_t smb2_write_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_write_req *out);
void smb2_write_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_write_rsp *r);

#endif
