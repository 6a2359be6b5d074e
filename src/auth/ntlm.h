/* NTLMv2 computations shared by the NTLMSSP server and client (MS-NLMP
 * 3.3.2).  Keys and hashes are 16 bytes; every function returns 0 or -1. */
#ifndef SMBKIT_AUTH_NTLM_H
#define SMBKIT_AUTH_NTLM_H

#include <stdbool.h>
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

/* ---- Session security (MS-NLMP 3.4), NTLMv2 with extended session
 * security only: signing and sealing keys per direction (3.4.5.2, 3.4.5.3),
 * one continuing RC4 handle per direction (3.4.4), and the
 * NTLMSSP_MESSAGE_SIGNATURE of 2.2.2.9.1:
 *   Version (1) || Checksum (8) || SeqNum (4),
 *   Checksum = HMAC_MD5(SignKey, SeqNum || Message)[0..7], RC4-encrypted
 *   with the direction's sealing handle when KEY_EXCH was negotiated. */
struct crypto_rc4_stream;

struct ntlm_sec_direction {
	uint8_t sign_key[16];
	struct crypto_rc4_stream *seal; /* RC4(SealKey) handle */
	uint32_t seq;                   /* next sequence number */
};

struct ntlm_session_sec {
	bool ready;
	uint32_t flags;                 /* negotiated NTLMSSP flags */
	struct ntlm_sec_direction out;  /* what this side sends */
	struct ntlm_sec_direction in;   /* what this side receives */
};

#define NTLM_SIGNATURE_SIZE 16

/* Derives the keys from the exported session key.  is_client selects which
 * direction is "out" (client-to-server for the client).  Returns -1 if
 * extended session security was not negotiated (NTLMv1-style signing is not
 * supported) or on allocation failure. */
int ntlm_sec_init(struct ntlm_session_sec *ss, uint32_t flags, const uint8_t exported_key[16], bool is_client);
void ntlm_sec_free(struct ntlm_session_sec *ss);
/* Key derivations, exposed for tests.  mode_client: client-to-server. */
void ntlm_signkey(const uint8_t exported_key[16], bool client_to_server, uint8_t out[16]);
int ntlm_sealkey(uint32_t flags, const uint8_t exported_key[16], bool client_to_server, uint8_t out[16]);
/* GSS_GetMIC (3.4.4.2): signature of msg with the outgoing key and sequence
 * number; advances the outgoing sequence number and RC4 handle. */
int ntlm_sec_sign(struct ntlm_session_sec *ss, const uint8_t *msg, size_t len, uint8_t sig[16]);
/* GSS_VerifyMIC: checks sig (must be 16 bytes) against msg with the incoming
 * key and expected sequence number.  Returns 0 if valid, -1 otherwise.  The
 * incoming state advances either way (the peer's did too). */
int ntlm_sec_verify(struct ntlm_session_sec *ss, const uint8_t *msg, size_t len, const uint8_t *sig,
		    size_t siglen);
/* GSS_WrapEx with confidentiality (3.4.3 SEAL): encrypts msg in place with
 * the outgoing handle, then signs the plaintext.  unseal is the inverse and
 * returns -1 if the signature does not match. */
int ntlm_sec_seal(struct ntlm_session_sec *ss, uint8_t *msg, size_t len, uint8_t sig[16]);
int ntlm_sec_unseal(struct ntlm_session_sec *ss, uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen);

#endif
