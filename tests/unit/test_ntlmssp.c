/* NTLMSSP unit tests: MS-NLMP 4.2.4 NTLMv2 vectors, the MIC of a real
 * Windows exchange, full client/server exchanges, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/ntlm.h"
#include "auth/ntlmssp.h"
#include "auth/ntlmssp_client.h"
#include "auth/ntlmssp_internal.h"
#include "crypto/crypto.h"
#include "wire/ntlmssp.h"
#include "wire/ntstatus.h"
#include "wire/spnego.h"

#include "smb311_trace.h"
#include "test_util.h"

static void assert_hex(const uint8_t *got, size_t n, const char *hex)
{
	uint8_t want[64];
	assert_true(n <= sizeof(want));
	hex_fixed(hex, want, n);
	assert_memory_equal(got, want, n);
}

/* ---- MS-NLMP 4.2.4 (NTLMv2) ---- */

/* 4.2.4.2.2 "temp": blob header, Time = 0, ClientChallenge = aa*8, then the
 * AV pairs of 4.2.4 (NbDomainName "Domain", NbComputerName "Server", EOL)
 * and four zero bytes. */
static const char nlmp_temp[] =
	"01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000"
	"02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"
	"00000000";

/* 4.2.4.3: the AUTHENTICATE message of the example (KEY_EXCH, random
 * session key 55*16). */
static const char nlmp_authenticate[] =
	"4e544c4d53535000030000001800180"
	"06c00000054005400840000000c000c00"
	"48000000080008005400000010001000"
	"5c00000010001000d8000000358288e2"
	"0501280a0000000f44006f006d006100"
	"69006e00550073006500720043004f00"
	"4d005000550054004500520086c35097"
	"ac9cec102554764a57cccc19aaaaaaaa"
	"aaaaaaaa68cd0ab851e51c96aabc927b"
	"ebef6a1c010100000000000000000000"
	"00000000aaaaaaaaaaaaaaaa00000000"
	"02000c0044006f006d00610069006e00"
	"01000c00530065007200760065007200"
	"0000000000000000c5dad2544fc97990"
	"94ce1ce90bc9d03e";

