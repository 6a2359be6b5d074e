/* SPNEGO tokens (RFC 4178) inside the GSS-API framing (RFC 2743 3.1), as
 * SMB2 carries them in NEGOTIATE and SESSION_SETUP security buffers
 * (MS-SPNG).
 *
 *   InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
 *       thisMech OID (1.3.6.1.5.5.2), innerContextToken NegotiationToken }
 *   NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] }
 *   NegTokenInit ::= SEQUENCE { mechTypes [0] SEQUENCE OF OID,
 *       reqFlags [1] BIT STRING OPTIONAL, mechToken [2] OCTET STRING OPTIONAL,
 *       mechListMIC [3] OCTET STRING OPTIONAL }
 *   NegTokenInit2 (MS-SPNG 2.2.1, server hints) puts negHints at [3] and
 *       mechListMIC at [4].
 *   NegTokenResp ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL,
 *       supportedMech [1] OID OPTIONAL, responseToken [2] OCTET STRING OPTIONAL,
 *       mechListMIC [3] OCTET STRING OPTIONAL }
 */
#include "wire/spnego.h"

#include <string.h>

#include "wire/asn1.h"

/* OID contents (without tag/length), DER-encoded. */
static const uint8_t oid_spnego[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };                   /* 1.3.6.1.5.5.2 */
static const uint8_t oid_ntlmssp[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a }; /* 1.3.6.1.4.1.311.2.2.10 */
static const uint8_t oid_krb5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };   /* 1.2.840.113554.1.2.2 */
static const uint8_t oid_ms_krb5[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02 }; /* 1.2.840.48018.1.2.2 */

static const uint8_t ntlmssp_signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

static bool oid_is(const struct asn1_elem *e, const uint8_t *oid, size_t len)
{
	return e->len == len && memcmp(e->val, oid, len) == 0;
}

static enum spnego_mech mech_from_oid(const struct asn1_elem *e)
{
	if (oid_is(e, oid_ntlmssp, sizeof(oid_ntlmssp))) return SPNEGO_MECH_NTLMSSP;
	if (oid_is(e, oid_krb5, sizeof(oid_krb5))) return SPNEGO_MECH_KRB5;
	if (oid_is(e, oid_ms_krb5, sizeof(oid_ms_krb5))) return SPNEGO_MECH_MS_KRB5;
	return SPNEGO_MECH_UNKNOWN;
}

static void write_mech_oid(struct wbuf *w, enum spnego_mech mech)
{
	switch (mech) {
	case SPNEGO_MECH_NTLMSSP: asn1_write(w, ASN1_OID, oid_ntlmssp, sizeof(oid_ntlmssp)); break;
	case SPNEGO_MECH_KRB5: asn1_write(w, ASN1_OID, oid_krb5, sizeof(oid_krb5)); break;
	case SPNEGO_MECH_MS_KRB5: asn1_write(w, ASN1_OID, oid_ms_krb5, sizeof(oid_ms_krb5)); break;
	default: w->err = true; break;
	}
}

/* [n] EXPLICIT OCTET STRING: returns the octets. */
static int read_explicit_octets(const struct asn1_elem *field, const uint8_t **p, size_t *len)
{
	struct rbuf r = asn1_contents(field);
	struct asn1_elem os;
	if (asn1_read_tag(&r, ASN1_OCTET_STRING, &os) != 0) return -1;
	*p = os.val;
	*len = os.len;
	return 0;
}

