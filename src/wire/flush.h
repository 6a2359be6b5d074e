/* SMB2 FLUSH (MS-SMB2 2.2.17 request, 2.2.18 response). */
#ifndef SMBKIT_WIRE_FLUSH_H
#define SMBKIT_WIRE_FLUSH_H

#include "wire/smb2.h"

struct smb2_flush_req {
	uint64_t persistent_id, volatile_id;
};

uint32_t smb2_flush_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_flush_req *out);
void smb2_flush_rsp_encode(struct wbuf *w, size_t hdr_off);

#endif
