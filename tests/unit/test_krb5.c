/* The Kerberos pieces of SESSION_SETUP that need no KDC: recognising a krb5
 * AP-REQ inside SPNEGO, the SPNEGO tokens around it (mechTypes order,
 * supportedMech echo, AP-REP and mechListMIC in accept-completed), the
 * principal -> user rule, and refusals by the GSS acceptor for garbage or a
 * missing keytab.  The full exchange runs against a real MIT KDC in
 * tests/interop/test_kerberos.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/krb5_server.h"
#include "wire/asn1.h"
#include "wire/ntstatus.h"
#include "wire/spnego.h"

/* A krb5 InitialContextToken header: [APPLICATION 0] { OID krb5, TOK_ID
 * 01 00, AP-REQ... }.  The AP-REQ body is a stand-in: only the framing
 * matters for recognising it. */
static size_t make_krb5_token(uint8_t *out, const uint8_t *oid, size_t oid_len, uint8_t tok_id0)
{
	struct wbuf w;
	wbuf_init(&w, 64);
	size_t app = asn1_begin(&w, ASN1_APPLICATION0);
	asn1_write(&w, ASN1_OID, oid, oid_len);
	wbuf_u8(&w, tok_id0);
	wbuf_u8(&w, 0x00);
	static const uint8_t ap_req[] = { 0x6e, 0x03, 0x30, 0x01, 0x00 };
	wbuf_bytes(&w, ap_req, sizeof(ap_req));
	asn1_end(&w, app);
	size_t n = w.len;
	memcpy(out, w.p, n);
	wbuf_free(&w);
	return n;
}

static const uint8_t oid_krb5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const uint8_t oid_ms_krb5[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const uint8_t oid_ntlmssp[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };

static void test_token_recognition(void **state)
{
	(void)state;
	uint8_t t[64];
	size_t n = make_krb5_token(t, oid_krb5, sizeof(oid_krb5), 0x01);
	assert_true(krb5_token_is_ap_req(t, n));
	n = make_krb5_token(t, oid_ms_krb5, sizeof(oid_ms_krb5), 0x01);
	assert_true(krb5_token_is_ap_req(t, n));
	/* TOK_ID 02 00 is an AP-REP, 03 00 a KRB-ERROR: not a first token. */
	n = make_krb5_token(t, oid_krb5, sizeof(oid_krb5), 0x02);
	assert_false(krb5_token_is_ap_req(t, n));
	n = make_krb5_token(t, oid_ntlmssp, sizeof(oid_ntlmssp), 0x01);
	assert_false(krb5_token_is_ap_req(t, n));
	/* Every truncation is refused without reading past the end. */
	n = make_krb5_token(t, oid_krb5, sizeof(oid_krb5), 0x01);
	for (size_t i = 0; i < n; i++) assert_false(krb5_token_is_ap_req(t, i));
	static const uint8_t ntlm[] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0 };
	assert_false(krb5_token_is_ap_req(ntlm, sizeof(ntlm)));
	assert_false(krb5_token_is_ap_req(NULL, 0));
}

/* A negTokenInit as MIT and Heimdal clients send it: mechTypes
 * { MS-krb5, krb5, NTLMSSP }, mechToken = AP-REQ, optional mechListMIC. */
