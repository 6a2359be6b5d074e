/* libFuzzer target: the NTLMSSP server state machine and the NTLMSSP wire
 * decoders (MS-NLMP 2.2).
 *
 * Input byte 0 chooses what runs on the rest:
 *   even: a fresh server gets a NEGOTIATE from the real client, answers with
 *         a CHALLENGE, then receives the fuzz input as AUTHENTICATE; the
 *         lookup callback knows user "fuzz" with a fixed NT hash, so inputs
 *         that start from a genuine AUTHENTICATE get deep into NTLMv2
 *         verification, key exchange and the MIC.
 *   odd:  the wire decoders, AV-pair validation/lookup and, for a decoded
 *         NEGOTIATE, feeding it to a server as the first leg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ntlmssp.h"
#include "auth/ntlmssp_client.h"
#include "fuzz_common.h"
#include "wire/ntlmssp.h"
#include "wire/ntstatus.h"

static const uint8_t fixed_hash[16] = {
	/* MD4(UTF-16LE("fuzz")), any value would do */
	0x9a, 0x1b, 0x43, 0x2b, 0x08, 0x43, 0x70, 0x6a, 0x51, 0x7e, 0x0c, 0x8d, 0x77, 0x63, 0x55, 0x12,
};

static int lookup(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	(void)arg;
	(void)domain;
	if (strcmp(user, "fuzz") != 0) return -1;
	memcpy(nt_hash, fixed_hash, 16);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init_common();
	return 0;
}

static volatile uint8_t sink;

static void touch(const struct ntlmssp_blob *b)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < b->len; i++) acc ^= b->p[i];
	sink = acc;
}

static void run_server(const uint8_t *in, size_t len)
{
	struct ntlmssp_server *s = ntlmssp_server_new("SMBKIT", "WORKGROUP", "smbkit.local");
	if (!s) return;
	/* A genuine NEGOTIATE from the project's own client. */
	struct ntlmssp_client *c = ntlmssp_client_new("fuzz", "WORKGROUP", "fuzz", "WS");
	struct wbuf neg, chal;
	wbuf_init(&neg, 0);
	wbuf_init(&chal, 0);
	if (c && ntlmssp_client_step(c, NULL, 0, &neg) == STATUS_MORE_PROCESSING_REQUIRED && !neg.err) {
		uint32_t st = ntlmssp_server_step(s, neg.p, neg.len, &chal, lookup, NULL, len & 1);
		if (st == STATUS_MORE_PROCESSING_REQUIRED) {
			struct wbuf out;
			wbuf_init(&out, 0);
			st = ntlmssp_server_step(s, in, len, &out, lookup, NULL, (len & 2) != 0);
			if (st == STATUS_SUCCESS) {
				(void)strlen(ntlmssp_server_user(s));
				(void)strlen(ntlmssp_server_domain(s));
				(void)strlen(ntlmssp_server_workstation(s));
				(void)ntlmssp_server_is_anonymous(s);
				(void)ntlmssp_server_is_guest(s);
				const uint8_t *key = ntlmssp_server_session_key(s);
				if (key) sink = key[0] ^ key[15];
			}
			wbuf_free(&out);
		}
	}
	wbuf_free(&neg);
	wbuf_free(&chal);
	ntlmssp_client_free(c);
	ntlmssp_server_free(s);
}

static void run_decoders(const uint8_t *in, size_t len)
{
	uint32_t type = ntlmssp_message_type(in, len);
	struct ntlmssp_negotiate_msg n;
	if (ntlmssp_decode_negotiate(in, len, &n) == 0) {
		touch(&n.domain);
		touch(&n.workstation);
		/* A server must survive any decodable NEGOTIATE. */
		struct ntlmssp_server *s = ntlmssp_server_new("SMBKIT", "WORKGROUP", "smbkit.local");
		struct wbuf out;
		wbuf_init(&out, 0);
		if (s) (void)ntlmssp_server_step(s, in, len, &out, lookup, NULL, false);
		wbuf_free(&out);
		ntlmssp_server_free(s);
	}
	struct ntlmssp_challenge_msg ch;
	if (ntlmssp_decode_challenge(in, len, &ch) == 0) {
		touch(&ch.target_name);
		touch(&ch.target_info);
		if (ntlmssp_av_validate(ch.target_info.p, ch.target_info.len) == 0) {
			for (uint16_t id = MSV_AV_EOL; id <= MSV_AV_CHANNEL_BINDINGS; id++) {
				struct ntlmssp_blob v;
				if (ntlmssp_av_find(ch.target_info.p, ch.target_info.len, id, &v)) touch(&v);
			}
		}
		/* The client answers a CHALLENGE: that is client-side parsing of
		 * hostile server data, worth covering too. */
		struct ntlmssp_client *c = ntlmssp_client_new("fuzz", "WORKGROUP", "fuzz", "WS");
		struct wbuf a, b;
		wbuf_init(&a, 0);
		wbuf_init(&b, 0);
		if (c && ntlmssp_client_step(c, NULL, 0, &a) == STATUS_MORE_PROCESSING_REQUIRED)
			(void)ntlmssp_client_step(c, in, len, &b);
		wbuf_free(&a);
		wbuf_free(&b);
		ntlmssp_client_free(c);
	}
	struct ntlmssp_authenticate_msg au;
	if (ntlmssp_decode_authenticate(in, len, &au) == 0) {
		touch(&au.lm_response);
		touch(&au.nt_response);
		touch(&au.domain);
		touch(&au.user);
		touch(&au.workstation);
		touch(&au.encrypted_session_key);
		if (au.has_mic_field && au.mic) sink = au.mic[0] ^ au.mic[NTLMSSP_MIC_LEN - 1];
		if (au.nt_response.len > 16 + NTLMV2_BLOB_FIXED) {
			const uint8_t *ti = au.nt_response.p + 16 + NTLMV2_BLOB_FIXED;
			size_t tilen = au.nt_response.len - 16 - NTLMV2_BLOB_FIXED;
			if (ntlmssp_av_validate(ti, tilen) == 0) {
				struct ntlmssp_blob v;
				if (ntlmssp_av_find(ti, tilen, MSV_AV_FLAGS, &v)) touch(&v);
				if (ntlmssp_av_find(ti, tilen, MSV_AV_TIMESTAMP, &v)) touch(&v);
			}
		}
	}
	/* A bare AV-pair list. */
	if (ntlmssp_av_validate(in, len) == 0) {
		struct ntlmssp_blob v;
		if (ntlmssp_av_find(in, len, MSV_AV_NB_COMPUTER_NAME, &v)) touch(&v);
		if (ntlmssp_av_find(in, len, MSV_AV_FLAGS, &v)) touch(&v);
	}
	(void)type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	size_t n = size - 1;
	uint8_t *m = malloc(n ? n : 1);   /* exact size, so ASan sees overreads */
	if (!m) return 0;
	memcpy(m, data + 1, n);
	if (data[0] & 1)
		run_decoders(m, n);
	else
		run_server(m, n);
	free(m);
	return 0;
}
