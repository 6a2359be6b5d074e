/* SMB2 IOCTL request/response (MS-SMB2 2.2.31, 2.2.32) and the payloads of
 * the FSCTLs the server answers itself: VALIDATE_NEGOTIATE_INFO (2.2.31.4,
 * 2.2.32.6) and NETWORK_INTERFACE_INFO (2.2.32.5).
 * Conventions: see the top of wire/smb2.h. */
#ifndef SMBKIT_WIRE_IOCTL_H
#define SMBKIT_WIRE_IOCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "wire/smb2.h"

#define SMB2_IOCTL_REQ_SIZE 57   /* StructureSize of the request */
#define SMB2_IOCTL_RSP_SIZE 49   /* StructureSize of the response */
#define SMB2_IOCTL_RSP_FIXED 48  /* fixed part of the response body */

struct smb2_ioctl_req {
	uint32_t ctl_code;
	uint64_t persistent_id, volatile_id;
	const uint8_t *input;          /* into msg; NULL when input_count is 0 */
	uint32_t input_count;
	uint32_t max_input_response;
	uint32_t output_count;         /* clients send 0; kept for validation */
	uint32_t max_output_response;
	uint32_t flags;
};

/* Validates StructureSize 57 and that the input (and any output) buffer the
 * client describes lies inside the message. */
uint32_t smb2_ioctl_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_ioctl_req *out);

struct smb2_ioctl_rsp {
	uint32_t ctl_code;
	uint64_t persistent_id, volatile_id;
	const uint8_t *output;
	uint32_t output_count;
};

/* Appends the response body; InputCount is 0 and the output starts at the
 * first 8-byte aligned offset after the fixed part (MS-SMB2 3.3.5.15). */
void smb2_ioctl_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_ioctl_rsp *r);

/* ---- FSCTL_VALIDATE_NEGOTIATE_INFO ---- */
#define VALIDATE_NEGOTIATE_MAX_DIALECTS 64
#define VALIDATE_NEGOTIATE_RSP_SIZE 24

struct validate_negotiate_req {
	uint32_t capabilities;
	uint8_t guid[16];
	uint16_t security_mode;
	uint16_t dialect_count;
	uint16_t dialects[VALIDATE_NEGOTIATE_MAX_DIALECTS];
};

/* Returns false if truncated, DialectCount is 0 or above the maximum. */
bool validate_negotiate_req_decode(const uint8_t *p, size_t len, struct validate_negotiate_req *out);
void validate_negotiate_rsp_encode(struct wbuf *w, uint32_t capabilities, const uint8_t guid[16],
				   uint16_t security_mode, uint16_t dialect);

/* ---- FSCTL_QUERY_NETWORK_INTERFACE_INFO ---- */
#define NETWORK_INTERFACE_INFO_SIZE 152
#define NETWORK_INTERFACE_CAP_RSS 0x1u
#define NETWORK_INTERFACE_CAP_RDMA 0x2u

struct network_interface {
	uint32_t if_index;
	uint32_t capability;
	uint64_t link_speed;     /* bits per second */
	int family;              /* AF_INET or AF_INET6 */
	uint8_t addr[16];        /* 4 bytes for AF_INET */
	uint32_t scope_id;       /* AF_INET6 */
};

/* Appends n NETWORK_INTERFACE_INFO entries, chained through Next. */
void network_interface_info_encode(struct wbuf *w, const struct network_interface *ifs, size_t n);

/* ---- FSCTL_SRV_COPYCHUNK / FSCTL_SRV_COPYCHUNK_WRITE ---- */
#define SRV_RESUME_KEY_SIZE 24          /* SourceKey / ResumeKey (2.2.32.3) */
#define SRV_COPYCHUNK_COPY_FIXED 32     /* SourceKey, ChunkCount, Reserved (2.2.31.1) */
#define SRV_COPYCHUNK_SIZE 24           /* one SRV_COPYCHUNK (2.2.31.1.1) */
#define SRV_COPYCHUNK_RSP_SIZE 12       /* SRV_COPYCHUNK_RESPONSE (2.2.32.1) */

struct srv_copychunk {
	uint64_t source_offset;
	uint64_t target_offset;
	uint32_t length;
};

struct srv_copychunk_copy {
	uint8_t source_key[SRV_RESUME_KEY_SIZE];
	uint32_t chunk_count;
	const uint8_t *chunks;   /* chunk_count * SRV_COPYCHUNK_SIZE bytes, inside the input */
};

enum srv_copychunk_decode_result {
	SRV_COPYCHUNK_OK,
	SRV_COPYCHUNK_NO_KEY,     /* shorter than SourceKey: nothing usable */
	SRV_COPYCHUNK_TRUNCATED,  /* SourceKey present, but the fixed part or the chunk array is cut */
};

/* Decodes SRV_COPYCHUNK_COPY.  On SRV_COPYCHUNK_TRUNCATED source_key and
 * (if present) chunk_count are filled, so the caller can still look up
 * the source and answer with the server limits as 3.3.5.15.6 asks. */
enum srv_copychunk_decode_result srv_copychunk_copy_decode(const uint8_t *p, size_t len,
							    struct srv_copychunk_copy *out);
/* Chunk i (< chunk_count) of a successfully decoded request. */
void srv_copychunk_get(const struct srv_copychunk_copy *c, uint32_t i, struct srv_copychunk *out);
void srv_copychunk_rsp_encode(struct wbuf *w, uint32_t chunks_written, uint32_t chunk_bytes_written,
			      uint32_t total_bytes_written);

#endif