static void test_nlmp_vectors(void **state)
{
	(void)state;
	uint8_t nt[16], key[16], proof[16], base[16], lm[24], sc[8], cc[8];
	assert_int_equal(ntlm_nt_hash("Password", nt), 0);
	assert_hex(nt, 16, "a4f49c406510bdcab6824ee7c30fd852");
	assert_int_equal(ntlm_ntowfv2(nt, "User", "Domain", key), 0);
	assert_hex(key, 16, "0c868a403bfd7a93a3001ef22ef02e3f");
	/* The user name is case-insensitive, the domain is not. */
	uint8_t k2[16];
	assert_int_equal(ntlm_ntowfv2(nt, "user", "Domain", k2), 0);
	assert_memory_equal(k2, key, 16);
	assert_int_equal(ntlm_ntowfv2(nt, "User", "DOMAIN", k2), 0);
	assert_memory_not_equal(k2, key, 16);

	hex_fixed("0123456789abcdef", sc, 8);
	memset(cc, 0xaa, 8);
	size_t tl;
	uint8_t *temp = hex_decode(nlmp_temp, &tl);
	assert_int_equal(ntlm_v2_proof(key, sc, temp, tl, proof), 0);
	assert_hex(proof, 16, "68cd0ab851e51c96aabc927bebef6a1c");
	assert_int_equal(ntlm_v2_session_base_key(key, proof, base), 0);
	assert_hex(base, 16, "8de40ccadbc14a82f15cb0ad0de95ca3");
	assert_int_equal(ntlm_lmv2_response(key, sc, cc, lm), 0);
	assert_hex(lm, 24, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
	free(temp);
}

static void test_decode_nlmp_authenticate(void **state)
{
	(void)state;
	size_t n;
	uint8_t *m = hex_decode(nlmp_authenticate, &n);
	assert_int_equal(ntlmssp_message_type(m, n), NTLMSSP_AUTHENTICATE);
	struct ntlmssp_authenticate_msg a;
	assert_int_equal(ntlmssp_decode_authenticate(m, n, &a), 0);
	assert_int_equal(a.flags, 0xe2888235u);
	assert_int_equal(a.lm_response.len, 24);
	assert_int_equal(a.nt_response.len, 84);
	assert_int_equal(a.domain.len, 12);
	assert_memory_equal(a.domain.p, "D\0o\0m\0a\0i\0n\0", 12);
	assert_int_equal(a.user.len, 8);
	assert_int_equal(a.workstation.len, 16);
	assert_int_equal(a.encrypted_session_key.len, 16);
	assert_true(a.has_version);
	assert_false(a.has_mic_field); /* payload starts at 72 */
	free(m);
}

static int lookup_password(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	(void)domain;
	const char *const *creds = arg; /* { user, password } */
	if (strcasecmp(user, creds[0]) != 0) return -1;
	return ntlm_nt_hash(creds[1], nt_hash);
}

/* The server, given the example's server challenge, accepts the example's
 * AUTHENTICATE and recovers the random session key 55*16. */
static void test_server_nlmp_example(void **state)
{
	(void)state;
	static const char *creds[] = { "User", "Password" };
	struct ntlmssp_server *s = ntlmssp_server_new("SERVER", "Domain", NULL);
	assert_non_null(s);
	uint8_t sc[8];
	hex_fixed("0123456789abcdef", sc, 8);
	ntlmssp_server_set_challenge(s, sc);

	struct ntlmssp_negotiate_msg neg = { .flags = 0xe2888235u };
	struct wbuf in, out;
	wbuf_init(&in, 0);
	wbuf_init(&out, 0);
	ntlmssp_encode_negotiate(&in, &neg);
	assert_int_equal(ntlmssp_server_step(s, in.p, in.len, &out, lookup_password, creds, false),
			 STATUS_MORE_PROCESSING_REQUIRED);
	struct ntlmssp_challenge_msg ch;
	assert_int_equal(ntlmssp_decode_challenge(out.p, out.len, &ch), 0);
	assert_memory_equal(ch.server_challenge, sc, 8);
	assert_true(ch.flags & NTLMSSP_NEGOTIATE_KEY_EXCH);
	assert_true(ch.flags & NTLMSSP_NEGOTIATE_UNICODE);
	assert_true(ch.flags & NTLMSSP_NEGOTIATE_TARGET_INFO);
	struct ntlmssp_blob v;
	assert_true(ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_TIMESTAMP, &v));
	assert_int_equal(v.len, 8);
	assert_true(ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_NB_COMPUTER_NAME, &v));
	assert_int_equal(v.len, 12);
	assert_memory_equal(v.p, "S\0E\0R\0V\0E\0R\0", 12);
	assert_true(ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_NB_DOMAIN_NAME, &v));
	assert_true(ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_DNS_COMPUTER_NAME, &v));
	assert_true(ntlmssp_av_find(ch.target_info.p, ch.target_info.len, MSV_AV_DNS_DOMAIN_NAME, &v));

	size_t n;
	uint8_t *m = hex_decode(nlmp_authenticate, &n);
	wbuf_free(&out);
	wbuf_init(&out, 0);
	assert_int_equal(ntlmssp_server_step(s, m, n, &out, lookup_password, creds, false), STATUS_SUCCESS);
	assert_int_equal(out.len, 0);
	uint8_t want[16];
	memset(want, 0x55, 16);
	assert_memory_equal(ntlmssp_server_session_key(s), want, 16);
	assert_string_equal(ntlmssp_server_user(s), "User");
	assert_string_equal(ntlmssp_server_domain(s), "Domain");
	assert_string_equal(ntlmssp_server_workstation(s), "COMPUTER");
	assert_false(ntlmssp_server_is_anonymous(s));
	assert_false(ntlmssp_server_is_guest(s));
	/* One exchange per object: a second AUTHENTICATE is refused. */
	assert_int_equal(ntlmssp_server_step(s, m, n, &out, lookup_password, creds, false), STATUS_INVALID_PARAMETER);
	ntlmssp_server_free(s);

	/* Same message, wrong password. */
	static const char *wrong[] = { "User", "Passw0rd" };
	s = ntlmssp_server_new("SERVER", "Domain", NULL);
	ntlmssp_server_set_challenge(s, sc);
	assert_int_equal(ntlmssp_server_step(s, in.p, in.len, &out, lookup_password, wrong, false),
			 STATUS_MORE_PROCESSING_REQUIRED);
	assert_int_equal(ntlmssp_server_step(s, m, n, &out, lookup_password, wrong, false), STATUS_LOGON_FAILURE);
	static const uint8_t zero[16];
	assert_memory_equal(ntlmssp_server_session_key(s), zero, 16);
	ntlmssp_server_free(s);

	free(m);
	wbuf_free(&in);
	wbuf_free(&out);
}

