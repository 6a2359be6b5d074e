/* NTLMv2 computations (MS-NLMP 3.3.2), all through crypto.h. */
#include "auth/ntlm.h"

#include <string.h>
#include <wctype.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/utf16.h"
#include "crypto/crypto.h"

int ntlm_nt_hash(const char *password, uint8_t out[16])
{
	struct wbuf w;
	wbuf_init(&w, 64);
	long n = utf8_to_utf16le(&w, password, strlen(password));
	int rc = (n < 0 || w.err) ? -1 : crypto_md4(w.p, w.len, out);
	if (w.p) OPENSSL_cleanse(w.p, w.cap);
	wbuf_free(&w);
	return rc;
}

int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16])
{
	struct wbuf w;
	wbuf_init(&w, 128);
	if (utf8_to_utf16le(&w, user, strlen(user)) < 0) goto bad;
	/* Upper-case the user name one UTF-16 unit at a time; surrogates (which
	 * have no case) are left alone. */
	for (size_t i = 0; i + 1 < w.len; i += 2) {
		uint16_t c = get_le16(w.p + i);
		if (c < 0xD800 || c > 0xDFFF) {
			wint_t u = towupper((wint_t)c);
			if (u <= 0xFFFF && (u < 0xD800 || u > 0xDFFF)) put_le16(w.p + i, (uint16_t)u);
		}
	}
	if (utf8_to_utf16le(&w, domain, strlen(domain)) < 0 || w.err) goto bad;
	struct iovec iov = { .iov_base = w.p, .iov_len = w.len };
	int rc = crypto_hmac_md5(nt_hash, 16, &iov, 1, out);
	wbuf_free(&w);
	return rc;
bad:
	wbuf_free(&w);
	return -1;
}

int ntlm_v2_proof(const uint8_t response_key[16], const uint8_t server_challenge[8], const uint8_t *blob,
		  size_t blob_len, uint8_t proof[16])
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)server_challenge, .iov_len = 8 },
		{ .iov_base = (void *)blob, .iov_len = blob_len },
	};
	return crypto_hmac_md5(response_key, 16, iov, 2, proof);
}

int ntlm_v2_session_base_key(const uint8_t response_key[16], const uint8_t proof[16], uint8_t out[16])
{
	struct iovec iov = { .iov_base = (void *)proof, .iov_len = 16 };
	return crypto_hmac_md5(response_key, 16, &iov, 1, out);
}

int ntlm_lmv2_response(const uint8_t response_key[16], const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24])
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)server_challenge, .iov_len = 8 },
		{ .iov_base = (void *)client_challenge, .iov_len = 8 },
	};
	if (crypto_hmac_md5(response_key, 16, iov, 2, out) != 0) return -1;
	memcpy(out + 16, client_challenge, 8);
	return 0;
}

int ntlm_mic(const uint8_t exported_key[16], const uint8_t *negotiate, size_t negotiate_len,
	     const uint8_t *challenge, size_t challenge_len, const uint8_t *authenticate, size_t authenticate_len,
	     size_t mic_off, uint8_t out[16])
{
	static const uint8_t zero_mic[16];
	if (mic_off > authenticate_len || authenticate_len - mic_off < 16) return -1;
	struct iovec iov[5] = {
		{ .iov_base = (void *)negotiate, .iov_len = negotiate_len },
		{ .iov_base = (void *)challenge, .iov_len = challenge_len },
		{ .iov_base = (void *)authenticate, .iov_len = mic_off },
		{ .iov_base = (void *)zero_mic, .iov_len = 16 },
		{ .iov_base = (void *)(authenticate + mic_off + 16), .iov_len = authenticate_len - mic_off - 16 },
	};
	return crypto_hmac_md5(exported_key, 16, iov, 5, out);
}
