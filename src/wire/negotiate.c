/* SMB2 NEGOTIATE (MS-SMB2 2.2.3 / 2.2.4). */
#include "wire/negotiate.h"

uint32_t smb2_negotiate_req_decode(const uint8_t *msg, size_t len, struct smb2_negotiate_req *r)
{
	memset(r, 0, sizeof(*r));
	struct rbuf b = rbuf_make(msg, len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 36) return STATUS_INVALID_PARAMETER;
	r->dialect_count = rbuf_u16(&b);
	r->security_mode = rbuf_u16(&b);
	rbuf_skip(&b, 2);
	r->capabilities = rbuf_u32(&b);
	rbuf_copy(&b, r->client_guid, 16);
	uint32_t ctx_off = rbuf_u32(&b);
	uint16_t ctx_count = rbuf_u16(&b);
	rbuf_skip(&b, 2);
	if (b.err || r->dialect_count == 0 || r->dialect_count > SMB2_NEG_MAX_DIALECTS)
		return STATUS_INVALID_PARAMETER;
	for (unsigned i = 0; i < r->dialect_count; i++) {
		r->dialects[i] = rbuf_u16(&b);
		if (r->dialects[i] == SMB2_DIALECT_311) r->offers_311 = true;
	}
	if (b.err) return STATUS_INVALID_PARAMETER;
	if (!r->offers_311 || ctx_count == 0) return STATUS_SUCCESS;
	/* Contexts start 8-byte aligned and follow each other 8-byte aligned
	 * (2.2.3.1). */
	if (ctx_count > SMB2_NEG_MAX_CONTEXTS || (ctx_off & 7) || ctx_off < b.off || ctx_off > len)
		return STATUS_INVALID_PARAMETER;
	rbuf_seek(&b, ctx_off);
	for (unsigned i = 0; i < ctx_count; i++) {
		if (i) {
			size_t pad = (8 - (b.off & 7)) & 7;
			rbuf_skip(&b, pad);
		}
		struct smb2_neg_context *c = &r->contexts[i];
		c->type = rbuf_u16(&b);
		c->data_len = rbuf_u16(&b);
		rbuf_skip(&b, 4);
		c->data = rbuf_ptr(&b, c->data_len);
		if (b.err) return STATUS_INVALID_PARAMETER;
	}
	r->ncontexts = ctx_count;
	return STATUS_SUCCESS;
}

/* Appends negotiate contexts, each 8-byte aligned relative to the header,
 * and patches their offset at ctxoff_pos (2.2.3.1 / 2.2.4). */
static void neg_contexts_encode(struct wbuf *w, size_t hdr_off, size_t ctxoff_pos,
				const struct smb2_neg_context *c, unsigned n)
{
	if (!n) return;
	wbuf_align(w, hdr_off, 8);
	wbuf_set_u32(w, ctxoff_pos, (uint32_t)(w->len - hdr_off));
	for (unsigned i = 0; i < n; i++) {
		if (i) wbuf_align(w, hdr_off, 8);
		wbuf_u16(w, c[i].type);
		wbuf_u16(w, c[i].data_len);
		wbuf_u32(w, 0);
		wbuf_bytes(w, c[i].data, c[i].data_len);
	}
}

void smb2_negotiate_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_negotiate_rsp *r)
{
	wbuf_u16(w, 65);
	wbuf_u16(w, r->security_mode);
	wbuf_u16(w, r->dialect);
	wbuf_u16(w, r->dialect == SMB2_DIALECT_311 ? (uint16_t)r->ncontexts : 0);
	wbuf_bytes(w, r->server_guid, 16);
	wbuf_u32(w, r->capabilities);
	wbuf_u32(w, r->max_transact);
	wbuf_u32(w, r->max_read);
	wbuf_u32(w, r->max_write);
	wbuf_u64(w, r->system_time);
	wbuf_u64(w, r->server_start_time);
	size_t secoff_pos = w->len;
	wbuf_u16(w, 0);
	wbuf_u16(w, (uint16_t)r->security_blob_len);
	size_t ctxoff_pos = w->len;
	wbuf_u32(w, 0);
	wbuf_set_u16(w, secoff_pos, (uint16_t)(w->len - hdr_off));
	wbuf_bytes(w, r->security_blob, r->security_blob_len);
	if (r->dialect == SMB2_DIALECT_311)
		neg_contexts_encode(w, hdr_off, ctxoff_pos, r->contexts, r->ncontexts);
}

void smb2_negotiate_req_encode(struct wbuf *w, size_t hdr_off, const struct smb2_negotiate_req *r)
{
	wbuf_u16(w, 36);
	wbuf_u16(w, r->dialect_count);
	wbuf_u16(w, r->security_mode);
	wbuf_u16(w, 0);
	wbuf_u32(w, r->capabilities);
	wbuf_bytes(w, r->client_guid, 16);
	size_t ctxoff_pos = w->len;
	wbuf_u32(w, 0);
	wbuf_u16(w, (uint16_t)r->ncontexts);
	wbuf_u16(w, 0);
	for (unsigned i = 0; i < r->dialect_count; i++) wbuf_u16(w, r->dialects[i]);
	neg_contexts_encode(w, hdr_off, ctxoff_pos, r->contexts, r->ncontexts);
}
