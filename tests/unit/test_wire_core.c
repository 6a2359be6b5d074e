/* Unit tests for the SMB2 header and the NEGOTIATE / SESSION_SETUP /
 * TREE_CONNECT wire code, including hostile lengths and offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf16.h"
#include "wire/negotiate.h"
#include "wire/session_setup.h"
#include "wire/smb2.h"
#include "wire/tree_connect.h"

static void build_hdr(struct wbuf *w, uint16_t cmd)
{
	struct smb2_hdr h = { .command = cmd, .message_id = 7, .session_id = 0x1122334455667788ULL, .tree_id = 5 };
	uint8_t *p = wbuf_reserve(w, SMB2_HDR_SIZE);
	smb2_hdr_encode(p, &h);
}

static void test_hdr_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct smb2_hdr h = { .credit_charge = 3, .status = STATUS_PENDING, .command = SMB2_READ, .credit = 9,
			      .flags = SMB2_FLAGS_RELATED_OPERATIONS, .next_command = 128, .message_id = 42,
			      .tree_id = 77, .session_id = 99 };
	smb2_hdr_encode(buf, &h);
	struct smb2_hdr d;
	assert_true(smb2_hdr_decode(buf, sizeof(buf), &d));
	assert_int_equal(d.credit_charge, 3);
	assert_int_equal(d.status, STATUS_PENDING);
	assert_int_equal(d.command, SMB2_READ);
	assert_int_equal(d.next_command, 128);
	assert_int_equal(d.message_id, 42);
	assert_int_equal(d.tree_id, 77);
	assert_int_equal(d.session_id, 99);
	/* Truncated, wrong protocol id, wrong StructureSize. */
	assert_false(smb2_hdr_decode(buf, 63, &d));
	buf[0] = 0xFF;
	assert_false(smb2_hdr_decode(buf, 64, &d));
	buf[0] = 0xFE;
	buf[4] = 65;
	assert_false(smb2_hdr_decode(buf, 64, &d));
}

static void test_negotiate_roundtrip(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 256);
	build_hdr(&w, SMB2_NEGOTIATE);
	struct smb2_negotiate_req r = { .dialect_count = 3, .security_mode = 1, .capabilities = 0x7f,
					.dialects = { 0x0202, 0x0300, 0x0311 } };
	uint8_t preauth[38] = { 1, 0, 32, 0, 1, 0 };
	r.contexts[0] = (struct smb2_neg_context){ SMB2_PREAUTH_INTEGRITY_CAPABILITIES, 38, preauth };
	uint8_t sign[4] = { 1, 0, 2, 0 };
	r.contexts[1] = (struct smb2_neg_context){ SMB2_SIGNING_CAPABILITIES, 4, sign };
	r.ncontexts = 2;
	smb2_negotiate_req_encode(&w, 0, &r);
	assert_false(w.err);
	struct smb2_negotiate_req d;
	assert_int_equal(smb2_negotiate_req_decode(w.p, w.len, &d), STATUS_SUCCESS);
	assert_int_equal(d.dialect_count, 3);
	assert_true(d.offers_311);
	assert_int_equal(d.ncontexts, 2);
	assert_int_equal(d.contexts[1].type, SMB2_SIGNING_CAPABILITIES);
	assert_memory_equal(d.contexts[1].data, sign, 4);

	/* Every truncation of a valid request is rejected, never overread. */
	for (size_t n = 0; n < w.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, w.p, n);
		uint32_t st = smb2_negotiate_req_decode(copy, n, &d);
		assert_int_equal(st, STATUS_INVALID_PARAMETER);
		free(copy);
	}
	/* Huge dialect count and a context offset past the end. */
	put_le16(w.p + 64 + 2, 0xFFFF);
	assert_int_equal(smb2_negotiate_req_decode(w.p, w.len, &d), STATUS_INVALID_PARAMETER);
	put_le16(w.p + 64 + 2, 3);
	put_le32(w.p + 64 + 28, 0xFFFFFFF8u);
	assert_int_equal(smb2_negotiate_req_decode(w.p, w.len, &d), STATUS_INVALID_PARAMETER);
	wbuf_free(&w);
}

