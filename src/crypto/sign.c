/* SMB2 message signing (MS-SMB2 3.1.4.1 sign, 3.1.5.1 verify).
 *
 * The signature covers the whole message (header + body + any compound
 * padding) with the 16-byte Signature field taken as zero.  We never copy the
 * message: the MAC is fed [0,48), sixteen zero bytes, then [64,len). */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "wire/smb2.h"

#define SIG_OFF 48 /* Signature field in the SMB2 header (MS-SMB2 2.2.1) */
#define SIG_LEN 16

const char *smb2_signing_name(uint16_t algo)
{
	switch (algo) {
	case SMB2_SIGNING_HMAC_SHA256: return "HMAC-SHA256";
	case SMB2_SIGNING_AES_CMAC: return "AES-128-CMAC";
	case SMB2_SIGNING_AES_GMAC: return "AES-128-GMAC";
	default: return NULL;
	}
}

/* A stream is the EVP_MAC_CTX itself, behind a type of its own so that
 * callers outside crypto/ need no OpenSSL header. */
static EVP_MAC_CTX *stream_ctx(struct smb2_sign_stream *st) { return (EVP_MAC_CTX *)st; }

struct smb2_sign_stream *smb2_sign_stream_begin(uint16_t algo, const uint8_t key[16], const uint8_t *hdr)
{
	const struct crypto_algs *a = crypto_algs();
	if (!a || !hdr) return NULL;

	EVP_MAC *mac;
	OSSL_PARAM params[3];
	uint8_t nonce[12];
	switch (algo) {
	case SMB2_SIGNING_HMAC_SHA256:
		/* 2.0.2 / 2.1: HMAC-SHA256, first 16 bytes of the 32-byte MAC. */
		mac = a->hmac;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		break;
	case SMB2_SIGNING_AES_CMAC:
		mac = a->cmac;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0);
		params[1] = OSSL_PARAM_construct_end();
		break;
	case SMB2_SIGNING_AES_GMAC: {
		/* Nonce (MS-SMB2 3.1.4.1): MessageId (8 bytes, as in the header),
		 * then a 32-bit little-endian word whose bit 0 says the sender is the
		 * server and bit 1 says the message is an SMB2 CANCEL request. */
		uint32_t hflags = get_le32(hdr + 16);
		uint16_t command = get_le16(hdr + 12);
		uint32_t word = 0;
		if (hflags & SMB2_FLAGS_SERVER_TO_REDIR) word |= 1u;
		if (command == SMB2_CANCEL && !(hflags & SMB2_FLAGS_SERVER_TO_REDIR)) word |= 2u;
		memcpy(nonce, hdr + 24, 8);
		put_le32(nonce + 8, word);
		mac = a->gmac;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-GCM", 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, nonce, sizeof(nonce));
		params[2] = OSSL_PARAM_construct_end();
		break;
	}
	default:
		return NULL;
	}

	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	if (!ctx) return NULL;
	static const uint8_t zero_sig[SIG_LEN];
	if (EVP_MAC_init(ctx, key, 16, params) != 1 || EVP_MAC_update(ctx, hdr, SIG_OFF) != 1 ||
	    EVP_MAC_update(ctx, zero_sig, SIG_LEN) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return (struct smb2_sign_stream *)ctx;
}

int smb2_sign_stream_update(struct smb2_sign_stream *st, const uint8_t *p, size_t n)
{
	if (!st) return -1;
	return n == 0 || EVP_MAC_update(stream_ctx(st), p, n) == 1 ? 0 : -1;
}

void smb2_sign_stream_free(struct smb2_sign_stream *st) { EVP_MAC_CTX_free(stream_ctx(st)); }

/* Finishes st into sig and frees it. */
static int sign_stream_final(struct smb2_sign_stream *st, uint8_t sig[16])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t outlen = 0;
	int ok = EVP_MAC_final(stream_ctx(st), full, &outlen, sizeof(full)) == 1 && outlen >= SIG_LEN;
	smb2_sign_stream_free(st);
	if (ok) memcpy(sig, full, SIG_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return ok ? 0 : -1;
}

bool smb2_sign_stream_verify(struct smb2_sign_stream *st, const uint8_t sig[16])
{
	uint8_t computed[SIG_LEN];
	if (!st) return false;
	if (sign_stream_final(st, computed) != 0) return false;
	return CRYPTO_memcmp(computed, sig, SIG_LEN) == 0;
}

int smb2_sign_message(uint16_t algo, const uint8_t key[16], const uint8_t *msg, size_t len,
		      uint8_t sig[16])
{
	if (!msg || len < SMB2_HDR_SIZE) return -1;
	struct smb2_sign_stream *st = smb2_sign_stream_begin(algo, key, msg);
	if (!st) return -1;
	if (smb2_sign_stream_update(st, msg + SMB2_HDR_SIZE, len - SMB2_HDR_SIZE) != 0) {
		smb2_sign_stream_free(st);
		return -1;
	}
	return sign_stream_final(st, sig);
}

int smb2_sign_in_place(uint16_t algo, const uint8_t key[16], uint8_t *msg, size_t len)
{
	if (!msg || len < SMB2_HDR_SIZE) return -1;
	/* The flag is part of the signed data, so set it before signing. */
	put_le32(msg + 16, get_le32(msg + 16) | SMB2_FLAGS_SIGNED);
	uint8_t sig[SIG_LEN];
	if (smb2_sign_message(algo, key, msg, len, sig) != 0) return -1;
	memcpy(msg + SIG_OFF, sig, SIG_LEN);
	return 0;
}

bool smb2_verify_signature(uint16_t algo, const uint8_t key[16], const uint8_t *msg, size_t len)
{
	uint8_t sig[SIG_LEN];
	if (!msg || len < SMB2_HDR_SIZE) return false;
	if (smb2_sign_message(algo, key, msg, len, sig) != 0) return false;
	return CRYPTO_memcmp(sig, msg + SIG_OFF, SIG_LEN) == 0;
}
