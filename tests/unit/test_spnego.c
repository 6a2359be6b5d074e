/* SPNEGO / DER unit tests: real Windows tokens (from the published SMB 3.1.1
 * exchange), round trips of our encoders, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire/asn1.h"
#include "wire/spnego.h"

#include "smb311_trace.h"
#include "test_util.h"

/* Security buffer of a SESSION_SETUP request / response (MS-SMB2 2.2.5/2.2.6). */
static const uint8_t *req_blob(const uint8_t *pkt, size_t n, size_t *len)
{
	uint16_t off = get_le16(pkt + 76), l = get_le16(pkt + 78);
	assert_true(off + l <= n);
	*len = l;
	return pkt + off;
}
static const uint8_t *rsp_blob(const uint8_t *pkt, size_t n, size_t *len)
{
	uint16_t off = get_le16(pkt + 68), l = get_le16(pkt + 70);
	assert_true(off + l <= n);
	*len = l;
	return pkt + off;
}

static void test_windows_tokens(void **state)
{
	(void)state;
	struct spnego_token t;
	size_t n, bl;
	const uint8_t *b;

	/* NEGOTIATE response: NegTokenInit2 offering NEGOEX and NTLMSSP. */
	uint8_t *p = hex_decode(trace_neg_rsp, &n);
	uint16_t off = get_le16(p + 64 + 56), l = get_le16(p + 64 + 58);
	assert_int_equal(spnego_decode(p + off, l, &t), 0);
	assert_true(t.is_init);
	assert_int_equal(t.nmechs, 2);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_UNKNOWN);
	assert_int_equal(t.mechs[1], SPNEGO_MECH_NTLMSSP);
	free(p);

	/* First SESSION_SETUP: negTokenInit with an NTLMSSP NEGOTIATE. */
	p = hex_decode(trace_ss_req1, &n);
	b = req_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	assert_true(t.is_init);
	assert_false(t.raw_ntlmssp);
	assert_int_equal(t.nmechs, 1);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_NTLMSSP);
	assert_non_null(t.mech_token);
	assert_int_equal(t.mech_token_len, 40);
	assert_memory_equal(t.mech_token, "NTLMSSP\0\1\0\0\0", 12);
	free(p);

	/* Its response: negTokenResp accept-incomplete, NTLMSSP, CHALLENGE. */
	p = hex_decode(trace_ss_rsp1, &n);
	b = rsp_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	assert_false(t.is_init);
	assert_int_equal(t.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_int_equal(t.supported_mech, SPNEGO_MECH_NTLMSSP);
	assert_int_equal(t.mech_token_len, 148);
	assert_memory_equal(t.mech_token, "NTLMSSP\0\2\0\0\0", 12);
	free(p);

	/* Second SESSION_SETUP: negTokenResp with AUTHENTICATE and a mechListMIC. */
	p = hex_decode(trace_ss_req2, &n);
	b = req_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	assert_false(t.is_init);
	assert_int_equal(t.mech_token_len, 422);
	assert_memory_equal(t.mech_token, "NTLMSSP\0\3\0\0\0", 12);
	assert_int_equal(t.mic_len, 16);
	free(p);

	/* Final response: accept-completed and the server's mechListMIC. */
	p = hex_decode(trace_ss_rsp2, &n);
	b = rsp_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	assert_int_equal(t.neg_state, SPNEGO_ACCEPT_COMPLETED);
	assert_null(t.mech_token);
	assert_int_equal(t.mic_len, 16);
	free(p);
}

static void test_raw_ntlmssp(void **state)
{
	(void)state;
	static const uint8_t raw[] = "NTLMSSP\0\1\0\0\0\0\0\0\0";
	struct spnego_token t;
	assert_int_equal(spnego_decode(raw, sizeof(raw) - 1, &t), 0);
	assert_true(t.raw_ntlmssp);
	assert_ptr_equal(t.mech_token, raw);
	assert_int_equal(t.mech_token_len, sizeof(raw) - 1);
}

static void test_neg_hints_roundtrip(void **state)
{
	(void)state;
	struct wbuf w;
	struct spnego_token t;
	wbuf_init(&w, 0);
	spnego_encode_neg_hints(&w, false);
	assert_false(w.err);
	assert_int_equal(w.p[0], 0x60);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_true(t.is_init);
	assert_int_equal(t.nmechs, 1);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_NTLMSSP);
	wbuf_free(&w);

	wbuf_init(&w, 0);
	spnego_encode_neg_hints(&w, true);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_int_equal(t.nmechs, 3);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_MS_KRB5);
	assert_int_equal(t.mechs[1], SPNEGO_MECH_KRB5);
	assert_int_equal(t.mechs[2], SPNEGO_MECH_NTLMSSP);
	wbuf_free(&w);
}

