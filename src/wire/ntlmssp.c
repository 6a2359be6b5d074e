/* NTLMSSP message decode/encode (MS-NLMP 2.2.1, 2.2.2), see ntlmssp.h. */
#include "wire/ntlmssp.h"

#include <string.h>

#include "common/utf16.h"

static const uint8_t signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

uint32_t ntlmssp_message_type(const uint8_t *msg, size_t len)
{
	if (!msg || len < 12 || memcmp(msg, signature, sizeof(signature)) != 0) return 0;
	return get_le32(msg + 8);
}

/* A (Len, MaxLen, BufferOffset) triple (2.2.1.1).  MaxLen is ignored, as
 * MS-NLMP says it SHOULD be.  The payload must lie inside the message; the
 * lowest payload offset is tracked so callers can tell whether the optional
 * Version/MIC fields exist. */
static int read_field(struct rbuf *r, const uint8_t *msg, size_t len, struct ntlmssp_blob *out,
		      size_t *min_off)
{
	uint16_t flen = rbuf_u16(r);
	(void)rbuf_u16(r);
	uint32_t off = rbuf_u32(r);
	if (r->err) return -1;
	if (flen == 0) {
		out->p = NULL;
		out->len = 0;
		return 0;
	}
	if (!range_ok(off, flen, len)) return -1;
	out->p = msg + off;
	out->len = flen;
	if (off < *min_off) *min_off = off;
	return 0;
}

int ntlmssp_decode_negotiate(const uint8_t *msg, size_t len, struct ntlmssp_negotiate_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (ntlmssp_message_type(msg, len) != NTLMSSP_NEGOTIATE || len < 16) return -1;
	struct rbuf r = rbuf_make(msg, len);
	rbuf_skip(&r, 12);
	out->flags = rbuf_u32(&r);
	/* Very old clients stop after the flags; the name fields are optional. */
	if (len < NTLMSSP_NEGOTIATE_FIXED) return r.err ? -1 : 0;
	size_t min_off = len;
	if (read_field(&r, msg, len, &out->domain, &min_off) != 0) return -1;
	if (read_field(&r, msg, len, &out->workstation, &min_off) != 0) return -1;
	if (!(out->flags & NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED)) out->domain = (struct ntlmssp_blob){ 0 };
	if (!(out->flags & NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED))
		out->workstation = (struct ntlmssp_blob){ 0 };
	if ((out->flags & NTLMSSP_NEGOTIATE_VERSION) && min_off >= NTLMSSP_NEGOTIATE_FIXED + NTLMSSP_VERSION_LEN &&
	    len >= NTLMSSP_NEGOTIATE_FIXED + NTLMSSP_VERSION_LEN) {
		memcpy(out->version, msg + NTLMSSP_NEGOTIATE_FIXED, 8);
		out->has_version = true;
	}
	return r.err ? -1 : 0;
}

int ntlmssp_decode_challenge(const uint8_t *msg, size_t len, struct ntlmssp_challenge_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (ntlmssp_message_type(msg, len) != NTLMSSP_CHALLENGE || len < NTLMSSP_CHALLENGE_FIXED) return -1;
	struct rbuf r = rbuf_make(msg, len);
	rbuf_skip(&r, 12);
	size_t min_off = len;
	if (read_field(&r, msg, len, &out->target_name, &min_off) != 0) return -1;
	out->flags = rbuf_u32(&r);
	rbuf_copy(&r, out->server_challenge, 8);
	rbuf_skip(&r, 8); /* Reserved */
	if (read_field(&r, msg, len, &out->target_info, &min_off) != 0) return -1;
	if (out->target_info.len && ntlmssp_av_validate(out->target_info.p, out->target_info.len) != 0) return -1;
	if ((out->flags & NTLMSSP_NEGOTIATE_VERSION) && min_off >= NTLMSSP_CHALLENGE_FIXED + NTLMSSP_VERSION_LEN &&
	    len >= NTLMSSP_CHALLENGE_FIXED + NTLMSSP_VERSION_LEN) {
		memcpy(out->version, msg + NTLMSSP_CHALLENGE_FIXED, 8);
		out->has_version = true;
	}
	return r.err ? -1 : 0;
}

int ntlmssp_decode_authenticate(const uint8_t *msg, size_t len, struct ntlmssp_authenticate_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (ntlmssp_message_type(msg, len) != NTLMSSP_AUTHENTICATE || len < NTLMSSP_AUTH_FIXED) return -1;
	struct rbuf r = rbuf_make(msg, len);
	rbuf_skip(&r, 12);
	size_t min_off = len;
	if (read_field(&r, msg, len, &out->lm_response, &min_off) != 0 ||
	    read_field(&r, msg, len, &out->nt_response, &min_off) != 0 ||
	    read_field(&r, msg, len, &out->domain, &min_off) != 0 ||
	    read_field(&r, msg, len, &out->user, &min_off) != 0 ||
	    read_field(&r, msg, len, &out->workstation, &min_off) != 0 ||
	    read_field(&r, msg, len, &out->encrypted_session_key, &min_off) != 0)
		return -1;
	out->flags = rbuf_u32(&r);
	if (r.err) return -1;
	/* Payload may not overlap the fixed part. */
	if (min_off < NTLMSSP_AUTH_FIXED) return -1;
	if (min_off >= NTLMSSP_AUTH_FIXED + NTLMSSP_VERSION_LEN && len >= NTLMSSP_AUTH_FIXED + NTLMSSP_VERSION_LEN) {
		memcpy(out->version, msg + NTLMSSP_AUTH_FIXED, 8);
		out->has_version = (out->flags & NTLMSSP_NEGOTIATE_VERSION) != 0;
	}
	if (min_off >= NTLMSSP_AUTH_MIC_OFFSET + NTLMSSP_MIC_LEN && len >= NTLMSSP_AUTH_MIC_OFFSET + NTLMSSP_MIC_LEN) {
		out->has_mic_field = true;
		out->mic = msg + NTLMSSP_AUTH_MIC_OFFSET;
	}
	return 0;
}

