/* SMB2 NEGOTIATE request/response (MS-SMB2 2.2.3, 2.2.4) and negotiate
 * contexts (2.2.3.1, 2.2.4.1). */
#ifndef SMBKIT_WIRE_NEGOTIATE_H
#define SMBKIT_WIRE_NEGOTIATE_H

#include "wire/smb2.h"

#define SMB2_NEG_MAX_DIALECTS 64
#define SMB2_NEG_MAX_CONTEXTS 16

struct smb2_neg_context {
	uint16_t type;
	uint16_t data_len;
	const uint8_t *data;
};

struct smb2_negotiate_req {
	uint16_t dialect_count;
	uint16_t security_mode;
	uint32_t capabilities;
	uint8_t client_guid[16];
	uint16_t dialects[SMB2_NEG_MAX_DIALECTS];
	bool offers_311;
	struct smb2_neg_context contexts[SMB2_NEG_MAX_CONTEXTS];
	unsigned ncontexts;
};

/* Decodes the request.  Negotiate contexts are decoded only when 3.1.1 is
 * among the dialects (otherwise those bytes are ClientStartTime). */
uint32_t smb2_negotiate_req_decode(const uint8_t *msg, size_t len, struct smb2_negotiate_req *r);

struct smb2_negotiate_rsp {
	uint16_t security_mode;
	uint16_t dialect;
	uint8_t server_guid[16];
	uint32_t capabilities;
	uint32_t max_transact, max_read, max_write;
	uint64_t system_time, server_start_time;
	const uint8_t *security_blob;
	size_t security_blob_len;
	struct smb2_neg_context contexts[SMB2_NEG_MAX_CONTEXTS];
	unsigned ncontexts;
};

void smb2_negotiate_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_negotiate_rsp *r);

/* Client side (used by the smbkit client and tests). */
void smb2_negotiate_req_encode(struct wbuf *w, size_t hdr_off, const struct smb2_negotiate_req *r);

#endif