/* The MIC of the published Windows 3.1.1 exchange: exported key = the SMB
 * session key 270E1B..., MIC = ECAC77A5... over NEGOTIATE||CHALLENGE||AUTH. */
static const uint8_t *token_of(const char *pkt_hex, bool request, uint8_t **buf, size_t *len)
{
	size_t n;
	*buf = hex_decode(pkt_hex, &n);
	uint16_t off = get_le16(*buf + (request ? 76 : 68)), l = get_le16(*buf + (request ? 78 : 70));
	struct spnego_token t;
	assert_int_equal(spnego_decode(*buf + off, l, &t), 0);
	*len = t.mech_token_len;
	return t.mech_token;
}

static void test_windows_mic(void **state)
{
	(void)state;
	uint8_t *b1, *b2, *b3;
	size_t neg_len, ch_len, auth_len;
	const uint8_t *neg = token_of(trace_ss_req1, true, &b1, &neg_len);
	const uint8_t *ch = token_of(trace_ss_rsp1, false, &b2, &ch_len);
	const uint8_t *auth = token_of(trace_ss_req2, true, &b3, &auth_len);

	struct ntlmssp_negotiate_msg nm;
	struct ntlmssp_challenge_msg cm;
	struct ntlmssp_authenticate_msg am;
	assert_int_equal(ntlmssp_decode_negotiate(neg, neg_len, &nm), 0);
	assert_int_equal(nm.flags, 0xe2088297u);
	assert_true(nm.has_version);
	assert_int_equal(ntlmssp_decode_challenge(ch, ch_len, &cm), 0);
	assert_int_equal(cm.target_name.len, 12);
	assert_int_equal(ntlmssp_decode_authenticate(auth, auth_len, &am), 0);
	assert_true(am.has_mic_field);
	assert_int_equal(am.encrypted_session_key.len, 16);
	/* The client's AV pairs say a MIC is present. */
	struct ntlmssp_blob f;
	const uint8_t *av = am.nt_response.p + 16 + NTLMV2_BLOB_FIXED;
	size_t avl = am.nt_response.len - 16 - NTLMV2_BLOB_FIXED;
	assert_int_equal(ntlmssp_av_validate(av, avl), 0);
	assert_true(ntlmssp_av_find(av, avl, MSV_AV_FLAGS, &f));
	assert_int_equal(get_le32(f.p), MSV_AV_FLAG_MIC_PRESENT);

	uint8_t key[16], mic[16];
	hex_fixed("270E1BA896585EEB7AF3472D3B4C75A7", key, 16);
	assert_int_equal(ntlm_mic(key, neg, neg_len, ch, ch_len, auth, auth_len, NTLMSSP_AUTH_MIC_OFFSET, mic), 0);
	assert_memory_equal(mic, am.mic, 16);
	assert_hex(mic, 16, "ECAC77A5F385A8BF9C38C706EEEDDCD3");
	free(b1);
	free(b2);
	free(b3);
}

/* ---- full exchanges through our client ---- */

struct exchange {
	uint32_t status;
	struct ntlmssp_server *s;
	struct ntlmssp_client *c;
};

/* Runs NEGOTIATE/CHALLENGE/AUTHENTICATE; tamper (if set) may modify the
 * AUTHENTICATE before the server sees it. */
