/* DCE/RPC connection-oriented PDUs and NDR helpers; see dcerpc.h. */
#include "wire/dcerpc.h"

#include <stdlib.h>
#include <string.h>

#include "common/utf16.h"

/* UUIDs are marshalled as in C706 appendix A: time_low, time_mid and
 * time_hi_and_version little-endian (NDR), the last 8 bytes as given. */
const struct dcerpc_syntax_id dcerpc_ndr32_syntax = {
	{ 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60 }, 2, 0 };
const struct dcerpc_syntax_id dcerpc_ndr64_syntax = {
	{ 0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36 }, 1, 0 };
const struct dcerpc_syntax_id dcerpc_srvsvc_syntax = {
	{ 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88 }, 3, 0 };

/* 6cb71c2c-9812-4540: the fixed part of the bind time feature negotiation
 * pseudo transfer syntax (MS-RPCE 3.3.1.5.3). */
static const uint8_t bind_time_feature_prefix[8] = { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45 };

bool dcerpc_syntax_eq(const struct dcerpc_syntax_id *a, const struct dcerpc_syntax_id *b)
{
	return memcmp(a->uuid, b->uuid, 16) == 0 && a->vers_major == b->vers_major && a->vers_minor == b->vers_minor;
}

bool dcerpc_is_bind_time_feature_syntax(const struct dcerpc_syntax_id *s)
{
	return memcmp(s->uuid, bind_time_feature_prefix, sizeof(bind_time_feature_prefix)) == 0;
}

/* ------------------------------------------------------------ header */

bool dcerpc_hdr_decode(const uint8_t *p, size_t len, struct dcerpc_hdr *h)
{
	struct rbuf r = rbuf_make(p, len);
	h->rpc_vers = rbuf_u8(&r);
	h->rpc_vers_minor = rbuf_u8(&r);
	h->ptype = rbuf_u8(&r);
	h->pfc_flags = rbuf_u8(&r);
	rbuf_copy(&r, h->drep, 4);
	h->frag_length = rbuf_u16(&r);
	h->auth_length = rbuf_u16(&r);
	h->call_id = rbuf_u32(&r);
	if (r.err) return false;
	/* C706 12.6.3.1: major version 5, minor 0 or 1. */
	if (h->rpc_vers != 5 || h->rpc_vers_minor > 1) return false;
	/* drep[0]: high nibble integer representation (1 = little-endian),
	 * low nibble character set (0 = ASCII); drep[1] float (0 = IEEE).  We
	 * only speak what every Windows and Samba client sends. */
	if ((h->drep[0] & 0xF0) != 0x10 || (h->drep[0] & 0x0F) != 0 || h->drep[1] != 0) return false;
	if (h->frag_length < DCERPC_HDR_SIZE) return false;
	return true;
}

void dcerpc_hdr_encode(struct wbuf *w, uint8_t ptype, uint8_t pfc_flags, uint32_t call_id)
{
	wbuf_u8(w, 5);
	wbuf_u8(w, 0);
	wbuf_u8(w, ptype);
	wbuf_u8(w, pfc_flags);
	wbuf_u8(w, 0x10);   /* little-endian, ASCII */
	wbuf_u8(w, 0);      /* IEEE float */
	wbuf_u16(w, 0);
	wbuf_u16(w, 0);     /* frag_length, patched later */
	wbuf_u16(w, 0);     /* auth_length: we never sign/seal at the RPC level */
	wbuf_u32(w, call_id);
}

void dcerpc_set_frag_length(struct wbuf *w, size_t pdu_off)
{
	if (w->err || w->len < pdu_off) return;
	size_t n = w->len - pdu_off;
	if (n > UINT16_MAX) {
		w->err = true;
		return;
	}
	wbuf_set_u16(w, pdu_off + 8, (uint16_t)n);
}

/* ------------------------------------------------------------ bind */

static void pull_syntax(struct rbuf *r, struct dcerpc_syntax_id *s)
{
	rbuf_copy(r, s->uuid, 16);
	s->vers_major = rbuf_u16(r);
	s->vers_minor = rbuf_u16(r);
}

