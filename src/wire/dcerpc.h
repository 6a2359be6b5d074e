/* DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2) and the
 * small part of NDR (C706 chapter 14) that the srvsvc pipe needs.
 *
 * Pure encode/decode over byte buffers, like the rest of src/wire: decoders
 * take (data, len), check every count against what is left, and return false
 * on malformed input; encoders append to a struct wbuf and latch its err.
 * Only little-endian, ASCII, IEEE data representation is spoken; a PDU whose
 * packed_drep says otherwise is rejected by the decoder.
 */
#ifndef SMBKIT_WIRE_DCERPC_H
#define SMBKIT_WIRE_DCERPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define DCERPC_HDR_SIZE 16
#define DCERPC_REQUEST_HDR_SIZE 24   /* common header + alloc_hint, p_cont_id, opnum */
#define DCERPC_RESPONSE_HDR_SIZE 24  /* common header + alloc_hint, p_cont_id, cancel_count, reserved */

/* PTYPE values (C706 12.6.4.1) */
enum dcerpc_ptype {
	DCERPC_PKT_REQUEST = 0,
	DCERPC_PKT_RESPONSE = 2,
	DCERPC_PKT_FAULT = 3,
	DCERPC_PKT_BIND = 11,
	DCERPC_PKT_BIND_ACK = 12,
	DCERPC_PKT_BIND_NAK = 13,
	DCERPC_PKT_ALTER_CONTEXT = 14,
	DCERPC_PKT_ALTER_CONTEXT_RESP = 15,
	DCERPC_PKT_AUTH3 = 16,
	DCERPC_PKT_SHUTDOWN = 17,
	DCERPC_PKT_CO_CANCEL = 18,
	DCERPC_PKT_ORPHANED = 19,
};

/* pfc_flags (C706 12.6.3.1) */
#define DCERPC_PFC_FIRST_FRAG 0x01
#define DCERPC_PFC_LAST_FRAG 0x02
#define DCERPC_PFC_PENDING_CANCEL 0x04
#define DCERPC_PFC_CONC_MPX 0x10
#define DCERPC_PFC_DID_NOT_EXECUTE 0x20
#define DCERPC_PFC_MAYBE 0x40
#define DCERPC_PFC_OBJECT_UUID 0x80

/* Presentation context results (C706 12.6.3.1 p_cont_def_result_t) and
 * reasons (p_provider_reason_t). */
#define DCERPC_RESULT_ACCEPTANCE 0
#define DCERPC_RESULT_USER_REJECTION 1
#define DCERPC_RESULT_PROVIDER_REJECTION 2
#define DCERPC_RESULT_NEGOTIATE_ACK 3   /* MS-RPCE 2.2.2.4: bind time feature negotiation */
#define DCERPC_REASON_NOT_SPECIFIED 0
#define DCERPC_REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED 1
#define DCERPC_REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED 2
#define DCERPC_REASON_LOCAL_LIMIT_EXCEEDED 3

/* bind_nak reject reasons (C706 12.6.4.4) */
#define DCERPC_BIND_NAK_REASON_NOT_SPECIFIED 0
#define DCERPC_BIND_NAK_PROTOCOL_VERSION_NOT_SUPPORTED 4

/* Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11). */
#define DCERPC_NCA_S_OP_RNG_ERROR 0x1C010002u
#define DCERPC_NCA_S_UNKNOWN_IF 0x1C010003u
#define DCERPC_NCA_S_PROTO_ERROR 0x1C01000Bu
#define DCERPC_NCA_S_FAULT_NDR 0x000006F7u          /* RPC_X_BAD_STUB_DATA */
#define DCERPC_NCA_S_FAULT_REMOTE_NO_MEMORY 0x1C000016u
#define DCERPC_NCA_S_UNSPEC_REJECT 0x1C000009u

struct dcerpc_syntax_id {
	uint8_t uuid[16];       /* in NDR (little-endian fields) byte order, as on the wire */
	uint16_t vers_major;
	uint16_t vers_minor;
};

/* The well-known syntaxes, in wire byte order. */
extern const struct dcerpc_syntax_id dcerpc_ndr32_syntax;      /* 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0 */
extern const struct dcerpc_syntax_id dcerpc_ndr64_syntax;      /* 71710533-beba-4937-8319-b5dbef9ccc36 v1.0 */
extern const struct dcerpc_syntax_id dcerpc_srvsvc_syntax;     /* 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 */
/* Bind time feature negotiation (MS-RPCE 3.3.1.5.3): uuid
 * 6cb71c2c-9812-4540-XXXX-XXXXXXXXXXXX where the first 8 bytes match;
 * the last 8 bytes carry the client's feature bits. */
bool dcerpc_is_bind_time_feature_syntax(const struct dcerpc_syntax_id *s);
bool dcerpc_syntax_eq(const struct dcerpc_syntax_id *a, const struct dcerpc_syntax_id *b);

/* Common header (C706 12.6.3.1). */
struct dcerpc_hdr {
	uint8_t rpc_vers, rpc_vers_minor;
	uint8_t ptype;
	uint8_t pfc_flags;
	uint8_t drep[4];
	uint16_t frag_length;
	uint16_t auth_length;
	uint32_t call_id;
};

/* Decodes the 16-byte common header.  Returns false if len < 16, the version
 * is not 5.0/5.1, the data representation is not little-endian ASCII IEEE,
 * or frag_length is below 16.  Does not require len >= frag_length. */
bool dcerpc_hdr_decode(const uint8_t *p, size_t len, struct dcerpc_hdr *h);
/* Writes a common header with frag_length 0 (patch it with
 * dcerpc_set_frag_length once the PDU is complete). */
