/* Shared between crypto.c, sign.c and kdf.c: the algorithm objects fetched
 * once by crypto_init().  Fetched EVP objects are immutable and may be used
 * from any thread; each operation makes its own short-lived context. */
#ifndef SMBKIT_CRYPTO_CRYPTO_INTERNAL_H
#define SMBKIT_CRYPTO_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/kdf.h>

struct crypto_algs {
	EVP_MD *md4;
	EVP_MD *md5;
	EVP_MD *sha256;
	EVP_MD *sha512;
	EVP_CIPHER *rc4;
	EVP_MAC *hmac;
	EVP_MAC *cmac;
	EVP_MAC *gmac;
	EVP_KDF *kbkdf;
};

/* Runs crypto_init() if needed; returns the fetched algorithms or NULL if
 * initialisation failed (a provider or algorithm is missing). */
const struct crypto_algs *crypto_algs(void);

#endif
