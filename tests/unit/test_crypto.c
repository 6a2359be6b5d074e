/* Crypto unit tests: primitives, SMB 3.x KDF and signing against published
 * vectors (RFC 1320, RFC 2202, MS-NLMP 4.2.4, and Microsoft's SMB 3.0/3.1.1
 * key derivation walkthrough), plus cross-checks of the GMAC nonce layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/crypto.h"
#include "wire/smb2.h"

#include "smb311_trace.h"
#include "test_util.h"

static void assert_hex(const uint8_t *got, size_t n, const char *hex)
{
	uint8_t want[128];
	assert_true(n <= sizeof(want));
	hex_fixed(hex, want, n);
	assert_memory_equal(got, want, n);
}

static void *init_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)crypto_init();
}

static void test_init_idempotent(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, init_thread, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_int_equal((intptr_t)rc, 0);
	}
	assert_int_equal(crypto_init(), 0);
	assert_int_equal(crypto_init(), 0);
}

static void test_md4_md5(void **state)
{
	(void)state;
	uint8_t out[16];
	/* RFC 1320 A.5 */
	assert_int_equal(crypto_md4("", 0, out), 0);
	assert_hex(out, 16, "31d6cfe0d16ae931b73c59d7e0c089c0");
	assert_int_equal(crypto_md4("abc", 3, out), 0);
	assert_hex(out, 16, "a448017aaf21d8525fc10ae87aa6729d");
	/* RFC 1321 A.5 */
	assert_int_equal(crypto_md5("abc", 3, out), 0);
	assert_hex(out, 16, "900150983cd24fb0d6963f7d28e17f72");
}

static void test_hmac_md5(void **state)
{
	(void)state;
	/* RFC 2202 test case 1 and 2 */
	uint8_t key[16], out[16];
	memset(key, 0x0b, 16);
	struct iovec iov = { .iov_base = (void *)"Hi There", .iov_len = 8 };
	assert_int_equal(crypto_hmac_md5(key, 16, &iov, 1, out), 0);
	assert_hex(out, 16, "9294727a3638bb1c13f48ef8158bfc9d");
	struct iovec iov2[2] = { { (void *)"what do ya want ", 16 }, { (void *)"for nothing?", 12 } };
	assert_int_equal(crypto_hmac_md5("Jefe", 4, iov2, 2, out), 0);
	assert_hex(out, 16, "750c783e6ab0b503eaa86e310a5db738");
}

static void test_rc4(void **state)
{
	(void)state;
	/* MS-NLMP 4.2.4: RC4(SessionBaseKey, RandomSessionKey) = EncryptedRandomSessionKey */
	uint8_t key[16], in[16], out[16], back[16];
	hex_fixed("8de40ccadbc14a82f15cb0ad0de95ca3", key, 16);
	memset(in, 0x55, 16);
	assert_int_equal(crypto_rc4(key, 16, in, 16, out), 0);
	assert_hex(out, 16, "c5dad2544fc9799094ce1ce90bc9d03e");
	assert_int_equal(crypto_rc4(key, 16, out, 16, back), 0);
	assert_memory_equal(back, in, 16);
	/* RFC 6229-style classic vector: key "Key", plaintext "Plaintext" */
	uint8_t ct[9];
	assert_int_equal(crypto_rc4((const uint8_t *)"Key", 3, (const uint8_t *)"Plaintext", 9, ct), 0);
	assert_hex(ct, 9, "bbf316e8d940af0ad3");
}

