/* SMB 3.x key derivation (MS-SMB2 3.1.4.2) and the per-dialect session keys
 * (MS-SMB2 3.3.5.5.3 server side, 3.2.5.3.1 client side).
 *
 * The KDF is SP800-108 counter mode with HMAC-SHA256, r = 32, and the fixed
 * input  i || Label || 0x00 || Context || L,  which is exactly OpenSSL's
 * KBKDF in counter mode with its default separator and L fields. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "wire/smb2.h"

int crypto_smb3_kdf(const uint8_t *key, size_t keylen, const void *label, size_t label_len,
		    const void *context, size_t context_len, uint8_t *out, size_t out_len)
{
	const struct crypto_algs *a = crypto_algs();
	if (!a || !key || keylen == 0 || out_len == 0) return -1;
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(a->kbkdf);
	if (!ctx) return -1;
	/* OSSL_PARAM wants non-const pointers; the KDF only reads them. */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, label_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)context, context_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = EVP_KDF_derive(ctx, out, out_len, params) == 1;
	EVP_KDF_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Labels and contexts include their terminating NUL, as MS-SMB2 3.3.5.5.3
 * lists them ("SMB2AESCMAC\0" etc.); sizeof keeps it. */
#define LBL(s) s, sizeof(s)

int smb_derive_session_keys(uint16_t dialect, uint16_t cipher, const uint8_t *session_key,
			    size_t session_key_len, const uint8_t preauth_hash[64],
			    struct smb_session_keys *out)
{
	memset(out, 0, sizeof(*out));
	if (!session_key || session_key_len == 0) return -1;

	/* Session.SessionKey is the first 16 bytes of the GSS key, right-padded
	 * with zeros when shorter (MS-SMB2 3.3.1.8 / 3.2.1.3). */
	uint8_t key16[16] = { 0 };
	memcpy(key16, session_key, session_key_len < 16 ? session_key_len : 16);
	out->cipher_key_len = 16;

	if (dialect == SMB2_DIALECT_202 || dialect == SMB2_DIALECT_210) {
		/* 2.x signs with the session key itself (MS-SMB2 3.1.4.1). */
		memcpy(out->signing, key16, 16);
		memcpy(out->application, key16, 16);
		OPENSSL_cleanse(key16, sizeof(key16));
		return 0;
	}

	int rc = 0;
	if (dialect == SMB2_DIALECT_300 || dialect == SMB2_DIALECT_302) {
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMB2AESCMAC"), LBL("SmbSign"), out->signing, 16);
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMB2APP"), LBL("SmbRpc"), out->application, 16);
		/* Server's view: it encrypts with ServerOut and decrypts with ServerIn. */
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMB2AESCCM"), LBL("ServerOut"), out->encrypt, 16);
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMB2AESCCM"), LBL("ServerIn "), out->decrypt, 16);
	} else if (dialect == SMB2_DIALECT_311) {
		if (!preauth_hash) {
			OPENSSL_cleanse(key16, sizeof(key16));
			return -1;
		}
		/* 3.1.1 with an AES-256 cipher: 32-byte cipher keys (L = 256) derived
		 * from the full session key (Session.FullSessionKey). */
		const uint8_t *cipher_in = key16;
		size_t cipher_in_len = 16;
		if (cipher == SMB2_ENCRYPTION_AES256_CCM || cipher == SMB2_ENCRYPTION_AES256_GCM) {
			out->cipher_key_len = 32;
			if (session_key_len > 16) {
				cipher_in = session_key;
				cipher_in_len = session_key_len;
			}
		}
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMBSigningKey"), preauth_hash, 64, out->signing, 16);
		rc |= crypto_smb3_kdf(key16, 16, LBL("SMBAppKey"), preauth_hash, 64, out->application, 16);
		rc |= crypto_smb3_kdf(cipher_in, cipher_in_len, LBL("SMBS2CCipherKey"), preauth_hash, 64,
				      out->encrypt, out->cipher_key_len);
		rc |= crypto_smb3_kdf(cipher_in, cipher_in_len, LBL("SMBC2SCipherKey"), preauth_hash, 64,
				      out->decrypt, out->cipher_key_len);
	} else {
		rc = -1;
	}
	OPENSSL_cleanse(key16, sizeof(key16));
	if (rc) {
		OPENSSL_cleanse(out, sizeof(*out));
		return -1;
	}
	return 0;
}