static void test_session_setup_bounds(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 256);
	build_hdr(&w, SMB2_SESSION_SETUP);
	uint8_t blob[10] = "NTLMSSP";
	struct smb2_session_setup_req r = { .security_mode = 1, .security_blob = blob, .security_blob_len = 10 };
	smb2_session_setup_req_encode(&w, 0, &r);
	struct smb2_session_setup_req d;
	assert_int_equal(smb2_session_setup_req_decode(w.p, w.len, &d), STATUS_SUCCESS);
	assert_int_equal(d.security_blob_len, 10);
	assert_memory_equal(d.security_blob, blob, 10);
	/* Blob length past the end of the message. */
	put_le16(w.p + 64 + 14, 11);
	assert_int_equal(smb2_session_setup_req_decode(w.p, w.len, &d), STATUS_INVALID_PARAMETER);
	/* Offset pointing into the header. */
	put_le16(w.p + 64 + 14, 10);
	put_le16(w.p + 64 + 12, 8);
	assert_int_equal(smb2_session_setup_req_decode(w.p, w.len, &d), STATUS_INVALID_PARAMETER);
	wbuf_free(&w);
}

static void test_tree_connect_path(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 256);
	build_hdr(&w, SMB2_TREE_CONNECT);
	wbuf_u16(&w, 9);
	wbuf_u16(&w, 0);
	wbuf_u16(&w, 72);
	size_t lenpos = w.len;
	wbuf_u16(&w, 0);
	long n = utf8_to_utf16le(&w, "\\\\srv\\share", 11);
	wbuf_set_u16(&w, lenpos, (uint16_t)n);
	struct smb2_tree_connect_req d;
	assert_int_equal(smb2_tree_connect_req_decode(w.p, w.len, &d), STATUS_SUCCESS);
	size_t ulen;
	char *s = utf16le_to_utf8(d.path, d.path_len, &ulen);
	assert_string_equal(s, "\\\\srv\\share");
	free(s);
	/* Odd length is not UTF-16. */
	wbuf_set_u16(&w, lenpos, (uint16_t)(n - 1));
	assert_int_equal(smb2_tree_connect_req_decode(w.p, w.len, &d), STATUS_INVALID_PARAMETER);
	wbuf_free(&w);
}

static void test_utf16(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 16);
	const char *s = "a\xc3\xa9\xf0\x9f\x98\x80";   /* a, e-acute, an emoji (surrogate pair) */
	long n = utf8_to_utf16le(&w, s, strlen(s));
	assert_int_equal(n, 8);
	char *back = utf16le_to_utf8(w.p, w.len, NULL);
	assert_string_equal(back, s);
	free(back);
	/* Unpaired surrogate and embedded NUL are refused. */
	uint8_t bad[2] = { 0x00, 0xD8 };
	assert_null(utf16le_to_utf8(bad, 2, NULL));
	uint8_t nul[2] = { 0, 0 };
	assert_null(utf16le_to_utf8(nul, 2, NULL));
	assert_int_equal(utf8_casecmp("Readme.TXT", "README.txt"), 0);
	assert_true(utf8_casecmp("a", "b") != 0);
	/* Names utf8_casecmp calls equal hash equally (server/name_cache.c
	 * relies on it), non-ASCII and invalid UTF-8 tails included. */
	const char *same[][2] = {
		{ "Readme.TXT", "README.txt" },
		{ "caf\xc3\xa9", "CAF\xc3\x89" },           /* e-acute / E-acute */
		{ "x\xff\xfeY", "X\xff\xfeY" },              /* invalid bytes compare raw */
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(utf8_casecmp(same[i][0], same[i][1]), 0);
		assert_true(utf8_casehash(same[i][0]) == utf8_casehash(same[i][1]));
	}
	assert_true(utf8_casehash("abc") != utf8_casehash("abd"));
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_negotiate_roundtrip),
		cmocka_unit_test(test_session_setup_bounds),
		cmocka_unit_test(test_tree_connect_path),
		cmocka_unit_test(test_utf16),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
