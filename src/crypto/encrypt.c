/* SMB3 encryption: AES-128/256 in CCM or GCM mode through OpenSSL's EVP
 * AEAD interface (MS-SMB2 3.1.4.3, RFC 4309 / RFC 5084 / RFC 5116).
 *
 * Every cipher has a 16-byte tag; CCM takes an 11-byte nonce and GCM a
 * 12-byte one.  The additional authenticated data of an SMB message is its
 * TRANSFORM_HEADER from Nonce to the end (bytes 20..51), so the nonce,
 * OriginalMessageSize, flags and SessionId cannot be altered either.
 *
 * Cipher objects are fetched once (fetching takes locks and is slow) and
 * shared read-only; each operation uses its own short-lived context. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wire/smb2.h"
#include "wire/transform.h"

#define TAG_LEN 16

static pthread_once_t ciphers_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes128_ccm, *aes128_gcm, *aes256_ccm, *aes256_gcm;

static void fetch_ciphers(void)
{
	if (crypto_init() != 0) return;
	aes128_ccm = EVP_CIPHER_fetch(NULL, "AES-128-CCM", NULL);
	aes128_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	aes256_ccm = EVP_CIPHER_fetch(NULL, "AES-256-CCM", NULL);
	aes256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *cipher_for(uint16_t cipher)
{
	pthread_once(&ciphers_once, fetch_ciphers);
	switch (cipher) {
	case SMB2_ENCRYPTION_AES128_CCM: return aes128_ccm;
	case SMB2_ENCRYPTION_AES128_GCM: return aes128_gcm;
	case SMB2_ENCRYPTION_AES256_CCM: return aes256_ccm;
	case SMB2_ENCRYPTION_AES256_GCM: return aes256_gcm;
	default: return NULL;
	}
}

static bool is_ccm(uint16_t cipher)
{
	return cipher == SMB2_ENCRYPTION_AES128_CCM || cipher == SMB2_ENCRYPTION_AES256_CCM;
}

size_t smb3_cipher_nonce_len(uint16_t cipher)
{
	switch (cipher) {
	case SMB2_ENCRYPTION_AES128_CCM: case SMB2_ENCRYPTION_AES256_CCM: return 11;
	case SMB2_ENCRYPTION_AES128_GCM: case SMB2_ENCRYPTION_AES256_GCM: return 12;
	default: return 0;
	}
}

size_t smb3_cipher_key_len(uint16_t cipher)
{
	switch (cipher) {
	case SMB2_ENCRYPTION_AES128_CCM: case SMB2_ENCRYPTION_AES128_GCM: return 16;
	case SMB2_ENCRYPTION_AES256_CCM: case SMB2_ENCRYPTION_AES256_GCM: return 32;
	default: return 0;
	}
}

const char *smb3_cipher_name(uint16_t cipher)
{
	switch (cipher) {
	case SMB2_ENCRYPTION_AES128_CCM: return "AES-128-CCM";
	case SMB2_ENCRYPTION_AES128_GCM: return "AES-128-GCM";
	case SMB2_ENCRYPTION_AES256_CCM: return "AES-256-CCM";
	case SMB2_ENCRYPTION_AES256_GCM: return "AES-256-GCM";
	default: return NULL;
	}
}

/* One AEAD pass.  OpenSSL's CCM wants, in this order: nonce and tag length,
 * key and nonce, (decrypt: expected tag), the total data length, the AAD,
 * then the data in a single update; GCM accepts the same sequence minus the
 * length step.  For decryption the tag is checked by the data update (CCM)
 * or the final call (GCM). */
static int aead(bool enc, uint16_t cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
		size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	const EVP_CIPHER *ciph = cipher_for(cipher);
	if (!ciph || !key || !nonce || !tag || len > INT_MAX || aad_len > INT_MAX) return -1;
	if (len && (!in || !out)) return -1;
	bool ccm = is_ccm(cipher);
	int nonce_len = (int)smb3_cipher_nonce_len(cipher);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx) return -1;
	int outl = 0;
	/* A valid pointer for zero-length updates. */
	uint8_t dummy;
	int ok = EVP_CipherInit_ex2(ctx, ciph, NULL, NULL, enc, NULL) == 1 &&
		 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, nonce_len, NULL) == 1;
	if (ok && ccm)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, enc ? NULL : tag) == 1;
	ok = ok && EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc, NULL) == 1;
	if (ok && ccm) ok = EVP_CipherUpdate(ctx, NULL, &outl, NULL, (int)len) == 1;
	if (ok && aad_len) ok = EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
	if (ok && !enc && !ccm) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1;
	/* CCM needs the (possibly empty) data update even for len 0, since the
	 * tag is computed there. */
	if (ok && (len || ccm)) ok = EVP_CipherUpdate(ctx, len ? out : &dummy, &outl, len ? in : &dummy, (int)len) == 1;
	if (ok) {
		int fl = 0;
		/* CCM final is a no-op that writes nothing; GCM checks the tag here. */
		ok = EVP_CipherFinal_ex(ctx, len ? out + outl : &dummy, &fl) == 1;
	}
	if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok && !enc && len) OPENSSL_cleanse(out, len);   /* never hand out unauthenticated plaintext */
	return ok ? 0 : -1;
}

int smb3_aead_encrypt(uint16_t cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	return aead(true, cipher, key, nonce, aad, aad_len, in, len, out, tag);
}

int smb3_aead_decrypt(uint16_t cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[16])
{
	uint8_t t[TAG_LEN];
	memcpy(t, tag, TAG_LEN);
	return aead(false, cipher, key, nonce, aad, aad_len, in, len, out, t);
}

int smb3_encrypt_message(uint16_t cipher, const uint8_t *key, uint64_t session_id, const uint8_t nonce16[16],
			 const uint8_t *msg, size_t len, uint8_t *out)
{
	if (!smb3_cipher_nonce_len(cipher) || len > UINT32_MAX) return -1;
	struct smb2_transform_hdr th = {
		.original_size = (uint32_t)len,
		.flags = SMB2_TRANSFORM_FLAG_ENCRYPTED,
		.session_id = session_id,
	};
	memcpy(th.nonce, nonce16, 16);
	/* The tag is not known yet; the header is written with a zero
	 * signature (it is not part of the AAD) and the tag put in after. */
	smb2_transform_encode(out, &th);
	uint8_t tag[TAG_LEN];
	if (smb3_aead_encrypt(cipher, key, out + SMB2_TRANSFORM_NONCE_OFF, out + SMB2_TRANSFORM_AAD_OFF,
			      SMB2_TRANSFORM_AAD_LEN, msg, len, out + SMB2_TRANSFORM_HDR_SIZE, tag) != 0)
		return -1;
	memcpy(out + SMB2_TRANSFORM_SIG_OFF, tag, TAG_LEN);
	return 0;
}

int smb3_decrypt_message(uint16_t cipher, const uint8_t *key, const uint8_t *tmsg, size_t tlen, uint8_t *out)
{
	if (!tmsg || tlen <= SMB2_TRANSFORM_HDR_SIZE) return -1;
	return smb3_aead_decrypt(cipher, key, tmsg + SMB2_TRANSFORM_NONCE_OFF, tmsg + SMB2_TRANSFORM_AAD_OFF,
				 SMB2_TRANSFORM_AAD_LEN, tmsg + SMB2_TRANSFORM_HDR_SIZE,
				 tlen - SMB2_TRANSFORM_HDR_SIZE, out, tmsg + SMB2_TRANSFORM_SIG_OFF);
}