/* ---- encoders ----
 * Each message is a fixed part with (Len, MaxLen, Offset) slots, then the
 * payload.  We write the fixed part with zero slots, append each payload and
 * patch its slot. */
static void put_payload(struct wbuf *w, size_t base, size_t slot, const struct ntlmssp_blob *b)
{
	if (w->err) return;
	size_t off = w->len - base;
	size_t n = b->p ? b->len : 0;
	if (n > 0xFFFF || off > 0xFFFFFFFFu) {
		w->err = true;
		return;
	}
	wbuf_bytes(w, b->p, n);
	wbuf_set_u16(w, base + slot, (uint16_t)n);
	wbuf_set_u16(w, base + slot + 2, (uint16_t)n);
	wbuf_set_u32(w, base + slot + 4, (uint32_t)off);
}

void ntlmssp_encode_negotiate(struct wbuf *w, const struct ntlmssp_negotiate_msg *m)
{
	size_t base = w->len;
	wbuf_bytes(w, signature, 8);
	wbuf_u32(w, NTLMSSP_NEGOTIATE);
	wbuf_u32(w, m->flags);
	wbuf_zero(w, 16); /* DomainNameFields, WorkstationFields */
	if (m->has_version) wbuf_bytes(w, m->version, 8);
	put_payload(w, base, 16, &m->domain);
	put_payload(w, base, 24, &m->workstation);
}

void ntlmssp_encode_challenge(struct wbuf *w, const struct ntlmssp_challenge_msg *m)
{
	size_t base = w->len;
	wbuf_bytes(w, signature, 8);
	wbuf_u32(w, NTLMSSP_CHALLENGE);
	wbuf_zero(w, 8); /* TargetNameFields */
	wbuf_u32(w, m->flags);
	wbuf_bytes(w, m->server_challenge, 8);
	wbuf_zero(w, 8);  /* Reserved */
	wbuf_zero(w, 8);  /* TargetInfoFields */
	if (m->has_version) wbuf_bytes(w, m->version, 8);
	put_payload(w, base, 12, &m->target_name);
	put_payload(w, base, 40, &m->target_info);
}

void ntlmssp_encode_authenticate(struct wbuf *w, const struct ntlmssp_authenticate_msg *m, bool with_mic)
{
	size_t base = w->len;
	wbuf_bytes(w, signature, 8);
	wbuf_u32(w, NTLMSSP_AUTHENTICATE);
	wbuf_zero(w, 48); /* six field slots */
	wbuf_u32(w, m->flags);
	if (m->has_version || with_mic) {
		if (m->has_version) wbuf_bytes(w, m->version, 8);
		else wbuf_zero(w, 8);
	}
	if (with_mic) wbuf_zero(w, NTLMSSP_MIC_LEN);
	/* Payload order as Windows writes it: names first, then responses. */
	put_payload(w, base, 28, &m->domain);
	put_payload(w, base, 36, &m->user);
	put_payload(w, base, 44, &m->workstation);
	put_payload(w, base, 12, &m->lm_response);
	put_payload(w, base, 20, &m->nt_response);
	put_payload(w, base, 52, &m->encrypted_session_key);
}

/* ---- AV pairs ---- */
int ntlmssp_av_validate(const uint8_t *ti, size_t len)
{
	struct rbuf r = rbuf_make(ti, len);
	for (;;) {
		uint16_t id = rbuf_u16(&r);
		uint16_t vlen = rbuf_u16(&r);
		if (r.err) return -1;
		if (!rbuf_ptr(&r, vlen) && vlen) return -1;
		if (id == MSV_AV_EOL) return vlen == 0 ? 0 : -1;
	}
}

bool ntlmssp_av_find(const uint8_t *ti, size_t len, uint16_t id, struct ntlmssp_blob *val)
{
	struct rbuf r = rbuf_make(ti, len);
	for (;;) {
		uint16_t cur = rbuf_u16(&r);
		uint16_t vlen = rbuf_u16(&r);
		const uint8_t *v = rbuf_ptr(&r, vlen);
		if (r.err || cur == MSV_AV_EOL) return false;
		if (cur == id) {
			val->p = v;
			val->len = vlen;
			return true;
		}
	}
}

void ntlmssp_av_add(struct wbuf *w, uint16_t id, const void *val, size_t len)
{
	if (len > 0xFFFF) {
		w->err = true;
		return;
	}
	wbuf_u16(w, id);
	wbuf_u16(w, (uint16_t)len);
	wbuf_bytes(w, val, len);
}

void ntlmssp_av_add_str(struct wbuf *w, uint16_t id, const char *utf8)
{
	size_t hdr = w->len;
	wbuf_u16(w, id);
	wbuf_u16(w, 0);
	long n = utf8_to_utf16le(w, utf8, strlen(utf8));
	if (n < 0 || n > 0xFFFF) {
		w->err = true;
		return;
	}
	wbuf_set_u16(w, hdr + 2, (uint16_t)n);
}
