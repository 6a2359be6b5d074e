/* Cryptography for SMB2/3 and NTLM, all through OpenSSL 3 libcrypto.
 * Nothing here is hand-written cryptography: these are thin, typed wrappers
 * over EVP/MAC/KDF so the protocol code names what it does. */
#ifndef SMBKIT_CRYPTO_CRYPTO_H
#define SMBKIT_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Loads the default and legacy providers (MD4 and RC4 live in legacy).
 * Returns 0, or -1 if a provider is missing.  Safe to call more than once. */
int crypto_init(void);

int crypto_random(void *buf, size_t len);

/* NTLM primitives (MS-NLMP). All return 0 on success, -1 on failure. */
int crypto_md4(const void *data, size_t len, uint8_t out[16]);
int crypto_md5(const void *data, size_t len, uint8_t out[16]);
int crypto_hmac_md5(const void *key, size_t keylen, const struct iovec *iov, int iovcnt, uint8_t out[16]);
int crypto_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len, uint8_t *out);

/* A continuing RC4 keystream (one per direction in NTLM session security,
 * MS-NLMP 3.4.4): apply() encrypts/decrypts len bytes, advancing the
 * stream; in and out may be equal. */
struct crypto_rc4_stream;
struct crypto_rc4_stream *crypto_rc4_stream_new(const uint8_t *key, size_t keylen);
int crypto_rc4_stream_apply(struct crypto_rc4_stream *st, const uint8_t *in, size_t len, uint8_t *out);
void crypto_rc4_stream_free(struct crypto_rc4_stream *st);

/* SHA-512 of (prev || data...) written to out: the 3.1.1 preauth integrity
 * hash update (MS-SMB2 3.3.5.4). prev and out may alias. */
int crypto_preauth_update(const uint8_t prev[64], const struct iovec *iov, int iovcnt, uint8_t out[64]);

/* SP800-108 counter-mode KDF with HMAC-SHA256, as SMB3 uses it
 * (MS-SMB2 3.1.4.2): L = out_len*8 bits, i = 1 (32-bit), label and context
 * taken as given (callers include the trailing NUL where MS-SMB2 does). */
int crypto_smb3_kdf(const uint8_t *key, size_t keylen, const void *label, size_t label_len,
		    const void *context, size_t context_len, uint8_t *out, size_t out_len);

/* Keys of one session (MS-SMB2 3.3.5.5.3). */
struct smb_session_keys {
	uint8_t signing[16];
	uint8_t application[16];
	uint8_t encrypt[32];     /* server -> client (ServerOut / S2C) */
	uint8_t decrypt[32];     /* client -> server (ServerIn / C2S) */
	unsigned cipher_key_len; /* 16 or 32 */
};

/* Derives the session's keys for a dialect.  For 2.0.2/2.1 the signing key is
 * the session key.  preauth_hash is used for 3.1.1 only.  cipher selects the
 * cipher key length (AES-256 ciphers use 32-byte keys and the full session
 * key as KDF input, MS-SMB2 3.3.5.5.3). */
int smb_derive_session_keys(uint16_t dialect, uint16_t cipher, const uint8_t *session_key,
			    size_t session_key_len, const uint8_t preauth_hash[64],
			    struct smb_session_keys *out);

/* Computes the SMB2 signature of one message (header + body, as sent; the
 * signature field is treated as zero) with the given algorithm
 * (SMB2_SIGNING_HMAC_SHA256 / AES_CMAC / AES_GMAC).  For AES-GMAC the nonce
 * is built from the header's MessageId and flags (MS-SMB2 3.1.4.1).
 * Returns 0 on success. */
int smb2_sign_message(uint16_t algo, const uint8_t key[16], const uint8_t *msg, size_t len,
		      uint8_t sig[16]);
/* Signs msg in place: sets SMB2_FLAGS_SIGNED and writes the signature. */
int smb2_sign_in_place(uint16_t algo, const uint8_t key[16], uint8_t *msg, size_t len);
/* "AES-128-GMAC", "AES-128-CMAC", "HMAC-SHA256"; NULL if unknown. */
const char *smb2_signing_name(uint16_t algo);
/* Verifies the signature in msg; returns true if it matches. Constant-time compare. */
bool smb2_verify_signature(uint16_t algo, const uint8_t key[16], const uint8_t *msg, size_t len);

/* The same signature computed piece by piece, for a message whose body is
 * still arriving (a signed streamed WRITE, server/io_pool.h).  begin takes
 * the 64-byte header (its Signature field is taken as zero; for AES-GMAC
 * the nonce comes from it), update the bytes after it in order.  verify
 * finishes, compares with sig in constant time and frees the stream; free
 * drops one that will not be finished.  begin returns NULL on failure. */
struct smb2_sign_stream;
struct smb2_sign_stream *smb2_sign_stream_begin(uint16_t algo, const uint8_t key[16], const uint8_t *hdr);
int smb2_sign_stream_update(struct smb2_sign_stream *st, const uint8_t *p, size_t n);
bool smb2_sign_stream_verify(struct smb2_sign_stream *st, const uint8_t sig[16]);
void smb2_sign_stream_free(struct smb2_sign_stream *st);

/* ---- SMB3 encryption (MS-SMB2 3.1.4.3), encrypt.c ----
 * cipher is an SMB2_ENCRYPTION_* id: AES-128-CCM, AES-128-GCM, AES-256-CCM,
 * AES-256-GCM.  All use a 16-byte tag. */

/* Nonce bytes the cipher uses (11 for CCM, 12 for GCM), 0 if unknown. */
size_t smb3_cipher_nonce_len(uint16_t cipher);
/* Key bytes (16 or 32), 0 if unknown. */
size_t smb3_cipher_key_len(uint16_t cipher);
/* "AES-128-GCM" etc. for logs and configuration, NULL if unknown. */
const char *smb3_cipher_name(uint16_t cipher);

/* AEAD over one buffer.  key has smb3_cipher_key_len(cipher) bytes and
 * nonce smb3_cipher_nonce_len(cipher) bytes; in and out may be equal.
 * Returns 0; decrypt returns -1 when the tag does not match (out is then
 * wiped) or on any error. */
int smb3_aead_encrypt(uint16_t cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]);
int smb3_aead_decrypt(uint16_t cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[16]);

/* Whole-message helpers with the SMB2 TRANSFORM_HEADER (wire/transform.h).
 * smb3_encrypt_message writes the 52-byte transform header and the
 * ciphertext of msg to out (52 + len bytes); nonce16 is the 16-byte Nonce
 * field (the bytes past the cipher's nonce length must be zero).
 * smb3_decrypt_message takes a whole received transform message (already
 * validated by smb2_transform_decode) and writes the plaintext
 * (len - 52 bytes) to out.  Return 0 or -1. */
int smb3_encrypt_message(uint16_t cipher, const uint8_t *key, uint64_t session_id, const uint8_t nonce16[16],
			 const uint8_t *msg, size_t len, uint8_t *out);
int smb3_decrypt_message(uint16_t cipher, const uint8_t *key, const uint8_t *tmsg, size_t tlen, uint8_t *out);

#endif
