/* NTLMSSP client (MS-NLMP 3.1): NEGOTIATE, then AUTHENTICATE with an NTLMv2
 * response, key exchange and a MIC, from a password or an NT hash. */
#ifndef SMBKIT_AUTH_NTLMSSP_CLIENT_H
#define SMBKIT_AUTH_NTLMSSP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct ntlmssp_client;

/* user/domain/workstation are UTF-8 (NULL = ""); password NULL with user ""
 * gives an anonymous logon. */
struct ntlmssp_client *ntlmssp_client_new(const char *user, const char *domain, const char *password,
					  const char *workstation);
/* Same with the NT hash instead of the password. */
struct ntlmssp_client *ntlmssp_client_new_hash(const char *user, const char *domain, const uint8_t nt_hash[16],
					       const char *workstation);
void ntlmssp_client_free(struct ntlmssp_client *c);

/* First call with in == NULL: appends NEGOTIATE to out and returns
 * STATUS_MORE_PROCESSING_REQUIRED.  Second call with the server's CHALLENGE:
 * appends AUTHENTICATE and returns STATUS_SUCCESS (the server still has to
 * accept it).  Malformed input: STATUS_INVALID_PARAMETER. */
uint32_t ntlmssp_client_step(struct ntlmssp_client *c, const uint8_t *in, size_t inlen, struct wbuf *out);

/* The exported session key (16 bytes), valid after AUTHENTICATE was made;
 * zero for anonymous. */
const uint8_t *ntlmssp_client_session_key(const struct ntlmssp_client *c);
/* Negotiated flags (those of the AUTHENTICATE message). */
uint32_t ntlmssp_client_flags(const struct ntlmssp_client *c);

/* Session security (MS-NLMP 3.4.4), valid after AUTHENTICATE was made with
 * a key and extended session security: GSS_GetMIC with the client-to-server
 * key, GSS_VerifyMIC with the server-to-client key (e.g. SPNEGO's
 * mechListMIC), and GSS_WrapEx sealing.  All return 0 or -1. */
int ntlmssp_client_make_mic(struct ntlmssp_client *c, const uint8_t *msg, size_t len, uint8_t sig[16]);
int ntlmssp_client_verify_mic(struct ntlmssp_client *c, const uint8_t *msg, size_t len, const uint8_t *sig,
			      size_t siglen);
int ntlmssp_client_seal(struct ntlmssp_client *c, uint8_t *msg, size_t len, uint8_t sig[16]);
int ntlmssp_client_unseal(struct ntlmssp_client *c, uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen);

#endif