static void test_random(void **state)
{
	(void)state;
	uint8_t a[32] = { 0 }, b[32] = { 0 };
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* The preauth integrity hash chain of the published 3.1.1 exchange. */
static void test_preauth_chain(void **state)
{
	(void)state;
	const char *pkts[] = { trace_neg_req, trace_neg_rsp, trace_ss_req1, trace_ss_rsp1, trace_ss_req2 };
	const char *want[] = {
		"DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0"
		"CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426",
		"324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99"
		"7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
		"AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33"
		"197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9",
		"2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336"
		"4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387",
		"0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97"
		"51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
	};
	uint8_t h[64] = { 0 };
	for (size_t i = 0; i < 5; i++) {
		size_t n;
		uint8_t *p = hex_decode(pkts[i], &n);
		/* Split the packet in two iovecs to exercise the gather path; h is
		 * both input and output (they may alias). */
		struct iovec iov[2] = { { p, 10 }, { p + 10, n - 10 } };
		assert_int_equal(crypto_preauth_update(h, iov, 2, h), 0);
		assert_hex(h, 64, want[i]);
		free(p);
	}
}

static void test_kdf_smb300(void **state)
{
	(void)state;
	uint8_t sk[16];
	hex_fixed("7CD451825D0450D235424E44BA6E78CC", sk, 16);
	struct smb_session_keys k;
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_300, 0, sk, 16, NULL, &k), 0);
	assert_hex(k.signing, 16, "0B7E9C5CAC36C0F6EA9AB275298CEDCE");
	assert_hex(k.application, 16, "BB23A4575AA26C721AF525AF15A87B4F");
	/* The walkthrough lists the client's keys: its EncryptionKey (client to
	 * server) is our decryption key and vice versa. */
	assert_hex(k.decrypt, 16, "FAD27796665B313EBB578F388632B4F7");
	assert_hex(k.encrypt, 16, "B0F0427F7CEB416D1D9DCC0CD4F99447");
	assert_int_equal(k.cipher_key_len, 16);

	/* Second channel of the same example: only its signing key differs. */
	hex_fixed("4E01A2B313BCF660CC250BEF021AEDE6", sk, 16);
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_302, 0, sk, 16, NULL, &k), 0);
	assert_hex(k.signing, 16, "BA1A17DBBFEC349BCA105563D598952F");

	/* The bare KDF with the label/context from MS-SMB2 3.3.5.5.3. */
	uint8_t out[16];
	hex_fixed("7CD451825D0450D235424E44BA6E78CC", sk, 16);
	assert_int_equal(crypto_smb3_kdf(sk, 16, "SMB2AESCMAC", 12, "SmbSign", 8, out, 16), 0);
	assert_hex(out, 16, "0B7E9C5CAC36C0F6EA9AB275298CEDCE");
}

static void test_kdf_smb311(void **state)
{
	(void)state;
	uint8_t sk[16], preauth[64];
	hex_fixed("270E1BA896585EEB7AF3472D3B4C75A7", sk, 16);
	hex_fixed("0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB79"
		  "28622DDDAD522D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
		  preauth, 64);
	struct smb_session_keys k;
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_311, SMB2_ENCRYPTION_AES128_GCM, sk, 16, preauth, &k), 0);
	assert_hex(k.signing, 16, "73FE7A9A77BEF0BDE49C650D8CCB5F76");
	assert_hex(k.application, 16, "6D7AD7954E9EC61E907B4D473DC178FF");
	assert_hex(k.decrypt, 16, "629BCBC54422A0F572B97F45989B6073");
	assert_hex(k.encrypt, 16, "E2AF0DCEFAC68DA71A0DFBD0D1350D74");
	assert_int_equal(k.cipher_key_len, 16);

	/* 3.1.1 requires the preauth hash. */
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_311, 0, sk, 16, NULL, &k), -1);
	/* Unknown dialect */
	assert_int_equal(smb_derive_session_keys(0x0399, 0, sk, 16, preauth, &k), -1);
}

