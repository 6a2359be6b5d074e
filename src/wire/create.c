/* SMB2 CREATE (MS-SMB2 2.2.13 request, 2.2.14 response) and the create
 * context chain (2.2.13.2). */
#include "wire/create.h"

#include <string.h>

uint32_t smb2_create_contexts_parse(const uint8_t *p, size_t len, struct smb2_create_context *ctx,
				    unsigned max, unsigned *n)
{
	size_t off = 0;
	*n = 0;
	if (len == 0) return STATUS_SUCCESS;
	for (;;) {
		/* Fixed part: Next(4) NameOffset(2) NameLength(2) Reserved(2)
		 * DataOffset(2) DataLength(4) = 16 bytes. */
		if (!range_ok(off, 16, len)) return STATUS_INVALID_PARAMETER;
		struct rbuf b = rbuf_make(p + off, len - off);
		uint32_t next = rbuf_u32(&b);
		uint16_t name_off = rbuf_u16(&b);
		uint16_t name_len = rbuf_u16(&b);
		rbuf_u16(&b);
		uint16_t data_off = rbuf_u16(&b);
		uint32_t data_len = rbuf_u32(&b);
		/* The context ends at Next, or at the end of the chain for the
		 * last one; name and data must lie inside it. */
		size_t this_len = next ? next : len - off;
		if (next && (next % 8 || next > len - off)) return STATUS_INVALID_PARAMETER;
		/* Tags are at least 4 bytes (Windows rejects shorter ones;
		 * smbtorture smb2.create.blob checks this). */
		if (name_len < 4 || name_off < 16 || !range_ok(name_off, name_len, this_len))
			return STATUS_INVALID_PARAMETER;
		if (data_len) {
			if (data_off < 16 || !range_ok(data_off, data_len, this_len))
				return STATUS_INVALID_PARAMETER;
		}
		if (*n >= max) return STATUS_INVALID_PARAMETER;
		ctx[*n].name = p + off + name_off;
		ctx[*n].name_len = name_len;
		ctx[*n].data = data_len ? p + off + data_off : NULL;
		ctx[*n].data_len = data_len;
		(*n)++;
		if (!next) break;
		off += next;
	}
	return STATUS_SUCCESS;
}

uint32_t smb2_create_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_create_req *out)
{
	memset(out, 0, sizeof(*out));
	if (msg_len < SMB2_HDR_SIZE) return STATUS_INVALID_PARAMETER;
	struct rbuf b = rbuf_make(msg, msg_len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 57) return STATUS_INVALID_PARAMETER;
	out->security_flags = rbuf_u8(&b);
	out->requested_oplock_level = rbuf_u8(&b);
	out->impersonation_level = rbuf_u32(&b);
	out->smb_create_flags = rbuf_u64(&b);
	rbuf_u64(&b); /* Reserved */
	out->desired_access = rbuf_u32(&b);
	out->file_attributes = rbuf_u32(&b);
	out->share_access = rbuf_u32(&b);
	out->create_disposition = rbuf_u32(&b);
	out->create_options = rbuf_u32(&b);
	uint16_t name_off = rbuf_u16(&b);
	uint16_t name_len = rbuf_u16(&b);
	uint32_t ctx_off = rbuf_u32(&b);
	uint32_t ctx_len = rbuf_u32(&b);
	if (b.err) return STATUS_INVALID_PARAMETER;
	/* Name: offset relative to the header; an empty name may carry any
	 * offset (clients send 0x78 with length 0). */
	if (name_len) {
		if (name_len & 1 || !range_ok(name_off, name_len, msg_len)) return STATUS_INVALID_PARAMETER;
		out->name = msg + name_off;
	}
	out->name_len = name_len;
	if (ctx_len) {
		if (!range_ok(ctx_off, ctx_len, msg_len) || ctx_off % 8) return STATUS_INVALID_PARAMETER;
		return smb2_create_contexts_parse(msg + ctx_off, ctx_len, out->ctx, SMB2_CREATE_MAX_CONTEXTS,
						  &out->nctx);
	}
	return STATUS_SUCCESS;
}

const struct smb2_create_context *smb2_create_find_context(const struct smb2_create_req *r, const char *tag)
{
	size_t tl = strlen(tag);
	for (unsigned i = 0; i < r->nctx; i++)
		if (r->ctx[i].name_len == tl && memcmp(r->ctx[i].name, tag, tl) == 0) return &r->ctx[i];
	return NULL;
}

void smb2_create_contexts_encode(struct wbuf *w, const struct smb2_create_context *ctx, unsigned n)
{
	size_t prev = (size_t)-1;
	for (unsigned i = 0; i < n; i++) {
		if (prev != (size_t)-1) {
			wbuf_align(w, prev, 8);
			wbuf_set_u32(w, prev, (uint32_t)(w->len - prev));
		}
		size_t start = w->len;
		/* Name at 16, data at the next 8-byte boundary after the name. */
		uint16_t data_off = (uint16_t)((16 + ctx[i].name_len + 7) & ~7u);
		wbuf_u32(w, 0);
		wbuf_u16(w, 16);
		wbuf_u16(w, ctx[i].name_len);
		wbuf_u16(w, 0);
		wbuf_u16(w, ctx[i].data_len ? data_off : 0);
		wbuf_u32(w, ctx[i].data_len);
		wbuf_bytes(w, ctx[i].name, ctx[i].name_len);
		if (ctx[i].data_len) {
			wbuf_align(w, start, 8);
			wbuf_bytes(w, ctx[i].data, ctx[i].data_len);
		}
		prev = start;
	}
}

void smb2_create_rsp_encode(struct wbuf *w, size_t hdr_off, const struct smb2_create_rsp *r)
{
	wbuf_u16(w, 89);
	wbuf_u8(w, r->oplock_level);
	wbuf_u8(w, r->flags);
	wbuf_u32(w, r->create_action);
	smb2_file_basics_encode(w, &r->basics);
	wbuf_u32(w, 0);   /* Reserved2 */
	wbuf_u64(w, r->persistent_id);
	wbuf_u64(w, r->volatile_id);
	size_t ctx_fields = w->len;
	wbuf_u32(w, 0);
	wbuf_u32(w, 0);
	if (r->nctx) {
		/* The fixed part is 88 bytes, so contexts start 8-aligned at 152. */
		wbuf_align(w, hdr_off, 8);
		size_t start = w->len;
		smb2_create_contexts_encode(w, r->ctx, r->nctx);
		wbuf_set_u32(w, ctx_fields, (uint32_t)(start - hdr_off));
		wbuf_set_u32(w, ctx_fields + 4, (uint32_t)(w->len - start));
	} else {
		/* StructureSize 89 counts one byte of the variable buffer. */
		wbuf_u8(w, 0);
	}
}