static struct exchange run_exchange(struct ntlmssp_client *c, const char *const *creds, bool allow_guest,
				    void (*tamper)(uint8_t *auth, size_t len))
{
	struct exchange x = { .c = c };
	x.s = ntlmssp_server_new("SMBKIT", "WORKGROUP", "smbkit.example.org");
	assert_non_null(x.s);
	struct wbuf a, b, d;
	wbuf_init(&a, 0);
	wbuf_init(&b, 0);
	wbuf_init(&d, 0);
	assert_int_equal(ntlmssp_client_step(c, NULL, 0, &a), STATUS_MORE_PROCESSING_REQUIRED);
	assert_int_equal(ntlmssp_server_step(x.s, a.p, a.len, &b, lookup_password, (void *)creds, allow_guest),
			 STATUS_MORE_PROCESSING_REQUIRED);
	wbuf_u8(&d, 0xEE); /* the client appends after existing content */
	assert_int_equal(ntlmssp_client_step(c, b.p, b.len, &d), STATUS_SUCCESS);
	if (tamper) tamper(d.p + 1, d.len - 1);
	struct wbuf e;
	wbuf_init(&e, 0);
	x.status = ntlmssp_server_step(x.s, d.p + 1, d.len - 1, &e, lookup_password, (void *)creds, allow_guest);
	assert_int_equal(e.len, 0);
	wbuf_free(&a);
	wbuf_free(&b);
	wbuf_free(&d);
	wbuf_free(&e);
	return x;
}

static void end_exchange(struct exchange *x)
{
	ntlmssp_server_free(x->s);
	ntlmssp_client_free(x->c);
}

static const char *const alice[] = { "alice", "S3cret pässwörd" };

static void test_exchange_ok(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new("Alice", "WORKGROUP", "S3cret pässwörd", "LAPTOP"),
					 alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_memory_equal(ntlmssp_server_session_key(x.s), ntlmssp_client_session_key(x.c), 16);
	static const uint8_t zero[16];
	assert_memory_not_equal(ntlmssp_server_session_key(x.s), zero, 16);
	assert_string_equal(ntlmssp_server_user(x.s), "Alice");
	assert_string_equal(ntlmssp_server_domain(x.s), "WORKGROUP");
	assert_string_equal(ntlmssp_server_workstation(x.s), "LAPTOP");
	assert_true(ntlmssp_client_flags(x.c) & NTLMSSP_NEGOTIATE_KEY_EXCH);
	end_exchange(&x);

	/* An empty domain works too. */
	x = run_exchange(ntlmssp_client_new("alice", "", "S3cret pässwörd", NULL), alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	end_exchange(&x);

	/* And a client that knows only the hash. */
	uint8_t h[16];
	assert_int_equal(ntlm_nt_hash("S3cret pässwörd", h), 0);
	x = run_exchange(ntlmssp_client_new_hash("alice", "X", h, NULL), alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	end_exchange(&x);
}

static void test_exchange_wrong_password(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new("alice", "WORKGROUP", "s3cret pässwörd", NULL), alice,
					 false, NULL);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	end_exchange(&x);
	/* Wrong password is not turned into guest even when guest is allowed. */
	x = run_exchange(ntlmssp_client_new("alice", "WORKGROUP", "nope", NULL), alice, true, NULL);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	assert_false(ntlmssp_server_is_guest(x.s));
	end_exchange(&x);
}

static void test_exchange_unknown_user(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new("bob", "WORKGROUP", "x", NULL), alice, false, NULL);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	end_exchange(&x);
	x = run_exchange(ntlmssp_client_new("bob", "WORKGROUP", "x", NULL), alice, true, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_true(ntlmssp_server_is_guest(x.s));
	static const uint8_t zero[16];
	assert_memory_equal(ntlmssp_server_session_key(x.s), zero, 16);
	end_exchange(&x);
}

static void test_exchange_anonymous(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new(NULL, NULL, NULL, NULL), alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_true(ntlmssp_server_is_anonymous(x.s));
	assert_string_equal(ntlmssp_server_user(x.s), "");
	end_exchange(&x);
}

static void flip_mic(uint8_t *auth, size_t len)
{
	assert_true(len > NTLMSSP_AUTH_MIC_OFFSET + 16);
	auth[NTLMSSP_AUTH_MIC_OFFSET + 3] ^= 0x40;
}

static void drop_sign_flag(uint8_t *auth, size_t len)
{
	/* NegotiateFlags are not covered by NTProofStr, only by the MIC. */
	(void)len;
	put_le32(auth + 60, get_le32(auth + 60) & ~NTLMSSP_NEGOTIATE_SIGN);
}

static void zero_mic_and_flags(uint8_t *auth, size_t len)
{
	/* Removing the MIC is caught too: MsvAvFlags inside the NT response
	 * still says it is there, and that is covered by NTProofStr. */
	(void)len;
	memset(auth + NTLMSSP_AUTH_MIC_OFFSET, 0, 16);
}

static void test_exchange_mic(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new("alice", "W", alice[1], NULL), alice, false, flip_mic);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	end_exchange(&x);
	x = run_exchange(ntlmssp_client_new("alice", "W", alice[1], NULL), alice, false, drop_sign_flag);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	end_exchange(&x);
	x = run_exchange(ntlmssp_client_new("alice", "W", alice[1], NULL), alice, false, zero_mic_and_flags);
	assert_int_equal(x.status, STATUS_LOGON_FAILURE);
	end_exchange(&x);
}

