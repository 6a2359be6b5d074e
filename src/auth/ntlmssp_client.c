/* NTLMSSP client (MS-NLMP 3.1.5): see ntlmssp_client.h. */
#include "auth/ntlmssp_client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/ntlm.h"
#include "common/utf16.h"
#include "crypto/crypto.h"
#include "wire/ntlmssp.h"
#include "wire/ntstatus.h"

enum { CL_START, CL_WANT_CHALLENGE, CL_DONE };

struct ntlmssp_client {
	int state;
	char *user;
	char *domain;
	char *workstation;
	uint8_t nt_hash[16];
	bool anonymous;
	uint8_t *negotiate_msg;
	size_t negotiate_len;
	uint32_t flags;
	uint8_t session_key[16];
	struct ntlm_session_sec sec; /* MS-NLMP 3.4, after a keyed AUTHENTICATE */
};

#define CLIENT_FLAGS                                                                                            \
	(NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL |   \
	 NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |    \
	 NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 |                     \
	 NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56)

/* Version (2.2.2.10): only informative; NTLMSSP revision 15. */
static const uint8_t client_version[8] = { 10, 0, 0x7C, 0x4F, 0, 0, 0, 0x0F };

static struct ntlmssp_client *client_alloc(const char *user, const char *domain, const char *workstation)
{
	struct ntlmssp_client *c = calloc(1, sizeof(*c));
	if (!c) return NULL;
	c->user = strdup(user ? user : "");
	c->domain = strdup(domain ? domain : "");
	c->workstation = strdup(workstation ? workstation : "");
	if (!c->user || !c->domain || !c->workstation) {
		ntlmssp_client_free(c);
		return NULL;
	}
	return c;
}

struct ntlmssp_client *ntlmssp_client_new(const char *user, const char *domain, const char *password,
					  const char *workstation)
{
	struct ntlmssp_client *c = client_alloc(user, domain, workstation);
	if (!c) return NULL;
	if (!c->user[0] && !password) {
		c->anonymous = true;
	} else if (ntlm_nt_hash(password ? password : "", c->nt_hash) != 0) {
		ntlmssp_client_free(c);
		return NULL;
	}
	return c;
}

struct ntlmssp_client *ntlmssp_client_new_hash(const char *user, const char *domain, const uint8_t nt_hash[16],
					       const char *workstation)
{
	struct ntlmssp_client *c = client_alloc(user, domain, workstation);
	if (c) memcpy(c->nt_hash, nt_hash, 16);
	return c;
}

