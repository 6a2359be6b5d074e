/* SESSION_SETUP (MS-SMB2 2.2.5/2.2.6), LOGOFF (2.2.7/2.2.8), and the
 * 4-byte bodies shared by LOGOFF, TREE_DISCONNECT and ECHO. */
#ifndef SMBKIT_WIRE_SESSION_SETUP_H
#define SMBKIT_WIRE_SESSION_SETUP_H

#include "wire/smb2.h"

struct smb2_session_setup_req {
	uint8_t flags;
	uint8_t security_mode;
	uint32_t capabilities;
	uint64_t previous_session_id;
	const uint8_t *security_blob;
	size_t security_blob_len;
};

uint32_t smb2_session_setup_req_decode(const uint8_t *msg, size_t len, struct smb2_session_setup_req *r);
void smb2_session_setup_rsp_encode(struct wbuf *w, size_t hdr_off, uint16_t session_flags,
				   const uint8_t *blob, size_t blob_len);
void smb2_session_setup_req_encode(struct wbuf *w, size_t hdr_off, const struct smb2_session_setup_req *r);

/* The StructureSize-4 body (LOGOFF, TREE_DISCONNECT, ECHO requests and responses). */
void smb2_empty4_encode(struct wbuf *w);

#endif
