/* TREE_CONNECT wire format (MS-SMB2 2.2.9 / 2.2.10). */
#include "wire/tree_connect.h"

uint32_t smb2_tree_connect_req_decode(const uint8_t *msg, size_t len, struct smb2_tree_connect_req *r)
{
	memset(r, 0, sizeof(*r));
	struct rbuf b = rbuf_make(msg, len);
	rbuf_seek(&b, SMB2_HDR_SIZE);
	if (rbuf_u16(&b) != 9) return STATUS_INVALID_PARAMETER;
	r->flags = rbuf_u16(&b);
	uint16_t off = rbuf_u16(&b);
	uint16_t plen = rbuf_u16(&b);
	if (b.err || plen == 0 || (plen & 1) || !range_ok(off, plen, len) || off < SMB2_HDR_SIZE + 8)
		return STATUS_INVALID_PARAMETER;
	r->path = msg + off;
	r->path_len = plen;
	return STATUS_SUCCESS;
}

void smb2_tree_connect_rsp_encode(struct wbuf *w, const struct smb2_tree_connect_rsp *r)
{
	wbuf_u16(w, 16);
	wbuf_u8(w, r->share_type);
	wbuf_u8(w, 0);
	wbuf_u32(w, r->share_flags);
	wbuf_u32(w, r->capabilities);
	wbuf_u32(w, r->maximal_access);
}
