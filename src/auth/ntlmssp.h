/* NTLMSSP server side (MS-NLMP): NEGOTIATE -> CHALLENGE -> AUTHENTICATE,
 * NTLMv2 verification, session key with key exchange, MIC check.
 * The client side (issue: client) will live beside it in ntlmssp_client.c. */
#ifndef SMBKIT_AUTH_NTLMSSP_H
#define SMBKIT_AUTH_NTLMSSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Looks up a user's NT hash.  user/domain are UTF-8.  Returns 0 and fills
 * nt_hash if the user exists, -1 otherwise. */
typedef int (*ntlm_lookup_fn)(void *arg, const char *user, const char *domain, uint8_t nt_hash[16]);

struct ntlmssp_server;

/* netbios_name/domain/dns_name are advertised in the CHALLENGE target info. */
struct ntlmssp_server *ntlmssp_server_new(const char *netbios_name, const char *domain,
					  const char *dns_name);
void ntlmssp_server_free(struct ntlmssp_server *s);

/* Feeds one NTLMSSP message (the mechToken after SPNEGO unwrapping).
 * NEGOTIATE: appends a CHALLENGE to out, returns STATUS_MORE_PROCESSING_REQUIRED.
 * AUTHENTICATE: verifies it; returns STATUS_SUCCESS (out left empty) or
 * STATUS_LOGON_FAILURE (wrong password/unknown user) or
 * STATUS_INVALID_PARAMETER (malformed).  Anonymous (empty user, empty or
 * one-zero-byte LM response, empty NT response) succeeds with
 * ntlmssp_server_is_anonymous() true; the caller decides whether to allow it.
 * An unknown user succeeds as guest (is_guest) only if allow_guest. */
uint32_t ntlmssp_server_step(struct ntlmssp_server *s, const uint8_t *in, size_t inlen,
			     struct wbuf *out, ntlm_lookup_fn lookup, void *lookup_arg,
			     bool allow_guest);

const char *ntlmssp_server_user(const struct ntlmssp_server *s);   /* UTF-8, "" if anonymous */
const char *ntlmssp_server_domain(const struct ntlmssp_server *s);
const char *ntlmssp_server_workstation(const struct ntlmssp_server *s);
bool ntlmssp_server_is_anonymous(const struct ntlmssp_server *s);
bool ntlmssp_server_is_guest(const struct ntlmssp_server *s);
/* The exported session key (16 bytes) after SUCCESS; zero for anonymous/guest. */
const uint8_t *ntlmssp_server_session_key(const struct ntlmssp_server *s);

/* ---- Session security (MS-NLMP 3.4) for SPNEGO's mechListMIC ----
 * Available after a keyed (not anonymous, not guest) SUCCESS when extended
 * session security was negotiated. */

/* Keeps a copy of the DER-encoded mechTypes SEQUENCE of the client's
 * negTokenInit (RFC 4178 5: the mechListMIC is computed over it). */
int ntlmssp_server_set_mech_types(struct ntlmssp_server *s, const uint8_t *der, size_t len);
/* The stored copy (NULL, *len 0 if none). */
const uint8_t *ntlmssp_server_mech_types(const struct ntlmssp_server *s, size_t *len);
bool ntlmssp_server_has_session_security(const struct ntlmssp_server *s);
/* True when SPNEGO must exchange mechListMICs: session security exists and
 * the client negotiated NTLMSSP signing or sent an NTLM MIC (MS-SPNG
 * 3.3.5.1, RFC 4178 5). */
bool ntlmssp_server_signing_negotiated(const struct ntlmssp_server *s);
uint32_t ntlmssp_server_negotiated_flags(const struct ntlmssp_server *s);
/* GSS_VerifyMIC with the client-to-server key and sequence number: 0 if sig
 * (16 bytes) is valid for msg, -1 otherwise.  Advances the sequence number. */
int ntlmssp_server_verify_mic(struct ntlmssp_server *s, const uint8_t *msg, size_t len, const uint8_t *sig,
			      size_t siglen);
/* GSS_GetMIC with the server-to-client key: writes the 16-byte signature. */
int ntlmssp_server_make_mic(struct ntlmssp_server *s, const uint8_t *msg, size_t len, uint8_t sig[16]);

#endif