static void push_syntax(struct wbuf *w, const struct dcerpc_syntax_id *s)
{
	wbuf_bytes(w, s->uuid, 16);
	wbuf_u16(w, s->vers_major);
	wbuf_u16(w, s->vers_minor);
}

bool dcerpc_bind_decode(const uint8_t *p, size_t len, struct dcerpc_bind *b)
{
	struct rbuf r = rbuf_make(p, len);
	memset(b, 0, sizeof(*b));
	rbuf_skip(&r, DCERPC_HDR_SIZE);
	b->max_xmit_frag = rbuf_u16(&r);
	b->max_recv_frag = rbuf_u16(&r);
	b->assoc_group_id = rbuf_u32(&r);
	/* p_cont_list_t: n_context_elem (u8), reserved (u8), reserved2 (u16) */
	uint8_t n = rbuf_u8(&r);
	rbuf_skip(&r, 3);
	if (r.err || n > DCERPC_MAX_CTX) return false;
	b->n_ctx = n;
	for (unsigned i = 0; i < n; i++) {
		struct dcerpc_ctx_elem *c = &b->ctx[i];
		c->ctx_id = rbuf_u16(&r);
		c->n_transfer = rbuf_u8(&r);
		rbuf_skip(&r, 1);
		if (r.err || c->n_transfer > DCERPC_MAX_XFER) return false;
		pull_syntax(&r, &c->abstract);
		for (unsigned j = 0; j < c->n_transfer; j++) pull_syntax(&r, &c->transfer[j]);
	}
	return !r.err;
}

void dcerpc_bind_ack_encode(struct wbuf *w, uint8_t ptype, uint32_t call_id,
			    uint16_t max_xmit_frag, uint16_t max_recv_frag, uint32_t assoc_group_id,
			    const char *sec_addr, const struct dcerpc_ctx_result *results, unsigned nresults)
{
	size_t pdu = w->len;
	dcerpc_hdr_encode(w, ptype, DCERPC_PFC_FIRST_FRAG | DCERPC_PFC_LAST_FRAG, call_id);
	wbuf_u16(w, max_xmit_frag);
	wbuf_u16(w, max_recv_frag);
	wbuf_u32(w, assoc_group_id);
	/* port_any_t: length including the NUL, then the ASCII string; an
	 * empty address is sent as length 0 (C706 12.6.4.4). */
	size_t alen = (sec_addr && *sec_addr) ? strlen(sec_addr) + 1 : 0;
	if (alen > UINT16_MAX) alen = 0;
	wbuf_u16(w, (uint16_t)alen);
	if (alen) wbuf_bytes(w, sec_addr, alen);
	wbuf_align(w, pdu, 4);
	/* p_result_list_t */
	wbuf_u8(w, (uint8_t)nresults);
	wbuf_u8(w, 0);
	wbuf_u16(w, 0);
	for (unsigned i = 0; i < nresults; i++) {
		wbuf_u16(w, results[i].result);
		wbuf_u16(w, results[i].reason);
		push_syntax(w, &results[i].transfer);
	}
	dcerpc_set_frag_length(w, pdu);
}

void dcerpc_bind_nak_encode(struct wbuf *w, uint32_t call_id, uint16_t reason)
{
	size_t pdu = w->len;
	dcerpc_hdr_encode(w, DCERPC_PKT_BIND_NAK, DCERPC_PFC_FIRST_FRAG | DCERPC_PFC_LAST_FRAG, call_id);
	wbuf_u16(w, reason);
	/* p_rt_versions_supported_t: one version, 5.0 */
	wbuf_u8(w, 1);
	wbuf_u8(w, 5);
	wbuf_u8(w, 0);
	wbuf_align(w, pdu, 4);
	dcerpc_set_frag_length(w, pdu);
}

/* ------------------------------------------------------------ request */