void ntlmssp_client_free(struct ntlmssp_client *c)
{
	if (!c) return;
	free(c->user);
	free(c->domain);
	free(c->workstation);
	free(c->negotiate_msg);
	ntlm_sec_free(&c->sec);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

const uint8_t *ntlmssp_client_session_key(const struct ntlmssp_client *c) { return c->session_key; }
uint32_t ntlmssp_client_flags(const struct ntlmssp_client *c) { return c->flags; }

static uint32_t make_negotiate(struct ntlmssp_client *c, struct wbuf *out)
{
	struct ntlmssp_negotiate_msg neg = { .flags = CLIENT_FLAGS, .has_version = true };
	memcpy(neg.version, client_version, 8);
	size_t start = out->len;
	ntlmssp_encode_negotiate(out, &neg);
	if (out->err) return STATUS_NO_MEMORY;
	c->negotiate_len = out->len - start;
	c->negotiate_msg = malloc(c->negotiate_len);
	if (!c->negotiate_msg) return STATUS_NO_MEMORY;
	memcpy(c->negotiate_msg, out->p + start, c->negotiate_len);
	c->state = CL_WANT_CHALLENGE;
	return STATUS_MORE_PROCESSING_REQUIRED;
}

static uint64_t filetime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

/* Copies the server's AV pairs except EOL (and any MsvAvFlags, which we
 * write ourselves) into w. */
static void copy_av_pairs(struct wbuf *w, const struct ntlmssp_blob *ti)
{
	struct rbuf r = rbuf_make(ti->p, ti->len);
	while (rbuf_left(&r) >= 4) {
		uint16_t id = rbuf_u16(&r);
		uint16_t len = rbuf_u16(&r);
		const uint8_t *v = rbuf_ptr(&r, len);
		if (r.err || id == MSV_AV_EOL) break;
		if (id != MSV_AV_FLAGS) ntlmssp_av_add(w, id, v, len);
	}
}

static uint32_t make_authenticate(struct ntlmssp_client *c, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	struct ntlmssp_challenge_msg ch;
	if (ntlmssp_decode_challenge(in, inlen, &ch) != 0) return STATUS_INVALID_PARAMETER;
	if (!(ch.flags & NTLMSSP_NEGOTIATE_UNICODE)) return STATUS_INVALID_PARAMETER; /* we only speak Unicode */
	c->flags = ch.flags & CLIENT_FLAGS;

	struct wbuf domain, user, ws, nt, ti;
	wbuf_init(&domain, 64);
	wbuf_init(&user, 64);
	wbuf_init(&ws, 64);
	wbuf_init(&nt, 256);
	wbuf_init(&ti, 256);
	uint8_t lm[24] = { 0 }, key[16] = { 0 }, proof[16] = { 0 }, base_key[16] = { 0 };
	uint8_t random_key[16] = { 0 }, enc_key[16] = { 0 };
	uint32_t status = STATUS_SUCCESS;
	bool with_mic = false;

	if (utf8_to_utf16le(&domain, c->domain, strlen(c->domain)) < 0 ||
	    utf8_to_utf16le(&user, c->user, strlen(c->user)) < 0 ||
	    utf8_to_utf16le(&ws, c->workstation, strlen(c->workstation)) < 0) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}

	struct ntlmssp_authenticate_msg am = {
		.flags = c->flags,
		.domain = { domain.p, domain.len },
		.user = { user.p, user.len },
		.workstation = { ws.p, ws.len },
		.has_version = true,
	};
	memcpy(am.version, client_version, 8);

	if (c->anonymous) {
		/* Anonymous (3.1.5.1.2): empty NT response, LM response Z(1), no
		 * session key. */
		static const uint8_t z1[1] = { 0 };
		am.lm_response = (struct ntlmssp_blob){ z1, 1 };
		am.flags |= NTLMSSP_NEGOTIATE_ANONYMOUS;
		am.flags &= ~NTLMSSP_NEGOTIATE_KEY_EXCH;
		memset(c->session_key, 0, 16);
		ntlmssp_encode_authenticate(out, &am, false);
		goto out;
	}

	/* NTLMv2 client challenge (2.2.2.7) over the server's target info; when
	 * the server sent a timestamp we use it, send a MIC and say so in
	 * MsvAvFlags, and leave the LM response zero (3.1.5.1.2). */
	struct ntlmssp_blob ts_av;
	uint8_t timestamp[8];
	if (ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_TIMESTAMP, &ts_av) && ts_av.len == 8) {
		memcpy(timestamp, ts_av.p, 8);
		with_mic = true;
	} else {
		put_le64(timestamp, filetime_now());
	}
	uint8_t client_challenge[8];
	if (crypto_random(client_challenge, 8) != 0) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	copy_av_pairs(&ti, &ch.target_info);
	if (with_mic) {
		uint8_t f[4];
		put_le32(f, MSV_AV_FLAG_MIC_PRESENT);
		ntlmssp_av_add(&ti, MSV_AV_FLAGS, f, 4);
	}
	ntlmssp_av_add(&ti, MSV_AV_EOL, NULL, 0);

	wbuf_zero(&nt, 16); /* NTProofStr, filled below */
	static const uint8_t blob_head[8] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	wbuf_bytes(&nt, blob_head, 8);
	wbuf_bytes(&nt, timestamp, 8);
	wbuf_bytes(&nt, client_challenge, 8);
	wbuf_zero(&nt, 4);
	wbuf_bytes(&nt, ti.p, ti.len);
	wbuf_zero(&nt, 4);
	if (nt.err || ti.err) {
		status = STATUS_NO_MEMORY;
		goto out;
	}
	if (ntlm_ntowfv2(c->nt_hash, c->user, c->domain, key) != 0 ||
	    ntlm_v2_proof(key, ch.server_challenge, nt.p + 16, nt.len - 16, proof) != 0 ||
	    ntlm_v2_session_base_key(key, proof, base_key) != 0 ||
	    (!with_mic && ntlm_lmv2_response(key, ch.server_challenge, client_challenge, lm) != 0)) {
		status = STATUS_INTERNAL_ERROR;
		goto out;
	}
	memcpy(nt.p, proof, 16);
	am.nt_response = (struct ntlmssp_blob){ nt.p, nt.len };
	am.lm_response = (struct ntlmssp_blob){ lm, 24 };

	if (c->flags & NTLMSSP_NEGOTIATE_KEY_EXCH) {
		if (crypto_random(random_key, 16) != 0 || crypto_rc4(base_key, 16, random_key, 16, enc_key) != 0) {
			status = STATUS_INTERNAL_ERROR;
			goto out;
		}
		memcpy(c->session_key, random_key, 16);
		am.encrypted_session_key = (struct ntlmssp_blob){ enc_key, 16 };
	} else {
		memcpy(c->session_key, base_key, 16);
	}

	size_t start = out->len;
	ntlmssp_encode_authenticate(out, &am, with_mic);
	if (!out->err && with_mic) {
		uint8_t mic[16];
		if (ntlm_mic(c->session_key, c->negotiate_msg, c->negotiate_len, in, inlen, out->p + start,
			     out->len - start, NTLMSSP_AUTH_MIC_OFFSET, mic) != 0) {
			status = STATUS_INTERNAL_ERROR;
			goto out;
		}
		memcpy(out->p + start + NTLMSSP_AUTH_MIC_OFFSET, mic, 16);
	}
	/* Session security keys (3.4.4); absent without extended session
	 * security, which the getters then report as failure. */
	if (!out->err) (void)ntlm_sec_init(&c->sec, c->flags, c->session_key, true);