static void test_kdf_aes256(void **state)
{
	(void)state;
	uint8_t sk[32], preauth[64];
	for (int i = 0; i < 32; i++) sk[i] = (uint8_t)i;
	memset(preauth, 0xa5, sizeof(preauth));
	struct smb_session_keys k128, k256, k256_long;
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_311, SMB2_ENCRYPTION_AES128_CCM, sk, 16, preauth, &k128), 0);
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_311, SMB2_ENCRYPTION_AES256_GCM, sk, 16, preauth, &k256), 0);
	assert_int_equal(k256.cipher_key_len, 32);
	/* Signing and application keys do not depend on the cipher. */
	assert_memory_equal(k128.signing, k256.signing, 16);
	assert_memory_equal(k128.application, k256.application, 16);
	/* L = 256 changes every output bit, so the 32-byte key's first half is
	 * not the 16-byte key. */
	assert_memory_not_equal(k128.encrypt, k256.encrypt, 16);
	uint8_t direct[32];
	assert_int_equal(crypto_smb3_kdf(sk, 16, "SMBS2CCipherKey", 16, preauth, 64, direct, 32), 0);
	assert_memory_equal(direct, k256.encrypt, 32);
	/* With a 32-byte (Kerberos) session key the cipher keys use all of it,
	 * the signing key only the first 16 bytes. */
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_311, SMB2_ENCRYPTION_AES256_CCM, sk, 32, preauth, &k256_long), 0);
	assert_memory_equal(k256_long.signing, k256.signing, 16);
	assert_memory_not_equal(k256_long.encrypt, k256.encrypt, 32);
	assert_int_equal(crypto_smb3_kdf(sk, 32, "SMBC2SCipherKey", 16, preauth, 64, direct, 32), 0);
	assert_memory_equal(direct, k256_long.decrypt, 32);
}

static void test_kdf_smb2x(void **state)
{
	(void)state;
	uint8_t sk[16];
	for (int i = 0; i < 16; i++) sk[i] = (uint8_t)(i * 7);
	struct smb_session_keys k;
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_210, 0, sk, 16, NULL, &k), 0);
	assert_memory_equal(k.signing, sk, 16);
	/* A short key is right-padded with zeros (MS-SMB2 3.2.1.3). */
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_202, 0, sk, 8, NULL, &k), 0);
	assert_memory_equal(k.signing, sk, 8);
	static const uint8_t zero[8];
	assert_memory_equal(k.signing + 8, zero, 8);
}

/* The final SESSION_SETUP response of the published exchange is signed with
 * AES-CMAC under the derived signing key. */
static void test_sign_cmac_vector(void **state)
{
	(void)state;
	size_t n;
	uint8_t *msg = hex_decode(trace_ss_rsp2, &n);
	uint8_t key[16], sig[16];
	hex_fixed("73FE7A9A77BEF0BDE49C650D8CCB5F76", key, 16);
	assert_int_equal(smb2_sign_message(SMB2_SIGNING_AES_CMAC, key, msg, n, sig), 0);
	assert_hex(sig, 16, "EBE146DA120BA25FC3376A49DFE31BC1");
	assert_true(smb2_verify_signature(SMB2_SIGNING_AES_CMAC, key, msg, n));
	/* Any change in the body or header breaks it. */
	msg[n - 1] ^= 1;
	assert_false(smb2_verify_signature(SMB2_SIGNING_AES_CMAC, key, msg, n));
	msg[n - 1] ^= 1;
	msg[20] ^= 1;
	assert_false(smb2_verify_signature(SMB2_SIGNING_AES_CMAC, key, msg, n));
	msg[20] ^= 1;
	/* Signing in place reproduces the same bytes (SIGNED is already set). */
	uint8_t *copy = malloc(n);
	memcpy(copy, msg, n);
	memset(copy + 48, 0, 16);
	assert_int_equal(smb2_sign_in_place(SMB2_SIGNING_AES_CMAC, key, copy, n), 0);
	assert_memory_equal(copy, msg, n);
	free(copy);
	free(msg);
}