/* ---- malformed input ---- */

static void test_out_of_order(void **state)
{
	(void)state;
	struct ntlmssp_server *s = ntlmssp_server_new("S", "D", NULL);
	struct wbuf out;
	wbuf_init(&out, 0);
	size_t n;
	uint8_t *m = hex_decode(nlmp_authenticate, &n);
	/* AUTHENTICATE before NEGOTIATE */
	assert_int_equal(ntlmssp_server_step(s, m, n, &out, lookup_password, (void *)alice, false),
			 STATUS_INVALID_PARAMETER);
	static const uint8_t garbage[] = "NTLMSSP\0\7\0\0\0";
	assert_int_equal(ntlmssp_server_step(s, garbage, sizeof(garbage) - 1, &out, lookup_password, (void *)alice, false),
			 STATUS_INVALID_PARAMETER);
	assert_int_equal(ntlmssp_server_step(s, garbage, 4, &out, lookup_password, (void *)alice, false),
			 STATUS_INVALID_PARAMETER);
	free(m);
	wbuf_free(&out);
	ntlmssp_server_free(s);
}

static void test_malformed_authenticate(void **state)
{
	(void)state;
	size_t n;
	uint8_t *m = hex_decode(nlmp_authenticate, &n);
	uint8_t sc[8];
	hex_fixed("0123456789abcdef", sc, 8);
	struct ntlmssp_negotiate_msg neg = { .flags = 0xe2888235u };
	struct wbuf in;
	wbuf_init(&in, 0);
	ntlmssp_encode_negotiate(&in, &neg);
	static const char *creds[] = { "User", "Password" };
	uint8_t *copy = malloc(n);

	/* Truncations: never success, never a crash. */
	for (size_t cut = 0; cut < n; cut++) {
		struct ntlmssp_server *s = ntlmssp_server_new("SERVER", "Domain", NULL);
		struct wbuf out;
		wbuf_init(&out, 0);
		ntlmssp_server_set_challenge(s, sc);
		assert_int_equal(ntlmssp_server_step(s, in.p, in.len, &out, lookup_password, creds, false),
				 STATUS_MORE_PROCESSING_REQUIRED);
		memcpy(copy, m, cut);
		uint32_t st = ntlmssp_server_step(s, copy, cut, &out, lookup_password, creds, false);
		assert_int_not_equal(st, STATUS_SUCCESS);
		wbuf_free(&out);
		ntlmssp_server_free(s);
	}
	/* Length/offset fields pointing outside the message. */
	static const size_t slots[] = { 12, 20, 28, 36, 44, 52 };
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		struct ntlmssp_authenticate_msg am;
		memcpy(copy, m, n);
		put_le32(copy + slots[i] + 4, (uint32_t)n - 2);
		assert_int_equal(ntlmssp_decode_authenticate(copy, n, &am), -1);
		memcpy(copy, m, n);
		put_le32(copy + slots[i] + 4, 0xFFFFFFF0u);
		assert_int_equal(ntlmssp_decode_authenticate(copy, n, &am), -1);
		memcpy(copy, m, n);
		put_le16(copy + slots[i], 0xFFFF);
		assert_int_equal(ntlmssp_decode_authenticate(copy, n, &am), -1);
	}
	/* Byte flips everywhere: run through the server (ASan watches). */
	for (size_t i = 0; i < n; i++) {
		struct ntlmssp_server *s = ntlmssp_server_new("SERVER", "Domain", NULL);
		struct wbuf out;
		wbuf_init(&out, 0);
		ntlmssp_server_set_challenge(s, sc);
		assert_int_equal(ntlmssp_server_step(s, in.p, in.len, &out, lookup_password, creds, false),
				 STATUS_MORE_PROCESSING_REQUIRED);
		memcpy(copy, m, n);
		copy[i] ^= 0xA5;
		uint32_t st = ntlmssp_server_step(s, copy, n, &out, lookup_password, creds, false);
		/* Only bytes outside what NTLMv2 authenticates may still pass:
		 * MaxLen fields, version, flags (no MIC in this message), the
		 * workstation, and the LM response, which NTLMv2 servers ignore. */
		if (st == STATUS_SUCCESS) {
			bool maxlen = i >= 12 && i < 60 && (i - 12) % 8 >= 2 && (i - 12) % 8 < 4;
			bool unauthenticated = maxlen || (i >= 12 && i < 20) /* LM field */ ||
					       (i >= 44 && i < 52) /* workstation field */ ||
					       (i >= 60 && i < 72) /* flags, version */ ||
					       (i >= 0x5c && i < 0x6c) /* workstation name */ ||
					       (i >= 0x6c && i < 0x84) /* LM response */ ||
					       /* Without a MIC a changed session key only shows
					        * up at the first signed SMB2 message. */
					       (i >= 52 && i < 60) || i >= 0xd8;
			if (!unauthenticated) print_error("byte %zu flipped but accepted\n", i);
			assert_true(unauthenticated);
		}
		wbuf_free(&out);
		ntlmssp_server_free(s);
	}
	free(copy);
	free(m);
	wbuf_free(&in);
}