static void roundtrip_sizes(size_t token_len)
{
	uint8_t *tok = malloc(token_len ? token_len : 1);
	for (size_t i = 0; i < token_len; i++) tok[i] = (uint8_t)(i * 31 + 7);
	struct wbuf w;
	struct spnego_token t;

	wbuf_init(&w, 0);
	spnego_encode_init(&w, SPNEGO_MECH_NTLMSSP, tok, token_len);
	assert_false(w.err);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_true(t.is_init);
	assert_int_equal(t.nmechs, 1);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_NTLMSSP);
	assert_int_equal(t.mech_token_len, token_len);
	if (token_len) assert_memory_equal(t.mech_token, tok, token_len);
	wbuf_free(&w);

	wbuf_init(&w, 0);
	spnego_encode_resp(&w, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP, tok, token_len);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_false(t.is_init);
	assert_int_equal(t.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_int_equal(t.supported_mech, SPNEGO_MECH_NTLMSSP);
	assert_int_equal(t.mech_token_len, token_len);
	if (token_len) assert_memory_equal(t.mech_token, tok, token_len);
	wbuf_free(&w);
	free(tok);
}

static void test_roundtrip(void **state)
{
	(void)state;
	/* Short form, one/two/three length octets after nesting. */
	size_t sizes[] = { 0, 1, 100, 127, 128, 200, 255, 256, 1000, 65535, 70000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) roundtrip_sizes(sizes[i]);
}

static void test_resp_without_token(void **state)
{
	(void)state;
	struct wbuf w;
	struct spnego_token t;
	wbuf_init(&w, 0);
	spnego_encode_resp(&w, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_UNKNOWN, NULL, 0);
	/* Exactly what Windows sends for "accept-completed" without MIC. */
	static const uint8_t want[] = { 0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x00 };
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.p, want, sizeof(want));
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_int_equal(t.neg_state, SPNEGO_ACCEPT_COMPLETED);
	assert_null(t.mech_token);
	wbuf_free(&w);
}

static void test_malformed(void **state)
{
	(void)state;
	struct spnego_token t;
	size_t n, bl;
	uint8_t *p = hex_decode(trace_ss_req2, &n);
	const uint8_t *b = req_blob(p, n, &bl);
	/* Every strict prefix is rejected (lengths no longer fit). */
	for (size_t i = 0; i < bl; i++) {
		uint8_t *cut = malloc(i ? i : 1);
		memcpy(cut, b, i);
		assert_int_equal(spnego_decode(cut, i, &t), -1);
		free(cut);
	}
	/* Flipping any byte never crashes (results may be either). */
	uint8_t *copy = malloc(bl);
	for (size_t i = 0; i < bl; i++) {
		memcpy(copy, b, bl);
		copy[i] ^= 0xFF;
		(void)spnego_decode(copy, bl, &t);
		copy[i] ^= 0x80;
		(void)spnego_decode(copy, bl, &t);
	}
	free(copy);
	free(p);

	/* Indefinite length (BER) is not DER. */
	static const uint8_t indef[] = { 0xa1, 0x80, 0x30, 0x03, 0xa0, 0x01, 0x00, 0x00, 0x00 };
	assert_int_equal(spnego_decode(indef, sizeof(indef), &t), -1);
	/* Length with five octets. */
	static const uint8_t len5[] = { 0xa1, 0x85, 0, 0, 0, 0, 1, 0 };
	assert_int_equal(spnego_decode(len5, sizeof(len5), &t), -1);
	/* GSS wrapper with a different mechanism OID (krb5). */
	static const uint8_t wrong_oid[] = { 0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
					     0x12, 0x01, 0x02, 0x02, 0xa0, 0x00 };
	assert_int_equal(spnego_decode(wrong_oid, sizeof(wrong_oid), &t), -1);
	/* negState out of range. */
	static const uint8_t bad_state[] = { 0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x09 };
	assert_int_equal(spnego_decode(bad_state, sizeof(bad_state), &t), -1);
	/* Fields out of order. */
	static const uint8_t order[] = { 0xa1, 0x0c, 0x30, 0x0a, 0xa2, 0x03, 0x04, 0x01, 0x00,
					 0xa0, 0x03, 0x0a, 0x01, 0x01 };
	assert_int_equal(spnego_decode(order, sizeof(order), &t), -1);
	assert_int_equal(spnego_decode(NULL, 0, &t), -1);
	static const uint8_t junk[] = { 0x04, 0x00 };
	assert_int_equal(spnego_decode(junk, sizeof(junk), &t), -1);
}