static size_t make_init(uint8_t *out, size_t cap, const uint8_t *ap_req, size_t ap_len, bool with_mic)
{
	struct wbuf w;
	wbuf_init(&w, 128);
	size_t app = asn1_begin(&w, ASN1_APPLICATION0);
	static const uint8_t oid_spnego[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };
	asn1_write(&w, ASN1_OID, oid_spnego, sizeof(oid_spnego));
	size_t init = asn1_begin(&w, ASN1_CONTEXT(0));
	size_t seq = asn1_begin(&w, ASN1_SEQUENCE);
	size_t types = asn1_begin(&w, ASN1_CONTEXT(0));
	size_t list = asn1_begin(&w, ASN1_SEQUENCE);
	asn1_write(&w, ASN1_OID, oid_ms_krb5, sizeof(oid_ms_krb5));
	asn1_write(&w, ASN1_OID, oid_krb5, sizeof(oid_krb5));
	asn1_write(&w, ASN1_OID, oid_ntlmssp, sizeof(oid_ntlmssp));
	asn1_end(&w, list);
	asn1_end(&w, types);
	size_t f2 = asn1_begin(&w, ASN1_CONTEXT(2));
	asn1_write(&w, ASN1_OCTET_STRING, ap_req, ap_len);
	asn1_end(&w, f2);
	if (with_mic) {
		static const uint8_t mic[28] = { 0x04, 0x04 };
		size_t f3 = asn1_begin(&w, ASN1_CONTEXT(3));
		asn1_write(&w, ASN1_OCTET_STRING, mic, sizeof(mic));
		asn1_end(&w, f3);
	}
	asn1_end(&w, seq);
	asn1_end(&w, init);
	asn1_end(&w, app);
	assert_true(w.len <= cap);
	size_t n = w.len;
	memcpy(out, w.p, n);
	wbuf_free(&w);
	return n;
}

static void test_spnego_init_with_ap_req(void **state)
{
	(void)state;
	uint8_t ap[64], blob[256];
	size_t ap_len = make_krb5_token(ap, oid_krb5, sizeof(oid_krb5), 0x01);
	size_t n = make_init(blob, sizeof(blob), ap, ap_len, true);
	struct spnego_token tok;
	assert_int_equal(spnego_decode(blob, n, &tok), 0);
	assert_true(tok.is_init);
	assert_int_equal(tok.nmechs, 3);
	/* The dispatch rule of smb2_session_setup: first mech krb5-ish and
	 * the token an AP-REQ. */
	assert_int_equal(tok.mechs[0], SPNEGO_MECH_MS_KRB5);
	assert_int_equal(tok.mechs[1], SPNEGO_MECH_KRB5);
	assert_int_equal(tok.mechs[2], SPNEGO_MECH_NTLMSSP);
	assert_true(krb5_token_is_ap_req(tok.mech_token, tok.mech_token_len));
	assert_int_equal(tok.mech_token_len, ap_len);
	assert_memory_equal(tok.mech_token, ap, ap_len);
	assert_non_null(tok.mic);
	assert_int_equal(tok.mic_len, 28);
	/* The MIC covers the DER of the mechTypes SEQUENCE: it starts with
	 * the SEQUENCE tag and holds the three OIDs. */
	assert_non_null(tok.mech_types_der);
	assert_int_equal(tok.mech_types_der[0], ASN1_SEQUENCE);
	assert_int_equal(tok.mech_types_der_len, 2 + 3 * 2 + 9 + 9 + 10);
}

/* The server's accept-completed reply: negState 0, supportedMech = the
 * client's OID (MS-krb5 here), responseToken = AP-REP, mechListMIC. */
static void test_accept_completed_reply(void **state)
{
	(void)state;
	uint8_t ap_rep[32];
	size_t rep_len = make_krb5_token(ap_rep, oid_krb5, sizeof(oid_krb5), 0x02);
	static const uint8_t mic[28] = { 0x04, 0x04, 0x05 };
	for (int with_mic = 0; with_mic < 2; with_mic++) {
		struct wbuf w;
		wbuf_init(&w, 64);
		spnego_encode_resp_mic(&w, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_MS_KRB5, ap_rep, rep_len,
				       with_mic ? mic : NULL, sizeof(mic));
		assert_false(w.err);
		struct spnego_token t;
		assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
		assert_false(t.is_init);
		assert_int_equal(t.neg_state, SPNEGO_ACCEPT_COMPLETED);
		assert_int_equal(t.supported_mech, SPNEGO_MECH_MS_KRB5);
		assert_int_equal(t.mech_token_len, rep_len);
		assert_memory_equal(t.mech_token, ap_rep, rep_len);
		if (with_mic) {
			assert_int_equal(t.mic_len, sizeof(mic));
			assert_memory_equal(t.mic, mic, sizeof(mic));
		} else {
			assert_null(t.mic);
		}
		wbuf_free(&w);
	}
}

