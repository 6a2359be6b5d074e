/* SMB2 SET_INFO request/response (MS-SMB2 2.2.39, 2.2.40). */
#ifndef SMBKIT_WIRE_SET_INFO_H
#define SMBKIT_WIRE_SET_INFO_H

#include "wire/smb2.h"

struct smb2_set_info_req {
	uint8_t info_type;              /* SMB2_0_INFO_* */
	uint8_t file_info_class;
	const uint8_t *buffer;          /* into msg; NULL when buffer_len is 0 */
	uint32_t buffer_len;
	uint32_t additional_information;
	uint64_t persistent_id, volatile_id;
};

uint32_t smb2_set_info_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_set_info_req *out);
/* The response has no fields besides StructureSize (2). */
void smb2_set_info_rsp_encode(struct wbuf *w, size_t hdr_off);

#endif
