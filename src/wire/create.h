/* SMB2 CREATE request/response and create contexts (MS-SMB2 2.2.13, 2.2.14). */
#ifndef SMBKIT_WIRE_CREATE_H
#define SMBKIT_WIRE_CREATE_H

#include <stdint.h>

#include "wire/smb2.h"

/* Create context tags (2.2.13.2), as the 4 name bytes appear on the wire. */
#define SMB2_CREATE_EA_BUFFER              "ExtA"
#define SMB2_CREATE_SD_BUFFER              "SecD"
#define SMB2_CREATE_DURABLE_HANDLE_REQUEST "DHnQ"
#define SMB2_CREATE_DURABLE_HANDLE_RECONNECT "DHnC"
#define SMB2_CREATE_ALLOCATION_SIZE        "AlSi"
#define SMB2_CREATE_QUERY_MAXIMAL_ACCESS   "MxAc"
#define SMB2_CREATE_TIMEWARP_TOKEN         "TWrp"
#define SMB2_CREATE_QUERY_ON_DISK_ID       "QFid"
#define SMB2_CREATE_REQUEST_LEASE          "RqLs"
#define SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 "DH2Q"
/* 2.2.13.2.13: SMB2_CREATE_APP_INSTANCE_ID, a 16-byte GUID tag
 * {6AA6BC45-A7EF-4AF7-9008-FA462E144D74} in its on-the-wire byte order; the
 * data is StructureSize (2, = 20), Reserved (2), AppInstanceId (16). */
#define SMB2_CREATE_APP_INSTANCE_ID "\x45\xBC\xA6\x6A\xEF\xA7\xF7\x4A\x90\x08\xFA\x46\x2E\x14\x4D\x74"
#define SMB2_CREATE_APP_INSTANCE_ID_SIZE 20
#define SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 "DH2C"

/* Upper bound on contexts in one request; more is treated as malformed. */
#define SMB2_CREATE_MAX_CONTEXTS 32

/* One create context: pointers into the request (or into caller memory for
 * responses). */
struct smb2_create_context {
	const uint8_t *name;
	uint16_t name_len;
	const uint8_t *data;
	uint32_t data_len;
};

struct smb2_create_req {
	uint8_t security_flags;
	uint8_t requested_oplock_level;
	uint32_t impersonation_level;
	uint64_t smb_create_flags;
	uint32_t desired_access;
	uint32_t file_attributes;
	uint32_t share_access;
	uint32_t create_disposition;
	uint32_t create_options;
	const uint8_t *name;      /* UTF-16LE, not terminated */
	uint16_t name_len;        /* bytes */
	struct smb2_create_context ctx[SMB2_CREATE_MAX_CONTEXTS];
	unsigned nctx;
};

struct smb2_create_rsp {
	uint8_t oplock_level;
	uint8_t flags;
	uint32_t create_action;
	struct smb2_file_basics basics;
	uint64_t persistent_id, volatile_id;
	const struct smb2_create_context *ctx;
	unsigned nctx;
};

uint32_t smb2_create_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_create_req *out);
void smb2_create_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_create_rsp *r);

/* Finds a context by its 4-character tag; NULL if absent. */
const struct smb2_create_context *smb2_create_find_context(const struct smb2_create_req *r, const char *tag);

/* Parses a create-context chain (2.2.13.2) of len bytes at p into ctx[max].
 * Returns STATUS_SUCCESS or STATUS_INVALID_PARAMETER. */
uint32_t smb2_create_contexts_parse(const uint8_t *p, size_t len, struct smb2_create_context *ctx,
				    unsigned max, unsigned *n);
/* Appends a create-context chain, each context 8-byte aligned. */
void smb2_create_contexts_encode(struct wbuf *w, const struct smb2_create_context *ctx, unsigned n);

#endif
