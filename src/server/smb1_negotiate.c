/* SMB1 NEGOTIATE that older clients send first (MS-SMB2 3.3.5.3.1): if it
 * offers "SMB 2.???" answer with an SMB2 NEGOTIATE response for the wildcard
 * dialect 0x02FF (the client then sends an SMB2 NEGOTIATE); if it offers only
 * "SMB 2.002" answer with 2.0.2.  SMB1 itself is not spoken. */
#include <string.h>

#include "server/server.h"
#include "wire/negotiate.h"

void negotiate_fill_response(struct smbd_conn *c, struct smb2_negotiate_rsp *rsp, uint16_t dialect,
			     struct wbuf *secblob);

void smb1_negotiate(struct smbd_conn *c, const uint8_t *msg, size_t len)
{
	/* SMB1 header is 32 bytes; NEGOTIATE is command 0x72 with WordCount 0
	 * and a byte array of 0x02-prefixed NUL-terminated dialect strings. */
	if (len < 35 || msg[4] != 0x72 || msg[32] != 0) {
		conn_disconnect(c, "SMB1 is not supported");
		return;
	}
	size_t bc = get_le16(msg + 33);
	if (bc > len - 35) {
		conn_disconnect(c, "malformed SMB1 NEGOTIATE");
		return;
	}
	const uint8_t *p = msg + 35, *end = p + bc;
	bool smb2_wild = false, smb2_002 = false;
	while (p < end) {
		if (*p != 0x02) break;
		const uint8_t *nul = memchr(p + 1, 0, (size_t)(end - p - 1));
		if (!nul) break;
		const char *s = (const char *)p + 1;
		if (!strcmp(s, "SMB 2.???")) smb2_wild = true;
		if (!strcmp(s, "SMB 2.002")) smb2_002 = true;
		p = nul + 1;
	}
	if (!smb2_wild && !smb2_002) {
		conn_disconnect(c, "client offers only SMB1, which is not supported");
		return;
	}
	uint16_t dialect = smb2_wild ? SMB2_DIALECT_WILDCARD : SMB2_DIALECT_202;
	struct wbuf out, blob;
	wbuf_init(&out, 256);
	wbuf_init(&blob, 128);
	wbuf_zero(&out, SMB2_HDR_SIZE);
	struct smb2_negotiate_rsp rsp;
	negotiate_fill_response(c, &rsp, dialect, &blob);
	smb2_negotiate_rsp_encode(&out, 0, &rsp);
	struct smb2_hdr h = { .command = SMB2_NEGOTIATE, .credit = 1, .flags = SMB2_FLAGS_SERVER_TO_REDIR };
	if (!out.err) smb2_hdr_encode(out.p, &h);
	wbuf_free(&blob);
	if (out.err) {
		wbuf_free(&out);
		conn_disconnect(c, "out of memory");
		return;
	}
	/* The SMB1 request used message id 0; the client continues with 1. */
	c->seq_low = 1;
	c->seq_range = 1;
	if (dialect == SMB2_DIALECT_202) {
		c->dialect = dialect;
		c->signing_algo = SMB2_SIGNING_HMAC_SHA256;
		c->server_capabilities = rsp.capabilities;
		c->server_security_mode = rsp.security_mode;
		c->signing_required = c->cfg->signing_required;
		c->state = CONN_NEGOTIATED;
	}
	size_t olen;
	uint8_t *buf = wbuf_steal(&out, &olen);
	conn_send(c, buf, olen);
}