static void test_av_pairs(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 0);
	ntlmssp_av_add_str(&w, MSV_AV_NB_COMPUTER_NAME, "HOST");
	uint8_t f[4] = { 2, 0, 0, 0 };
	ntlmssp_av_add(&w, MSV_AV_FLAGS, f, 4);
	ntlmssp_av_add(&w, MSV_AV_EOL, NULL, 0);
	assert_int_equal(ntlmssp_av_validate(w.p, w.len), 0);
	struct ntlmssp_blob v;
	assert_true(ntlmssp_av_find(w.p, w.len, MSV_AV_FLAGS, &v));
	assert_int_equal(v.len, 4);
	assert_false(ntlmssp_av_find(w.p, w.len, MSV_AV_TIMESTAMP, &v));
	/* Missing EOL, or a pair running past the end. */
	assert_int_equal(ntlmssp_av_validate(w.p, w.len - 4), -1);
	put_le16(w.p + 2, 200);
	assert_int_equal(ntlmssp_av_validate(w.p, w.len), -1);
	assert_false(ntlmssp_av_find(w.p, w.len, MSV_AV_FLAGS, &v));
	wbuf_free(&w);
}


/* ---- session security (MS-NLMP 3.4) ---- */

/* MS-NLMP 4.2.4.4 (GSS_WrapEx, NTLMv2 with extended session security):
 * RandomSessionKey 55*16, the 4.2.4 flags, SeqNum 0, "Plaintext". */
