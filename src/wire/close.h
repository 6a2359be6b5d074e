/* SMB2 CLOSE (MS-SMB2 2.2.15 request, 2.2.16 response). */
#ifndef SMBKIT_WIRE_CLOSE_H
#define SMBKIT_WIRE_CLOSE_H

#include "wire/smb2.h"

struct smb2_close_req {
	uint16_t flags;
	uint64_t persistent_id, volatile_id;
};

struct smb2_close_rsp {
	uint16_t flags;   /* SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB when basics is valid */
	struct smb2_file_basics basics;
};

uint32_t smb2_close_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_close_req *out);
void smb2_close_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_close_rsp *r);

#endif
