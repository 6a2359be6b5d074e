/* NTLMv2 computations (MS-NLMP 3.3.2), all through crypto.h. */
#include "auth/ntlm.h"

#include <string.h>
#include <wctype.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/utf16.h"
#include "crypto/crypto.h"
#include "wire/ntlmssp.h"

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
			uint32_t u = unicode_upper(c);
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

/* ---- Session security (MS-NLMP 3.4) ---- */

static const char client_sign_magic[] = "session key to client-to-server signing key magic constant";
static const char server_sign_magic[] = "session key to server-to-client signing key magic constant";
static const char client_seal_magic[] = "session key to client-to-server sealing key magic constant";
static const char server_seal_magic[] = "session key to server-to-client sealing key magic constant";

/* MD5(key || constant), the constant with its terminating NUL (3.4.5.2). */
static int md5_key_magic(const uint8_t *key, size_t keylen, const char *magic, uint8_t out[16])
{
	uint8_t buf[16 + 64];
	size_t mlen = strlen(magic) + 1;
	if (keylen > 16 || mlen > 64) return -1;
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, magic, mlen);
	int rc = crypto_md5(buf, keylen + mlen, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

void ntlm_signkey(const uint8_t exported_key[16], bool client_to_server, uint8_t out[16])
{
	if (md5_key_magic(exported_key, 16, client_to_server ? client_sign_magic : server_sign_magic, out) != 0)
		memset(out, 0, 16);
}

int ntlm_sealkey(uint32_t flags, const uint8_t exported_key[16], bool client_to_server, uint8_t out[16])
{
	/* 3.4.5.3 with extended session security: 128, 56 or 40 bits of the
	 * exported key go into the hash. */
	if (!(flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)) return -1;
	size_t keylen = (flags & NTLMSSP_NEGOTIATE_128) ? 16 : (flags & NTLMSSP_NEGOTIATE_56) ? 7 : 5;
	return md5_key_magic(exported_key, keylen, client_to_server ? client_seal_magic : server_seal_magic, out);
}

static int sec_dir_init(struct ntlm_sec_direction *d, uint32_t flags, const uint8_t exported_key[16],
			bool client_to_server)
{
	uint8_t seal_key[16];
	ntlm_signkey(exported_key, client_to_server, d->sign_key);
	if (ntlm_sealkey(flags, exported_key, client_to_server, seal_key) != 0) return -1;
	d->seal = crypto_rc4_stream_new(seal_key, 16);
	OPENSSL_cleanse(seal_key, sizeof(seal_key));
	d->seq = 0;
	return d->seal ? 0 : -1;
}

int ntlm_sec_init(struct ntlm_session_sec *ss, uint32_t flags, const uint8_t exported_key[16], bool is_client)
{
	memset(ss, 0, sizeof(*ss));
	ss->flags = flags;
	if (!(flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)) return -1;
	if (sec_dir_init(&ss->out, flags, exported_key, is_client) != 0 ||
	    sec_dir_init(&ss->in, flags, exported_key, !is_client) != 0) {
		ntlm_sec_free(ss);
		return -1;
	}
	ss->ready = true;
	return 0;
}

void ntlm_sec_free(struct ntlm_session_sec *ss)
{
	if (!ss) return;
	crypto_rc4_stream_free(ss->out.seal);
	crypto_rc4_stream_free(ss->in.seal);
	OPENSSL_cleanse(ss, sizeof(*ss));
}

/* MAC() of 3.4.4.2 (extended session security) with sequence number seq,
 * using and advancing d's RC4 handle when KEY_EXCH was negotiated. */
static int sec_mac(const struct ntlm_session_sec *ss, struct ntlm_sec_direction *d, uint32_t seq,
		   const uint8_t *msg, size_t len, uint8_t sig[16])
{
	uint8_t seqbuf[4], digest[16];
	put_le32(seqbuf, seq);
	struct iovec iov[2] = {
		{ .iov_base = seqbuf, .iov_len = 4 },
		{ .iov_base = (void *)msg, .iov_len = len },
	};
	if (crypto_hmac_md5(d->sign_key, 16, iov, 2, digest) != 0) return -1;
	put_le32(sig, 1); /* NTLMSSP_MESSAGE_SIGNATURE version */
	int rc = 0;
	if (ss->flags & NTLMSSP_NEGOTIATE_KEY_EXCH)
		rc = crypto_rc4_stream_apply(d->seal, digest, 8, sig + 4);
	else
		memcpy(sig + 4, digest, 8);
	put_le32(sig + 12, seq);
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

int ntlm_sec_sign(struct ntlm_session_sec *ss, const uint8_t *msg, size_t len, uint8_t sig[16])
{
	if (!ss || !ss->ready) return -1;
	int rc = sec_mac(ss, &ss->out, ss->out.seq, msg, len, sig);
	ss->out.seq++;
	return rc;
}

int ntlm_sec_verify(struct ntlm_session_sec *ss, const uint8_t *msg, size_t len, const uint8_t *sig,
		    size_t siglen)
{
	if (!ss || !ss->ready || !sig) return -1;
	uint8_t want[16];
	/* The expected signature is computed even for a wrong-sized one so
	 * the RC4 handle stays in step with the peer's. */
	int rc = sec_mac(ss, &ss->in, ss->in.seq, msg, len, want);
	ss->in.seq++;
	if (rc != 0 || siglen != NTLM_SIGNATURE_SIZE || CRYPTO_memcmp(want, sig, 16) != 0) rc = -1;
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

int ntlm_sec_seal(struct ntlm_session_sec *ss, uint8_t *msg, size_t len, uint8_t sig[16])
{
	if (!ss || !ss->ready) return -1;
	/* 3.4.3: the signature covers the plaintext, but the RC4 handle first
	 * encrypts the message and then the checksum. */
	struct wbuf plain;
	wbuf_init(&plain, len ? len : 1);
	wbuf_bytes(&plain, msg, len);
	int rc = plain.err ? -1 : crypto_rc4_stream_apply(ss->out.seal, msg, len, msg);
	if (rc == 0) rc = sec_mac(ss, &ss->out, ss->out.seq, plain.p, len, sig);
	ss->out.seq++;
	if (plain.p) OPENSSL_cleanse(plain.p, plain.cap);
	wbuf_free(&plain);
	return rc;
}

int ntlm_sec_unseal(struct ntlm_session_sec *ss, uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	if (!ss || !ss->ready) return -1;
	if (crypto_rc4_stream_apply(ss->in.seal, msg, len, msg) != 0) return -1;
	return ntlm_sec_verify(ss, msg, len, sig, siglen);
}
