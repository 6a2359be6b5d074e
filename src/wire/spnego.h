/* SPNEGO (RFC 4178) tokens as SMB2 carries them in security buffers, with
 * the minimal DER/ASN.1 they need.  Pure functions over byte buffers. */
#ifndef SMBKIT_WIRE_SPNEGO_H
#define SMBKIT_WIRE_SPNEGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum spnego_mech { SPNEGO_MECH_UNKNOWN = 0, SPNEGO_MECH_NTLMSSP, SPNEGO_MECH_KRB5, SPNEGO_MECH_MS_KRB5 };

enum spnego_neg_state {
	SPNEGO_ACCEPT_COMPLETED = 0,
	SPNEGO_ACCEPT_INCOMPLETE = 1,
	SPNEGO_REJECT = 2,
	SPNEGO_REQUEST_MIC = 3,
};

struct spnego_token {
	bool is_init;                /* negTokenInit (first client leg) vs negTokenResp */
	enum spnego_mech mechs[8];   /* mechTypes of negTokenInit, in order */
	unsigned nmechs;
	enum spnego_mech supported_mech; /* negTokenResp supportedMech */
	int neg_state;               /* negTokenResp negState, -1 if absent */
	const uint8_t *mech_token;   /* points into the input; NULL if absent */
	size_t mech_token_len;
	const uint8_t *mic;          /* mechListMIC, NULL if absent */
	size_t mic_len;
	bool raw_ntlmssp;            /* input was a bare NTLMSSP message, not SPNEGO */
	/* negTokenInit: the complete DER encoding (tag, length, contents) of
	 * the mechTypes SEQUENCE, pointing into the input; the mechListMIC is
	 * computed over exactly these bytes (RFC 4178 5).  NULL if absent. */
	const uint8_t *mech_types_der;
	size_t mech_types_der_len;
};

/* Parses a security buffer from a client: a GSS-API wrapped negTokenInit, a
 * negTokenResp, or a bare "NTLMSSP\0" message.  Returns 0 or -1 if malformed. */
int spnego_decode(const uint8_t *in, size_t len, struct spnego_token *tok);

/* The NEGOTIATE response security buffer: a GSS-API negTokenInit listing the
 * mechanisms the server offers (NTLMSSP, and krb5 when with_krb5). */
void spnego_encode_neg_hints(struct wbuf *w, bool with_krb5);
/* A negTokenResp from the server: negState, optional supportedMech (set on
 * the first response), optional responseToken. */
void spnego_encode_resp(struct wbuf *w, enum spnego_neg_state state, enum spnego_mech supported_mech,
			const uint8_t *token, size_t token_len);
/* The same with a mechListMIC [3] (omitted when mic is NULL): the
 * accept-completed response of a mechanism with integrity (RFC 4178 5,
 * MS-SPNG 3.3.5.1), and the client's last negTokenResp. */
void spnego_encode_resp_mic(struct wbuf *w, enum spnego_neg_state state, enum spnego_mech supported_mech,
			    const uint8_t *token, size_t token_len, const uint8_t *mic, size_t mic_len);
/* Client side: negTokenInit with one mechanism and its token / negTokenResp. */
void spnego_encode_init(struct wbuf *w, enum spnego_mech mech, const uint8_t *token, size_t token_len);

#endif