static int decode_init(const struct asn1_elem *init, struct spnego_token *tok)
{
	struct rbuf r = asn1_contents(init);
	struct asn1_elem seq;
	if (asn1_read_tag(&r, ASN1_SEQUENCE, &seq) != 0) return -1;
	tok->is_init = true;

	struct rbuf fields = asn1_contents(&seq);
	int last = -1;
	while (rbuf_left(&fields) > 0) {
		struct asn1_elem f;
		if (asn1_read(&fields, &f) != 0) return -1;
		if ((f.tag & 0xE0) != 0xA0) return -1;
		int n = f.tag & 0x1F;
		if (n <= last) return -1; /* DER: fields appear once, in order */
		last = n;
		switch (n) {
		case 0: { /* mechTypes */
			struct rbuf fr = asn1_contents(&f);
			struct asn1_elem list;
			if (asn1_read_tag(&fr, ASN1_SEQUENCE, &list) != 0) return -1;
			/* The [0] wrapper holds exactly the SEQUENCE; its DER bytes
			 * (tag, length, contents) are what mechListMIC signs
			 * (RFC 4178 5), so keep a view of them. */
			if (rbuf_left(&fr) != 0) return -1;
			tok->mech_types_der = f.val;
			tok->mech_types_der_len = f.len;
			struct rbuf lr = asn1_contents(&list);
			while (rbuf_left(&lr) > 0) {
				struct asn1_elem oid;
				if (asn1_read_tag(&lr, ASN1_OID, &oid) != 0) return -1;
				/* Keep the first eight; more is legal but never useful. */
				if (tok->nmechs < sizeof(tok->mechs) / sizeof(tok->mechs[0]))
					tok->mechs[tok->nmechs++] = mech_from_oid(&oid);
			}
			break;
		}
		case 1: /* reqFlags: ignored (RFC 4178 4.2.1 says SHOULD be ignored) */
			break;
		case 2:
			if (read_explicit_octets(&f, &tok->mech_token, &tok->mech_token_len) != 0) return -1;
			break;
		case 3: {
			/* RFC 4178: mechListMIC OCTET STRING.  NegTokenInit2 (MS-SPNG):
			 * negHints SEQUENCE, which we skip. */
			struct rbuf fr = asn1_contents(&f);
			struct asn1_elem inner;
			if (asn1_read(&fr, &inner) != 0) return -1;
			if (inner.tag == ASN1_OCTET_STRING) {
				tok->mic = inner.val;
				tok->mic_len = inner.len;
			} else if (inner.tag != ASN1_SEQUENCE) {
				return -1;
			}
			break;
		}
		case 4: /* NegTokenInit2 mechListMIC */
			if (read_explicit_octets(&f, &tok->mic, &tok->mic_len) != 0) return -1;
			break;
		default:
			return -1;
		}
	}
	return fields.err ? -1 : 0;
}

static int decode_resp(const struct asn1_elem *resp, struct spnego_token *tok)
{
	struct rbuf r = asn1_contents(resp);
	struct asn1_elem seq;
	if (asn1_read_tag(&r, ASN1_SEQUENCE, &seq) != 0) return -1;
	tok->is_init = false;

	struct rbuf fields = asn1_contents(&seq);
	int last = -1;
	while (rbuf_left(&fields) > 0) {
		struct asn1_elem f;
		if (asn1_read(&fields, &f) != 0) return -1;
		if ((f.tag & 0xE0) != 0xA0) return -1;
		int n = f.tag & 0x1F;
		if (n <= last) return -1;
		last = n;
		struct rbuf fr = asn1_contents(&f);
		struct asn1_elem inner;
		switch (n) {
		case 0:
			if (asn1_read_tag(&fr, ASN1_ENUMERATED, &inner) != 0) return -1;
			if (inner.len < 1 || inner.len > 2) return -1;
			tok->neg_state = inner.val[inner.len - 1];
			if (inner.len == 2 && inner.val[0] != 0) return -1;
			if (tok->neg_state > SPNEGO_REQUEST_MIC) return -1;
			break;
		case 1:
			if (asn1_read_tag(&fr, ASN1_OID, &inner) != 0) return -1;
			tok->supported_mech = mech_from_oid(&inner);
			break;
		case 2:
			if (read_explicit_octets(&f, &tok->mech_token, &tok->mech_token_len) != 0) return -1;
			break;
		case 3:
			if (read_explicit_octets(&f, &tok->mic, &tok->mic_len) != 0) return -1;
			break;
		default:
			return -1;
		}
	}
	return fields.err ? -1 : 0;
}

int spnego_decode(const uint8_t *in, size_t len, struct spnego_token *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->neg_state = -1;
	if (!in || len == 0) return -1;

	/* Some clients send a bare NTLMSSP message without SPNEGO. */
	if (len >= sizeof(ntlmssp_signature) && memcmp(in, ntlmssp_signature, sizeof(ntlmssp_signature)) == 0) {
		tok->raw_ntlmssp = true;
		tok->is_init = true;
		tok->mech_token = in;
		tok->mech_token_len = len;
		return 0;
	}

	struct rbuf r = rbuf_make(in, len);
	struct asn1_elem outer;
	if (asn1_read(&r, &outer) != 0) return -1;

	if (outer.tag == ASN1_APPLICATION0) {
		/* GSS-API framing: thisMech must be SPNEGO, then the NegotiationToken. */
		struct rbuf gr = asn1_contents(&outer);
		struct asn1_elem mech, inner;
		if (asn1_read_tag(&gr, ASN1_OID, &mech) != 0) return -1;
		if (!oid_is(&mech, oid_spnego, sizeof(oid_spnego))) return -1;
		if (asn1_read(&gr, &inner) != 0) return -1;
		if (inner.tag == ASN1_CONTEXT(0)) return decode_init(&inner, tok);
		return -1;
	}
	/* Subsequent legs are a bare NegotiationToken. */
	if (outer.tag == ASN1_CONTEXT(1)) return decode_resp(&outer, tok);
	if (outer.tag == ASN1_CONTEXT(0)) return decode_init(&outer, tok);
	return -1;
}