bool dcerpc_request_decode(const uint8_t *p, size_t len, const struct dcerpc_hdr *h, struct dcerpc_request *req)
{
	memset(req, 0, sizeof(*req));
	if (h->frag_length > len) return false;
	len = h->frag_length;
	struct rbuf r = rbuf_make(p, len);
	rbuf_skip(&r, DCERPC_HDR_SIZE);
	req->alloc_hint = rbuf_u32(&r);
	req->ctx_id = rbuf_u16(&r);
	req->opnum = rbuf_u16(&r);
	if (h->pfc_flags & DCERPC_PFC_OBJECT_UUID) {
		req->has_object = true;
		rbuf_copy(&r, req->object, 16);
	}
	if (r.err) return false;
	size_t end = len;
	if (h->auth_length) {
		/* The auth verifier sits at the end: sec_trailer (8 bytes, whose
		 * third byte is auth_pad_length) followed by auth_length bytes
		 * of credentials (C706 13.2.6.1, MS-RPCE 2.2.2.11).  The stub
		 * ends before the pad. */
		size_t trailer = (size_t)h->auth_length + 8;
		if (trailer > end - r.off) return false;
		end -= trailer;
		uint8_t pad = p[end + 2];
		if (pad > end - r.off) return false;
		end -= pad;
	}
	req->stub = p + r.off;
	req->stub_len = end - r.off;
	return true;
}

void dcerpc_response_encode(struct wbuf *w, uint32_t call_id, uint8_t pfc_flags, uint32_t alloc_hint,
			    uint16_t ctx_id, const uint8_t *stub, size_t stub_len)
{
	size_t pdu = w->len;
	dcerpc_hdr_encode(w, DCERPC_PKT_RESPONSE, pfc_flags, call_id);
	wbuf_u32(w, alloc_hint);
	wbuf_u16(w, ctx_id);
	wbuf_u8(w, 0);  /* cancel_count */
	wbuf_u8(w, 0);
	wbuf_bytes(w, stub, stub_len);
	dcerpc_set_frag_length(w, pdu);
}

void dcerpc_response_encode_fragmented(struct wbuf *w, uint32_t call_id, uint16_t ctx_id,
				       const uint8_t *stub, size_t stub_len, uint16_t max_frag)
{
	if (max_frag < DCERPC_RESPONSE_HDR_SIZE + 8) {
		w->err = true;
		return;
	}
	/* Keep every fragment's stub a multiple of 8 so that no fragment
	 * boundary splits an NDR primitive; receivers do not need this, but
	 * it makes captures easier to read. */
	size_t chunk = ((size_t)max_frag - DCERPC_RESPONSE_HDR_SIZE) & ~(size_t)7;
	size_t off = 0;
	do {
		size_t n = stub_len - off < chunk ? stub_len - off : chunk;
		uint8_t flags = 0;
		if (off == 0) flags |= DCERPC_PFC_FIRST_FRAG;
		if (off + n == stub_len) flags |= DCERPC_PFC_LAST_FRAG;
		/* alloc_hint: the stub bytes that remain from this fragment on
		 * (C706 12.6.4.10), a sizing hint for the receiver. */
		size_t remaining = stub_len - off;
		dcerpc_response_encode(w, call_id, flags, remaining > UINT32_MAX ? UINT32_MAX : (uint32_t)remaining,
				       ctx_id, stub + off, n);
		off += n;
	} while (off < stub_len && !w->err);
}

void dcerpc_fault_encode(struct wbuf *w, uint32_t call_id, uint16_t ctx_id, uint32_t status, bool did_not_execute)
{
	size_t pdu = w->len;
	uint8_t flags = DCERPC_PFC_FIRST_FRAG | DCERPC_PFC_LAST_FRAG;
	if (did_not_execute) flags |= DCERPC_PFC_DID_NOT_EXECUTE;
	dcerpc_hdr_encode(w, DCERPC_PKT_FAULT, flags, call_id);
	wbuf_u32(w, 0);        /* alloc_hint */
	wbuf_u16(w, ctx_id);
	wbuf_u8(w, 0);         /* cancel_count */
	wbuf_u8(w, 0);
	wbuf_u32(w, status);
	wbuf_u32(w, 0);        /* reserved */
	dcerpc_set_frag_length(w, pdu);
}