void dcerpc_hdr_encode(struct wbuf *w, uint8_t ptype, uint8_t pfc_flags, uint32_t call_id);
/* Sets frag_length of the PDU starting at pdu_off to w->len - pdu_off. */
void dcerpc_set_frag_length(struct wbuf *w, size_t pdu_off);

/* ---- bind / alter_context (C706 12.6.4.3) ---- */

#define DCERPC_MAX_CTX 16
#define DCERPC_MAX_XFER 8

struct dcerpc_ctx_elem {
	uint16_t ctx_id;
	struct dcerpc_syntax_id abstract;
	uint8_t n_transfer;
	struct dcerpc_syntax_id transfer[DCERPC_MAX_XFER];
};

struct dcerpc_bind {
	uint16_t max_xmit_frag, max_recv_frag;
	uint32_t assoc_group_id;
	uint8_t n_ctx;
	struct dcerpc_ctx_elem ctx[DCERPC_MAX_CTX];
};

/* Decodes the body of a BIND or ALTER_CONTEXT PDU (whole PDU in p, len =
 * frag_length).  Returns false on truncation or more than DCERPC_MAX_CTX
 * contexts / DCERPC_MAX_XFER transfer syntaxes per context. */
bool dcerpc_bind_decode(const uint8_t *p, size_t len, struct dcerpc_bind *b);

struct dcerpc_ctx_result {
	uint16_t result;
	uint16_t reason;
	struct dcerpc_syntax_id transfer;  /* accepted syntax, zero when rejected */
};

/* Appends a whole BIND_ACK (or ALTER_CONTEXT_RESP when ptype says so) PDU.
 * sec_addr is the secondary address string, e.g. "\\PIPE\\srvsvc" (NULL or
 * "" for none, as alter_context_resp uses). */
void dcerpc_bind_ack_encode(struct wbuf *w, uint8_t ptype, uint32_t call_id,
			    uint16_t max_xmit_frag, uint16_t max_recv_frag, uint32_t assoc_group_id,
			    const char *sec_addr, const struct dcerpc_ctx_result *results, unsigned nresults);
/* Appends a BIND_NAK with one protocol version (5.0). */
void dcerpc_bind_nak_encode(struct wbuf *w, uint32_t call_id, uint16_t reason);

/* ---- request / response / fault (C706 12.6.4.9, 12.6.4.10, 12.6.4.7) ---- */

struct dcerpc_request {
	uint32_t alloc_hint;
	uint16_t ctx_id;
	uint16_t opnum;
	bool has_object;
	uint8_t object[16];
	const uint8_t *stub;   /* points into the PDU */
	size_t stub_len;       /* excludes the auth verifier and its padding */
};

/* Decodes a REQUEST PDU (whole PDU in p, len = frag_length, header in h). */
bool dcerpc_request_decode(const uint8_t *p, size_t len, const struct dcerpc_hdr *h, struct dcerpc_request *r);

/* Appends one RESPONSE fragment carrying stub[0..stub_len). */
void dcerpc_response_encode(struct wbuf *w, uint32_t call_id, uint8_t pfc_flags, uint32_t alloc_hint,
			    uint16_t ctx_id, const uint8_t *stub, size_t stub_len);
/* Appends a whole response, split into fragments of at most max_frag bytes
 * (max_frag >= DCERPC_RESPONSE_HDR_SIZE + 8). */
void dcerpc_response_encode_fragmented(struct wbuf *w, uint32_t call_id, uint16_t ctx_id,
				       const uint8_t *stub, size_t stub_len, uint16_t max_frag);
/* Appends a FAULT PDU. */
void dcerpc_fault_encode(struct wbuf *w, uint32_t call_id, uint16_t ctx_id, uint32_t status, bool did_not_execute);

/* ---- NDR (transfer syntax NDR 2.0, little-endian) ----
 *
 * Alignment in NDR is relative to the start of the stub data, so both the
 * reader and writer remember where the stub begins. */

struct ndr_push {
	struct wbuf *w;
	size_t base;          /* offset of the stub's first byte in w */
	uint32_t next_ref;    /* next referent id handed out for a non-NULL pointer */
};

void ndr_push_init(struct ndr_push *n, struct wbuf *w);
void ndr_push_align(struct ndr_push *n, size_t a);
void ndr_push_u16(struct ndr_push *n, uint16_t v);
void ndr_push_u32(struct ndr_push *n, uint32_t v);
/* A [unique] or [ptr] pointer: writes 0 when present is false, else a fresh
 * referent id.  Returns present. */
bool ndr_push_ptr(struct ndr_push *n, bool present);
/* A conformant varying [string] wchar_t array with its terminating NUL
 * (C706 14.3.4): max_count, offset 0, actual_count, UTF-16LE code units.
 * s is UTF-8; invalid UTF-8 latches w->err. */
void ndr_push_string(struct ndr_push *n, const char *s);

struct ndr_pull {
	struct rbuf r;        /* over the stub; alignment is relative to r.p */
};

void ndr_pull_init(struct ndr_pull *n, const uint8_t *stub, size_t len);
void ndr_pull_align(struct ndr_pull *n, size_t a);
uint16_t ndr_pull_u16(struct ndr_pull *n);
uint32_t ndr_pull_u32(struct ndr_pull *n);
/* Reads a conformant varying wide string and converts it to malloc'd UTF-8
 * (without the terminating NUL).  Returns NULL and latches r.err on
 * malformed input (offset != 0, actual > max, missing terminator, bad
 * UTF-16, more than max_chars code units). */
char *ndr_pull_string(struct ndr_pull *n, uint32_t max_chars);
static inline bool ndr_pull_ok(const struct ndr_pull *n) { return !n->r.err; }

#endif