static void test_asn1_long_form(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 0);
	uint8_t big[300] = { 0 };
	asn1_write(&w, ASN1_OCTET_STRING, big, sizeof(big));
	assert_int_equal(w.len, 4 + 300);
	assert_int_equal(w.p[1], 0x82);
	assert_int_equal(w.p[2], 0x01);
	assert_int_equal(w.p[3], 0x2c);
	struct rbuf r = rbuf_make(w.p, w.len);
	struct asn1_elem e;
	assert_int_equal(asn1_read_tag(&r, ASN1_OCTET_STRING, &e), 0);
	assert_int_equal(e.len, 300);
	assert_int_equal(rbuf_left(&r), 0);
	/* Reading past the end fails and latches. */
	assert_int_equal(asn1_read(&r, &e), -1);
	assert_true(r.err);
	wbuf_free(&w);
}


/* mechTypes DER (what mechListMIC covers) and negTokenResp with a MIC. */
static void test_mech_list_mic(void **state)
{
	(void)state;
	struct wbuf w;
	struct spnego_token t;
	static const uint8_t tok[] = "NTLMSSP";
	wbuf_init(&w, 0);
	spnego_encode_init(&w, SPNEGO_MECH_NTLMSSP, tok, sizeof(tok));
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	static const uint8_t ntlm_types[] = { 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01,
					      0x82, 0x37, 0x02, 0x02, 0x0a };
	assert_non_null(t.mech_types_der);
	assert_int_equal(t.mech_types_der_len, sizeof(ntlm_types));
	assert_memory_equal(t.mech_types_der, ntlm_types, sizeof(ntlm_types));
	assert_true(t.mech_types_der >= w.p && t.mech_types_der + t.mech_types_der_len <= w.p + w.len);
	wbuf_free(&w);

	/* Windows' first SESSION_SETUP: the same single-NTLMSSP list. */
	size_t n, bl;
	uint8_t *p = hex_decode(trace_ss_req1, &n);
	const uint8_t *b = req_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	assert_int_equal(t.mech_types_der_len, sizeof(ntlm_types));
	assert_memory_equal(t.mech_types_der, ntlm_types, sizeof(ntlm_types));
	free(p);

	/* A negTokenResp has no mechTypes. */
	wbuf_init(&w, 0);
	uint8_t mic[16];
	for (int i = 0; i < 16; i++) mic[i] = (uint8_t)(0xA0 + i);
	spnego_encode_resp_mic(&w, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP, tok, sizeof(tok), mic, 16);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_null(t.mech_types_der);
	assert_int_equal(t.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_int_equal(t.supported_mech, SPNEGO_MECH_NTLMSSP);
	assert_int_equal(t.mech_token_len, sizeof(tok));
	assert_int_equal(t.mic_len, 16);
	assert_memory_equal(t.mic, mic, 16);
	wbuf_free(&w);

	/* Our accept-completed with a MIC is byte-identical to Windows'. */
	p = hex_decode(trace_ss_rsp2, &n);
	b = rsp_blob(p, n, &bl);
	assert_int_equal(spnego_decode(b, bl, &t), 0);
	wbuf_init(&w, 0);
	spnego_encode_resp_mic(&w, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_UNKNOWN, NULL, 0, t.mic, t.mic_len);
	assert_int_equal(w.len, bl);
	assert_memory_equal(w.p, b, bl);
	wbuf_free(&w);
	free(p);

	/* Without a MIC it is the plain encoder's output. */
	struct wbuf w2;
	wbuf_init(&w, 0);
	wbuf_init(&w2, 0);
	spnego_encode_resp_mic(&w, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_UNKNOWN, NULL, 0, NULL, 0);
	spnego_encode_resp(&w2, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_UNKNOWN, NULL, 0);
	assert_int_equal(w.len, w2.len);
	assert_memory_equal(w.p, w2.p, w.len);
	wbuf_free(&w);
	wbuf_free(&w2);

	/* mechTypes [0] holding more than the SEQUENCE is malformed. */
	static const uint8_t trailing[] = { 0xa0, 0x12, 0x30, 0x10, 0xa0, 0x0e, 0x30, 0x0a, 0x06, 0x08,
					    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x05, 0x00 };
	assert_int_equal(spnego_decode(trailing, sizeof(trailing), &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows_tokens),
		cmocka_unit_test(test_raw_ntlmssp),
		cmocka_unit_test(test_neg_hints_roundtrip),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_resp_without_token),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_asn1_long_form),
		cmocka_unit_test(test_mech_list_mic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