static uint8_t *make_msg(size_t len, uint16_t command, uint32_t flags, uint64_t message_id)
{
	uint8_t *m = calloc(1, len);
	put_le32(m, SMB2_PROTOCOL_ID);
	put_le16(m + 4, 64);
	put_le16(m + 12, command);
	put_le32(m + 16, flags);
	put_le64(m + 24, message_id);
	for (size_t i = 64; i < len; i++) m[i] = (uint8_t)(i * 13);
	return m;
}

static void test_sign_hmac_sha256(void **state)
{
	(void)state;
	uint8_t key[16];
	for (int i = 0; i < 16; i++) key[i] = (uint8_t)(0x30 + i);
	uint8_t *m = make_msg(100, SMB2_READ, SMB2_FLAGS_SERVER_TO_REDIR, 42);
	memset(m + 48, 0xEE, 16); /* whatever is in the field is ignored */
	uint8_t sig[16];
	assert_int_equal(smb2_sign_message(SMB2_SIGNING_HMAC_SHA256, key, m, 100, sig), 0);
	/* Independent computation: one-shot HMAC over the zeroed-signature copy. */
	uint8_t copy[100], full[32];
	memcpy(copy, m, 100);
	memset(copy + 48, 0, 16);
	unsigned int flen = 0;
	HMAC(EVP_sha256(), key, 16, copy, 100, full, &flen);
	assert_memory_equal(sig, full, 16);

	assert_int_equal(smb2_sign_in_place(SMB2_SIGNING_HMAC_SHA256, key, m, 100), 0);
	assert_true(get_le32(m + 16) & SMB2_FLAGS_SIGNED);
	assert_true(smb2_verify_signature(SMB2_SIGNING_HMAC_SHA256, key, m, 100));
	key[0] ^= 1;
	assert_false(smb2_verify_signature(SMB2_SIGNING_HMAC_SHA256, key, m, 100));
	free(m);
}

/* AES-GMAC = AES-128-GCM with the message as AAD and no plaintext; compute it
 * here through the cipher interface with the nonce of MS-SMB2 3.1.4.1. */
static void gmac_reference(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t tag[16])
{
	uint8_t nonce[12];
	memcpy(nonce, msg + 24, 8);
	uint32_t flags = get_le32(msg + 16);
	uint32_t word = (flags & SMB2_FLAGS_SERVER_TO_REDIR) ? 1 : 0;
	if (get_le16(msg + 12) == SMB2_CANCEL && !(flags & SMB2_FLAGS_SERVER_TO_REDIR)) word |= 2;
	put_le32(nonce + 8, word);
	uint8_t *copy = malloc(len);
	memcpy(copy, msg, len);
	memset(copy + 48, 0, 16);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, copy, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, NULL, &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
	free(copy);
}

static void test_sign_gmac(void **state)
{
	(void)state;
	uint8_t key[16];
	for (int i = 0; i < 16; i++) key[i] = (uint8_t)(0xA0 + i);
	struct {
		uint16_t cmd;
		uint32_t flags;
	} cases[] = {
		{ SMB2_WRITE, 0 },
		{ SMB2_WRITE, SMB2_FLAGS_SERVER_TO_REDIR },
		{ SMB2_CANCEL, 0 },
		{ SMB2_CANCEL, SMB2_FLAGS_ASYNC_COMMAND },
	};
	uint8_t sigs[4][16];
	for (size_t i = 0; i < 4; i++) {
		uint8_t *m = make_msg(120, cases[i].cmd, cases[i].flags, 0x0102030405060708ull);
		uint8_t ref[16];
		assert_int_equal(smb2_sign_message(SMB2_SIGNING_AES_GMAC, key, m, 120, sigs[i]), 0);
		gmac_reference(key, m, 120, ref);
		assert_memory_equal(sigs[i], ref, 16);
		assert_int_equal(smb2_sign_in_place(SMB2_SIGNING_AES_GMAC, key, m, 120), 0);
		assert_true(smb2_verify_signature(SMB2_SIGNING_AES_GMAC, key, m, 120));
		/* The nonce comes from MessageId: another id, another signature. */
		put_le64(m + 24, 9);
		assert_false(smb2_verify_signature(SMB2_SIGNING_AES_GMAC, key, m, 120));
		free(m);
	}
	/* The role bit changes the nonce. */
	assert_memory_not_equal(sigs[0], sigs[1], 16);
}

