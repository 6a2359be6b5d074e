/* SMB2 QUERY_INFO request/response (MS-SMB2 2.2.37, 2.2.38). */
#ifndef SMBKIT_WIRE_QUERY_INFO_H
#define SMBKIT_WIRE_QUERY_INFO_H

#include "wire/smb2.h"

/* Flags for FileFullEaInformation queries (2.2.37). */
#define SL_RESTART_SCAN        0x00000001u
#define SL_RETURN_SINGLE_ENTRY 0x00000002u
#define SL_INDEX_SPECIFIED     0x00000004u

struct smb2_query_info_req {
	uint8_t info_type;              /* SMB2_0_INFO_* */
	uint8_t file_info_class;
	uint32_t output_buffer_length;
	const uint8_t *input;           /* into msg; NULL when input_len is 0 */
	uint32_t input_len;
	uint32_t additional_information;
	uint32_t flags;
	uint64_t persistent_id, volatile_id;
};

struct smb2_query_info_rsp {
	const uint8_t *data;
	uint32_t len;
};

uint32_t smb2_query_info_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_query_info_req *out);
void smb2_query_info_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_query_info_rsp *r);

#endif
