/* Primitive wrappers over OpenSSL 3: providers, random, MD4/MD5/HMAC-MD5,
 * RC4 and the SHA-512 preauth integrity hash.
 *
 * MD4 and RC4 are only in OpenSSL's "legacy" provider; NTLM (MS-NLMP 3.3.2,
 * 3.4.5.1) cannot work without them, so we load it beside "default".
 * Algorithms are fetched once (EVP_*_fetch is comparatively slow and takes
 * locks) and then shared read-only by all threads. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -1;
static struct crypto_algs algs;

static void crypto_do_init(void)
{
	/* Once an explicit provider is loaded, the default provider is no longer
	 * loaded implicitly, so both are loaded by name.  The provider handles
	 * are kept for the life of the process. */
	OSSL_PROVIDER *def = OSSL_PROVIDER_load(NULL, "default");
	OSSL_PROVIDER *legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (!def || !legacy) return;

	algs.md4 = EVP_MD_fetch(NULL, "MD4", NULL);
	algs.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	algs.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	algs.sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	algs.rc4 = EVP_CIPHER_fetch(NULL, "RC4", NULL);
	algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	algs.cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	algs.gmac = EVP_MAC_fetch(NULL, "GMAC", NULL);
	algs.kbkdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	if (!algs.md4 || !algs.md5 || !algs.sha256 || !algs.sha512 || !algs.rc4 || !algs.hmac ||
	    !algs.cmac || !algs.gmac || !algs.kbkdf)
		return;
	init_result = 0;
}

int crypto_init(void)
{
	pthread_once(&init_once, crypto_do_init);
	return init_result;
}

const struct crypto_algs *crypto_algs(void)
{
	return crypto_init() == 0 ? &algs : NULL;
}

int crypto_random(void *buf, size_t len)
{
	if (crypto_init() != 0) return -1;
	if (len > INT_MAX) return -1;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static int digest_iov(const EVP_MD *md, const struct iovec *iov, int iovcnt, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex2(ctx, md, NULL) == 1;
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len) ok = EVP_DigestUpdate(ctx, iov[i].iov_base, iov[i].iov_len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int crypto_md4(const void *data, size_t len, uint8_t out[16])
{
	const struct crypto_algs *a = crypto_algs();
	if (!a) return -1;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	return digest_iov(a->md4, &iov, 1, out);
}

int crypto_md5(const void *data, size_t len, uint8_t out[16])
{
	const struct crypto_algs *a = crypto_algs();
	if (!a) return -1;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	return digest_iov(a->md5, &iov, 1, out);
}

int crypto_hmac_md5(const void *key, size_t keylen, const struct iovec *iov, int iovcnt, uint8_t out[16])
{
	const struct crypto_algs *a = crypto_algs();
	if (!a) return -1;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(a->hmac);
	if (!ctx) return -1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"MD5", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outlen = 0;
	int ok = EVP_MAC_init(ctx, key, keylen, params) == 1;
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len) ok = EVP_MAC_update(ctx, iov[i].iov_base, iov[i].iov_len) == 1;
	ok = ok && EVP_MAC_final(ctx, out, &outlen, 16) == 1 && outlen == 16;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int crypto_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len, uint8_t *out)
{
	const struct crypto_algs *a = crypto_algs();
	if (!a || len > INT_MAX || keylen == 0 || keylen > 256) return -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx) return -1;
	/* RC4's key length is variable: set it before giving the key. */
	unsigned int klen = (unsigned int)keylen;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_KEYLEN, &klen),
		OSSL_PARAM_construct_end(),
	};
	int outl = 0, finl = 0;
	int ok = EVP_EncryptInit_ex2(ctx, a->rc4, NULL, NULL, params) == 1 &&
		 EVP_EncryptInit_ex2(ctx, NULL, key, NULL, NULL) == 1 &&
		 EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) == 1 &&
		 EVP_EncryptFinal_ex(ctx, out + outl, &finl) == 1 && (size_t)(outl + finl) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* RC4 as a keystream that continues across calls: NTLM session security
 * (MS-NLMP 3.4.4) keeps one RC4 handle per direction for the whole
 * session, so each message continues where the previous one stopped. */
struct crypto_rc4_stream {
	EVP_CIPHER_CTX *ctx;
};

struct crypto_rc4_stream *crypto_rc4_stream_new(const uint8_t *key, size_t keylen)
{
	const struct crypto_algs *a = crypto_algs();
	if (!a || keylen == 0 || keylen > 256) return NULL;
	struct crypto_rc4_stream *st = calloc(1, sizeof(*st));
	if (!st) return NULL;
	st->ctx = EVP_CIPHER_CTX_new();
	unsigned int klen = (unsigned int)keylen;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_KEYLEN, &klen),
		OSSL_PARAM_construct_end(),
	};
	if (!st->ctx || EVP_EncryptInit_ex2(st->ctx, a->rc4, NULL, NULL, params) != 1 ||
	    EVP_EncryptInit_ex2(st->ctx, NULL, key, NULL, NULL) != 1) {
		crypto_rc4_stream_free(st);
		return NULL;
	}
	return st;
}

int crypto_rc4_stream_apply(struct crypto_rc4_stream *st, const uint8_t *in, size_t len, uint8_t *out)
{
	if (!st || len > INT_MAX) return -1;
	if (len == 0) return 0;
	int outl = 0;
	return EVP_EncryptUpdate(st->ctx, out, &outl, in, (int)len) == 1 && (size_t)outl == len ? 0 : -1;
}

void crypto_rc4_stream_free(struct crypto_rc4_stream *st)
{
	if (!st) return;
	EVP_CIPHER_CTX_free(st->ctx); /* also cleanses the key schedule */
	free(st);
}

int crypto_preauth_update(const uint8_t prev[64], const struct iovec *iov, int iovcnt, uint8_t out[64])
{
	const struct crypto_algs *a = crypto_algs();
	if (!a || iovcnt < 0) return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* prev and out may alias: prev is consumed before out is written. */
	int ok = ctx && EVP_DigestInit_ex2(ctx, a->sha512, NULL) == 1 && EVP_DigestUpdate(ctx, prev, 64) == 1;
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len) ok = EVP_DigestUpdate(ctx, iov[i].iov_base, iov[i].iov_len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}