static void test_sign_bad_args(void **state)
{
	(void)state;
	uint8_t key[16] = { 0 }, sig[16];
	uint8_t m[64] = { 0 };
	assert_int_equal(smb2_sign_message(SMB2_SIGNING_AES_CMAC, key, m, 63, sig), -1);
	assert_int_equal(smb2_sign_message(7, key, m, 64, sig), -1);
	assert_false(smb2_verify_signature(SMB2_SIGNING_AES_CMAC, key, m, 10));
	/* A bare header is a valid message to sign. */
	assert_int_equal(smb2_sign_message(SMB2_SIGNING_AES_CMAC, key, m, 64, sig), 0);
}

/* The piecewise signature (a signed WRITE verified while it arrives) is
 * the whole-message one, whatever the pieces, for each algorithm; a byte
 * changed in the body makes it fail. */
static void test_sign_stream_pieces(void **state)
{
	(void)state;
	static const uint16_t algos[] = { SMB2_SIGNING_HMAC_SHA256, SMB2_SIGNING_AES_CMAC, SMB2_SIGNING_AES_GMAC };
	uint8_t key[16];
	for (int i = 0; i < 16; i++) key[i] = (uint8_t)(0x30 + i);
	size_t n = 64 + 3000;
	uint8_t *m = malloc(n);
	assert_non_null(m);
	for (size_t i = 0; i < n; i++) m[i] = (uint8_t)(i * 7 + 1);
	memcpy(m, "\xfeSMB", 4);
	put_le16(m + 12, SMB2_WRITE);
	for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++) {
		assert_int_equal(smb2_sign_in_place(algos[a], key, m, n), 0);
		static const size_t cuts[] = { 1, 17, 1000, 3000 };
		for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			struct smb2_sign_stream *st = smb2_sign_stream_begin(algos[a], key, m);
			assert_non_null(st);
			for (size_t off = 64; off < n; off += cuts[c]) {
				size_t len = n - off < cuts[c] ? n - off : cuts[c];
				assert_int_equal(smb2_sign_stream_update(st, m + off, len), 0);
			}
			assert_true(smb2_sign_stream_verify(st, m + 48));
		}
		/* One body byte changed. */
		struct smb2_sign_stream *st = smb2_sign_stream_begin(algos[a], key, m);
		assert_non_null(st);
		m[2000] ^= 1;
		assert_int_equal(smb2_sign_stream_update(st, m + 64, n - 64), 0);
		m[2000] ^= 1;
		assert_false(smb2_sign_stream_verify(st, m + 48));
		/* Dropped unfinished (no leak under ASan). */
		st = smb2_sign_stream_begin(algos[a], key, m);
		assert_non_null(st);
		smb2_sign_stream_free(st);
	}
	assert_null(smb2_sign_stream_begin(7, key, m));
	assert_false(smb2_sign_stream_verify(NULL, m + 48));
	smb2_sign_stream_free(NULL);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_idempotent),
		cmocka_unit_test(test_md4_md5),
		cmocka_unit_test(test_hmac_md5),
		cmocka_unit_test(test_rc4),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_preauth_chain),
		cmocka_unit_test(test_kdf_smb300),
		cmocka_unit_test(test_kdf_smb311),
		cmocka_unit_test(test_kdf_aes256),
		cmocka_unit_test(test_kdf_smb2x),
		cmocka_unit_test(test_sign_cmac_vector),
		cmocka_unit_test(test_sign_hmac_sha256),
		cmocka_unit_test(test_sign_gmac),
		cmocka_unit_test(test_sign_bad_args),
		cmocka_unit_test(test_sign_stream_pieces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