out:
	if (out->err && status == STATUS_SUCCESS) status = STATUS_NO_MEMORY;
	c->state = CL_DONE;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(base_key, sizeof(base_key));
	OPENSSL_cleanse(random_key, sizeof(random_key));
	wbuf_free(&domain);
	wbuf_free(&user);
	wbuf_free(&ws);
	wbuf_free(&nt);
	wbuf_free(&ti);
	return status;
}

uint32_t ntlmssp_client_step(struct ntlmssp_client *c, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	if (!c) return STATUS_INVALID_PARAMETER;
	if (c->state == CL_START && !in) return make_negotiate(c, out);
	if (c->state == CL_WANT_CHALLENGE && in && ntlmssp_message_type(in, inlen) == NTLMSSP_CHALLENGE)
		return make_authenticate(c, in, inlen, out);
	return STATUS_INVALID_PARAMETER;
}

int ntlmssp_client_make_mic(struct ntlmssp_client *c, const uint8_t *msg, size_t len, uint8_t sig[16])
{
	if (!c || c->state != CL_DONE) return -1;
	return ntlm_sec_sign(&c->sec, msg, len, sig);
}

int ntlmssp_client_verify_mic(struct ntlmssp_client *c, const uint8_t *msg, size_t len, const uint8_t *sig,
			      size_t siglen)
{
	if (!c || c->state != CL_DONE) return -1;
	return ntlm_sec_verify(&c->sec, msg, len, sig, siglen);
}

int ntlmssp_client_seal(struct ntlmssp_client *c, uint8_t *msg, size_t len, uint8_t sig[16])
{
	if (!c || c->state != CL_DONE) return -1;
	return ntlm_sec_seal(&c->sec, msg, len, sig);
}

int ntlmssp_client_unseal(struct ntlmssp_client *c, uint8_t *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	if (!c || c->state != CL_DONE) return -1;
	return ntlm_sec_unseal(&c->sec, msg, len, sig, siglen);
}