static void test_nlmp_seal_vector(void **state)
{
	(void)state;
	const uint32_t flags = 0xe28a8233u; /* 4.2.4: KEY_EXCH, 56, 128, VERSION, ..., ESS, SIGN, SEAL */
	uint8_t key[16], k[16];
	memset(key, 0x55, 16);
	assert_int_equal(ntlm_sealkey(flags, key, true, k), 0);
	assert_hex(k, 16, "59f600973cc4960a25480a7c196e4c58");
	ntlm_signkey(key, true, k);
	assert_hex(k, 16, "4788dc861b4782f35d43fd98fe1a2d39");

	static const uint8_t plain[] = { 'P', 0, 'l', 0, 'a', 0, 'i', 0, 'n', 0, 't', 0, 'e', 0, 'x', 0, 't', 0 };
	uint8_t msg[sizeof(plain)], sig[16];
	memcpy(msg, plain, sizeof(plain));
	struct ntlm_session_sec client, server;
	assert_int_equal(ntlm_sec_init(&client, flags, key, true), 0);
	assert_int_equal(ntlm_sec_seal(&client, msg, sizeof(msg), sig), 0);
	assert_hex(msg, sizeof(msg), "54e50165bf1936dc996020c1811b0f06fb5f");
	assert_hex(sig, 16, "010000007fb38ec5c55d497600000000");

	/* The server's incoming direction undoes it; a second copy of the same
	 * message (replay: sequence number 0 again) is refused. */
	assert_int_equal(ntlm_sec_init(&server, flags, key, false), 0);
	uint8_t copy[sizeof(msg)];
	memcpy(copy, msg, sizeof(msg));
	assert_int_equal(ntlm_sec_unseal(&server, msg, sizeof(msg), sig, 16), 0);
	assert_memory_equal(msg, plain, sizeof(plain));
	assert_int_not_equal(ntlm_sec_unseal(&server, copy, sizeof(copy), sig, 16), 0);
	ntlm_sec_free(&client);
	ntlm_sec_free(&server);

	/* 56- and 40-bit sealing keys hash fewer key bytes; no ESS, no keys. */
	uint8_t k56[16], k40[16];
	assert_int_equal(ntlm_sealkey(flags & ~NTLMSSP_NEGOTIATE_128, key, true, k56), 0);
	assert_int_equal(ntlm_sealkey(flags & ~(NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_56), key, true, k40), 0);
	assert_memory_not_equal(k56, k40, 16);
	assert_int_not_equal(ntlm_sealkey(flags & ~NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY, key, true, k), 0);
	assert_int_not_equal(ntlm_sec_init(&client, flags & ~NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY, key, true), 0);
}

/* The published Windows exchange carries both SPNEGO mechListMICs: the
 * client's over the mechTypes of its negTokenInit (client sequence 0), and
 * the server's in the final accept-completed (server sequence 0). */
static void test_windows_mech_list_mic(void **state)
{
	(void)state;
	size_t n1, n2, n3;
	uint8_t *p1 = hex_decode(trace_ss_req1, &n1);
	uint8_t *p2 = hex_decode(trace_ss_req2, &n2);
	uint8_t *p3 = hex_decode(trace_ss_rsp2, &n3);
	struct spnego_token init, resp, fin;
	assert_int_equal(spnego_decode(p1 + get_le16(p1 + 76), get_le16(p1 + 78), &init), 0);
	assert_int_equal(spnego_decode(p2 + get_le16(p2 + 76), get_le16(p2 + 78), &resp), 0);
	assert_int_equal(spnego_decode(p3 + get_le16(p3 + 68), get_le16(p3 + 70), &fin), 0);
	assert_non_null(init.mech_types_der);
	assert_int_equal(init.mech_types_der[0], 0x30);
	assert_non_null(resp.mic);
	assert_non_null(fin.mic);

	struct ntlmssp_authenticate_msg am;
	assert_int_equal(ntlmssp_decode_authenticate(resp.mech_token, resp.mech_token_len, &am), 0);
	uint8_t key[16];
	hex_fixed("270E1BA896585EEB7AF3472D3B4C75A7", key, 16);

	struct ntlm_session_sec server;
	assert_int_equal(ntlm_sec_init(&server, am.flags, key, false), 0);
	assert_int_equal(ntlm_sec_verify(&server, init.mech_types_der, init.mech_types_der_len, resp.mic,
					 resp.mic_len), 0);
	uint8_t sig[16];
	assert_int_equal(ntlm_sec_sign(&server, init.mech_types_der, init.mech_types_der_len, sig), 0);
	assert_int_equal(fin.mic_len, 16);
	assert_memory_equal(sig, fin.mic, 16);
	ntlm_sec_free(&server);

	/* A tampered mechTypes list does not verify. */
	uint8_t *bad = malloc(init.mech_types_der_len);
	memcpy(bad, init.mech_types_der, init.mech_types_der_len);
	bad[init.mech_types_der_len - 1] ^= 1;
	assert_int_equal(ntlm_sec_init(&server, am.flags, key, false), 0);
	assert_int_not_equal(ntlm_sec_verify(&server, bad, init.mech_types_der_len, resp.mic, resp.mic_len), 0);
	ntlm_sec_free(&server);
	free(bad);
	free(p1);
	free(p2);
	free(p3);
}