/* ------------------------------------------------------------ NDR push */

void ndr_push_init(struct ndr_push *n, struct wbuf *w)
{
	n->w = w;
	n->base = w->len;
	/* Referent ids only need to be unique and non-zero; Windows starts at
	 * 0x00020000 and counts up by 4, which is what captures show. */
	n->next_ref = 0x00020000;
}

void ndr_push_align(struct ndr_push *n, size_t a)
{
	/* Only touch the buffer when padding is needed: wbuf_align on a
	 * still-empty buffer would hand memset a NULL pointer. */
	struct wbuf *w = n->w;
	if (w->err || w->len < n->base) return;
	size_t pad = (a - ((w->len - n->base) & (a - 1))) & (a - 1);
	if (pad) wbuf_zero(w, pad);
}

void ndr_push_u16(struct ndr_push *n, uint16_t v)
{
	ndr_push_align(n, 2);
	wbuf_u16(n->w, v);
}

void ndr_push_u32(struct ndr_push *n, uint32_t v)
{
	ndr_push_align(n, 4);
	wbuf_u32(n->w, v);
}

bool ndr_push_ptr(struct ndr_push *n, bool present)
{
	if (!present) {
		ndr_push_u32(n, 0);
		return false;
	}
	ndr_push_u32(n, n->next_ref);
	n->next_ref += 4;
	return true;
}

void ndr_push_string(struct ndr_push *n, const char *s)
{
	if (!s) s = "";
	long bytes = utf8_utf16_size(s, strlen(s));
	if (bytes < 0 || bytes / 2 >= (long)UINT32_MAX) {
		n->w->err = true;
		return;
	}
	uint32_t count = (uint32_t)(bytes / 2) + 1;   /* with the NUL */
	ndr_push_u32(n, count);   /* max_count */
	ndr_push_u32(n, 0);       /* offset */
	ndr_push_u32(n, count);   /* actual_count */
	if (utf8_to_utf16le(n->w, s, strlen(s)) < 0) n->w->err = true;
	wbuf_u16(n->w, 0);
}

/* ------------------------------------------------------------ NDR pull */

void ndr_pull_init(struct ndr_pull *n, const uint8_t *stub, size_t len) { n->r = rbuf_make(stub, len); }

void ndr_pull_align(struct ndr_pull *n, size_t a)
{
	if (n->r.err) return;
	size_t pad = (a - (n->r.off & (a - 1))) & (a - 1);
	rbuf_skip(&n->r, pad);
}

uint16_t ndr_pull_u16(struct ndr_pull *n)
{
	ndr_pull_align(n, 2);
	return rbuf_u16(&n->r);
}

uint32_t ndr_pull_u32(struct ndr_pull *n)
{
	ndr_pull_align(n, 4);
	return rbuf_u32(&n->r);
}

char *ndr_pull_string(struct ndr_pull *n, uint32_t max_chars)
{
	uint32_t max_count = ndr_pull_u32(n);
	uint32_t offset = ndr_pull_u32(n);
	uint32_t actual = ndr_pull_u32(n);
	if (n->r.err) return NULL;
	/* C706 14.3.3.3: offset is 0 for strings, actual_count <= max_count,
	 * and a [string] must carry its terminator. */
	if (offset != 0 || actual > max_count || actual == 0 || actual > max_chars) {
		n->r.err = true;
		return NULL;
	}
	const uint8_t *chars = rbuf_ptr(&n->r, (size_t)actual * 2);
	if (!chars || get_le16(chars + ((size_t)actual - 1) * 2) != 0) {
		n->r.err = true;
		return NULL;
	}
	char *s;
	if (actual == 1) {
		s = strdup("");
	} else {
		s = utf16le_to_utf8(chars, ((size_t)actual - 1) * 2, NULL);
	}
	if (!s) n->r.err = true;
	return s;
}
