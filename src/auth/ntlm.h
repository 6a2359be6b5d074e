/* NTLMv2 computations shared by the NTLMSSP server and client (MS-NLMP
 * 3.3.2).  Keys and hashes are 16 bytes; every function returns 0 or -1. */
#ifndef SMBKIT_AUTH_NTLM_H
#define SMBKIT_AUTH_NTLM_H

#include <stddef.h>
#include <stdint.h>

/* NTOWFv1: MD4(UTF-16LE(password)). */
int ntlm_nt_hash(const char *password, uint8_t out[16]);
/* NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(UPPER(user) || domain)); user and
 * domain are UTF-8.  The domain is used as given (not upper-cased). */
int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16]);
/* NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || blob), where blob
 * is the NTLMv2 client challenge ("temp" in MS-NLMP 3.3.2). */
int ntlm_v2_proof(const uint8_t response_key[16], const uint8_t server_challenge[8], const uint8_t *blob,
		  size_t blob_len, uint8_t proof[16]);
/* SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr). */
int ntlm_v2_session_base_key(const uint8_t response_key[16], const uint8_t proof[16], uint8_t out[16]);
/* LMv2 response (24 bytes): HMAC_MD5(key, SC || CC) || CC. */
int ntlm_lmv2_response(const uint8_t response_key[16], const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24]);
/* MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE)
 * with the 16 bytes at mic_off in AUTHENTICATE taken as zero (3.1.5.1.2). */
int ntlm_mic(const uint8_t exported_key[16], const uint8_t *negotiate, size_t negotiate_len,
	     const uint8_t *challenge, size_t challenge_len, const uint8_t *authenticate, size_t authenticate_len,
	     size_t mic_off, uint8_t out[16]);

#endif