/* Our client and server exchange mechListMICs both ways. */
static void test_exchange_mech_list_mic(void **state)
{
	(void)state;
	struct exchange x = run_exchange(ntlmssp_client_new("Alice", "WORKGROUP", "S3cret pässwörd", "LAPTOP"),
					 alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_true(ntlmssp_server_has_session_security(x.s));
	assert_true(ntlmssp_server_signing_negotiated(x.s));

	static const uint8_t mech_types[] = { 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01,
					      0x82, 0x37, 0x02, 0x02, 0x0a };
	assert_int_equal(ntlmssp_server_set_mech_types(x.s, mech_types, sizeof(mech_types)), 0);
	size_t mtl;
	const uint8_t *mt = ntlmssp_server_mech_types(x.s, &mtl);
	assert_int_equal(mtl, sizeof(mech_types));
	assert_memory_equal(mt, mech_types, mtl);

	uint8_t cmic[16], smic[16];
	assert_int_equal(ntlmssp_client_make_mic(x.c, mt, mtl, cmic), 0);
	assert_int_equal(get_le32(cmic), 1);
	assert_int_equal(get_le32(cmic + 12), 0);
	/* Wrong length, then the real one: a failed check still consumes
	 * sequence number 0, so the retry is refused too. */
	assert_int_not_equal(ntlmssp_server_verify_mic(x.s, mt, mtl, cmic, 15), 0);
	assert_int_not_equal(ntlmssp_server_verify_mic(x.s, mt, mtl, cmic, 16), 0);
	end_exchange(&x);

	x = run_exchange(ntlmssp_client_new("Alice", "WORKGROUP", "S3cret pässwörd", "LAPTOP"), alice, false, NULL);
	assert_int_equal(ntlmssp_server_set_mech_types(x.s, mech_types, sizeof(mech_types)), 0);
	assert_int_equal(ntlmssp_client_make_mic(x.c, mech_types, sizeof(mech_types), cmic), 0);
	assert_int_equal(ntlmssp_server_verify_mic(x.s, mech_types, sizeof(mech_types), cmic, 16), 0);
	assert_int_equal(ntlmssp_server_make_mic(x.s, mech_types, sizeof(mech_types), smic), 0);
	/* Different keys per direction: the two MICs differ. */
	assert_memory_not_equal(cmic + 4, smic + 4, 8);
	assert_int_equal(ntlmssp_client_verify_mic(x.c, mech_types, sizeof(mech_types), smic, 16), 0);
	/* Sequence numbers moved on: a second message uses 1. */
	uint8_t msg[] = "sealed payload";
	uint8_t sig[16];
	assert_int_equal(ntlmssp_client_seal(x.c, msg, sizeof(msg), sig), 0);
	assert_int_equal(get_le32(sig + 12), 1);
	end_exchange(&x);

	/* Anonymous and guest logons have no key and no session security. */
	x = run_exchange(ntlmssp_client_new("", NULL, NULL, NULL), alice, false, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_false(ntlmssp_server_has_session_security(x.s));
	assert_int_not_equal(ntlmssp_server_make_mic(x.s, mech_types, sizeof(mech_types), smic), 0);
	assert_int_not_equal(ntlmssp_client_make_mic(x.c, mech_types, sizeof(mech_types), cmic), 0);
	end_exchange(&x);
	x = run_exchange(ntlmssp_client_new("bob", NULL, "pw", NULL), alice, true, NULL);
	assert_int_equal(x.status, STATUS_SUCCESS);
	assert_true(ntlmssp_server_is_guest(x.s));
	assert_false(ntlmssp_server_signing_negotiated(x.s));
	assert_int_not_equal(ntlmssp_server_verify_mic(x.s, mech_types, sizeof(mech_types), cmic, 16), 0);
	end_exchange(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nlmp_vectors),
		cmocka_unit_test(test_decode_nlmp_authenticate),
		cmocka_unit_test(test_server_nlmp_example),
		cmocka_unit_test(test_windows_mic),
		cmocka_unit_test(test_exchange_ok),
		cmocka_unit_test(test_exchange_wrong_password),
		cmocka_unit_test(test_exchange_unknown_user),
		cmocka_unit_test(test_exchange_anonymous),
		cmocka_unit_test(test_exchange_mic),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_malformed_authenticate),
		cmocka_unit_test(test_av_pairs),
		cmocka_unit_test(test_nlmp_seal_vector),
		cmocka_unit_test(test_windows_mech_list_mic),
		cmocka_unit_test(test_exchange_mech_list_mic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