static void test_hints_list_krb5(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 128);
	spnego_encode_neg_hints(&w, true);
	struct spnego_token t;
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_int_equal(t.nmechs, 3);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_MS_KRB5);
	assert_int_equal(t.mechs[1], SPNEGO_MECH_KRB5);
	assert_int_equal(t.mechs[2], SPNEGO_MECH_NTLMSSP);
	wbuf_free(&w);
	wbuf_init(&w, 128);
	spnego_encode_neg_hints(&w, false);
	assert_int_equal(spnego_decode(w.p, w.len, &t), 0);
	assert_int_equal(t.nmechs, 1);
	assert_int_equal(t.mechs[0], SPNEGO_MECH_NTLMSSP);
	wbuf_free(&w);
}

static void test_principal_mapping(void **state)
{
	(void)state;
	char u[16];
	assert_int_equal(krb5_principal_to_user("alice@EXAMPLE.ORG", "EXAMPLE.ORG", u, sizeof(u)), 0);
	assert_string_equal(u, "alice");
	/* Realms are case-sensitive; another realm is another user. */
	assert_int_equal(krb5_principal_to_user("alice@example.org", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("alice@OTHER.ORG", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("alice@EXAMPLE.ORG.EVIL", "EXAMPLE.ORG", u, sizeof(u)), -1);
	/* Instances and escaped characters are different principals. */
	assert_int_equal(krb5_principal_to_user("alice/admin@EXAMPLE.ORG", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("al\\@ice@EXAMPLE.ORG", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("@EXAMPLE.ORG", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("alice", "EXAMPLE.ORG", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("alice@EXAMPLE.ORG", "", u, sizeof(u)), -1);
	assert_int_equal(krb5_principal_to_user("averyveryverylongname@R", "R", u, sizeof(u)), -1);

	assert_true(krb5_principal_is_service("cifs/srv.example.org@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("host/srv.example.org@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("cifsx/srv@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("cifs/srv@OTHER.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("cifs/srv/x@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("cifs/@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
	assert_false(krb5_principal_is_service("cifs@EXAMPLE.ORG", "cifs", "EXAMPLE.ORG"));
}

/* The acceptor refuses garbage and a missing keytab with LOGON_FAILURE
 * and writes no reply; nothing it is fed crashes it. */
static void test_acceptor_refusals(void **state)
{
	(void)state;
	uint8_t ap[64];
	size_t ap_len = make_krb5_token(ap, oid_krb5, sizeof(oid_krb5), 0x01);
	assert_false(krb5_keytab_usable("/nonexistent/krb5.keytab"));
	assert_false(krb5_keytab_usable("/"));
	struct krb5_server *k = krb5_server_new("/nonexistent/krb5.keytab");
	assert_non_null(k);
	struct wbuf out;
	wbuf_init(&out, 16);
	assert_int_equal(krb5_server_accept(k, ap, ap_len, &out), STATUS_LOGON_FAILURE);
	assert_int_equal(out.len, 0);
	size_t key_len = 99;
	krb5_server_session_key(k, &key_len);
	assert_int_equal(key_len, 0);
	assert_int_equal(krb5_server_verify_mic(k, ap, 4, ap, 4), -1);
	assert_int_equal(krb5_server_make_mic(k, ap, 4, &out), -1);
	krb5_server_free(k);
	wbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_recognition),
		cmocka_unit_test(test_spnego_init_with_ap_req),
		cmocka_unit_test(test_accept_completed_reply),
		cmocka_unit_test(test_hints_list_krb5),
		cmocka_unit_test(test_principal_mapping),
		cmocka_unit_test(test_acceptor_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