void spnego_encode_neg_hints(struct wbuf *w, bool with_krb5)
{
	size_t app = asn1_begin(w, ASN1_APPLICATION0);
	asn1_write(w, ASN1_OID, oid_spnego, sizeof(oid_spnego));
	size_t init = asn1_begin(w, ASN1_CONTEXT(0));
	size_t seq = asn1_begin(w, ASN1_SEQUENCE);
	size_t types = asn1_begin(w, ASN1_CONTEXT(0));
	size_t list = asn1_begin(w, ASN1_SEQUENCE);
	if (with_krb5) {
		/* Windows lists the MS OID first; clients pick the first they know. */
		write_mech_oid(w, SPNEGO_MECH_MS_KRB5);
		write_mech_oid(w, SPNEGO_MECH_KRB5);
	}
	write_mech_oid(w, SPNEGO_MECH_NTLMSSP);
	asn1_end(w, list);
	asn1_end(w, types);
	/* negHints [3] { hintName [0] GeneralString }: MS-SPNG 2.2.1 says the
	 * hint is ignored; the conventional value tells peers exactly that. */
	static const char hint[] = "not_defined_in_RFC4178@please_ignore";
	size_t hints = asn1_begin(w, ASN1_CONTEXT(3));
	size_t hseq = asn1_begin(w, ASN1_SEQUENCE);
	size_t hname = asn1_begin(w, ASN1_CONTEXT(0));
	asn1_write(w, ASN1_GENERAL_STRING, hint, sizeof(hint) - 1);
	asn1_end(w, hname);
	asn1_end(w, hseq);
	asn1_end(w, hints);
	asn1_end(w, seq);
	asn1_end(w, init);
	asn1_end(w, app);
}

void spnego_encode_resp(struct wbuf *w, enum spnego_neg_state state, enum spnego_mech supported_mech,
			const uint8_t *token, size_t token_len)
{
	spnego_encode_resp_mic(w, state, supported_mech, token, token_len, NULL, 0);
}

void spnego_encode_resp_mic(struct wbuf *w, enum spnego_neg_state state, enum spnego_mech supported_mech,
			    const uint8_t *token, size_t token_len, const uint8_t *mic, size_t mic_len)
{
	size_t resp = asn1_begin(w, ASN1_CONTEXT(1));
	size_t seq = asn1_begin(w, ASN1_SEQUENCE);
	size_t f0 = asn1_begin(w, ASN1_CONTEXT(0));
	asn1_write_enum(w, (uint8_t)state);
	asn1_end(w, f0);
	if (supported_mech != SPNEGO_MECH_UNKNOWN) {
		size_t f1 = asn1_begin(w, ASN1_CONTEXT(1));
		write_mech_oid(w, supported_mech);
		asn1_end(w, f1);
	}
	if (token) {
		size_t f2 = asn1_begin(w, ASN1_CONTEXT(2));
		asn1_write(w, ASN1_OCTET_STRING, token, token_len);
		asn1_end(w, f2);
	}
	if (mic) {
		size_t f3 = asn1_begin(w, ASN1_CONTEXT(3));
		asn1_write(w, ASN1_OCTET_STRING, mic, mic_len);
		asn1_end(w, f3);
	}
	asn1_end(w, seq);
	asn1_end(w, resp);
}

void spnego_encode_init(struct wbuf *w, enum spnego_mech mech, const uint8_t *token, size_t token_len)
{
	size_t app = asn1_begin(w, ASN1_APPLICATION0);
	asn1_write(w, ASN1_OID, oid_spnego, sizeof(oid_spnego));
	size_t init = asn1_begin(w, ASN1_CONTEXT(0));
	size_t seq = asn1_begin(w, ASN1_SEQUENCE);
	size_t types = asn1_begin(w, ASN1_CONTEXT(0));
	size_t list = asn1_begin(w, ASN1_SEQUENCE);
	write_mech_oid(w, mech);
	asn1_end(w, list);
	asn1_end(w, types);
	if (token) {
		size_t f2 = asn1_begin(w, ASN1_CONTEXT(2));
		asn1_write(w, ASN1_OCTET_STRING, token, token_len);
		asn1_end(w, f2);
	}
	asn1_end(w, seq);
	asn1_end(w, init);
	asn1_end(w, app);
}
