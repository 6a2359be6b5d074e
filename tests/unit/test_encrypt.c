/* SMB3 encryption unit tests: the AEAD wrappers and whole-message helpers
 * against Microsoft's published examples ("Encryption in SMB 3.0: a protocol
 * perspective", AES-128-CCM; "SMB 3.1.1 Encryption in Windows 10",
 * Appendix A.1, AES-128-GCM), round trips and tampering for all four
 * ciphers, and the TRANSFORM_HEADER decoder on malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"
#include "wire/transform.h"

#include "test_util.h"

static const uint16_t all_ciphers[] = {
	SMB2_ENCRYPTION_AES128_CCM, SMB2_ENCRYPTION_AES128_GCM, SMB2_ENCRYPTION_AES256_CCM, SMB2_ENCRYPTION_AES256_GCM,
};

/* SMB 3.0 example: session key -> keys, then a server response decrypted
 * with the server's encryption key (the client's decryption key). */
static void test_smb300_keys_and_decrypt(void **state)
{
	(void)state;
	uint8_t sk[16];
	hex_fixed("B4546771B515F766A86735532DD6C4F0", sk, 16);
	struct smb_session_keys k;
	assert_int_equal(smb_derive_session_keys(SMB2_DIALECT_300, SMB2_ENCRYPTION_AES128_CCM, sk, 16, NULL, &k), 0);
	uint8_t want[16];
	/* Client's EncryptionKey ("ServerIn ") is what the server decrypts with. */
	hex_fixed("261B72350558F2E9DCF613070383EDBF", want, 16);
	assert_memory_equal(k.decrypt, want, 16);
	hex_fixed("8FE2B57EC34D2DB5B1A9727F526BBDB5", want, 16);
	assert_memory_equal(k.encrypt, want, 16);

	size_t tlen, plen;
	uint8_t *t = hex_decode(
		"FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
		"00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
		"E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
		"1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
		"77309E5B", &tlen);
	uint8_t *p = hex_decode(
		"FE534D4240000100000000000900210009000000000000000400000000000000"
		"FFFE0000010000001100001400E4080000000000000000000000000000000000"
		"11000000170000000000000000000000", &plen);
	struct smb2_transform_hdr th;
	assert_int_equal(smb2_transform_decode(t, tlen, &th), STATUS_SUCCESS);
	assert_int_equal(th.original_size, plen);
	assert_true(th.session_id == 0x0008E40014000011ull);
	uint8_t out[128];
	assert_int_equal(smb3_decrypt_message(SMB2_ENCRYPTION_AES128_CCM, k.encrypt, t, tlen, out), 0);
	assert_memory_equal(out, p, plen);
	/* The signature covers the nonce padding too (it is in the AAD). */
	t[31] ^= 1;
	assert_int_equal(smb3_decrypt_message(SMB2_ENCRYPTION_AES128_CCM, k.encrypt, t, tlen, out), -1);
	free(t);
	free(p);
}

/* SMB 3.0 example, request direction: CCM ciphertext depends only on key
 * and nonce, so it can be checked even though the example's AAD is not
 * reproducible. */
static void test_smb300_ccm_ciphertext(void **state)
{
	(void)state;
	uint8_t key[16], nonce[11];
	hex_fixed("261B72350558F2E9DCF613070383EDBF", key, 16);
	hex_fixed("66E69A111892584FB5ED52", nonce, 11);
	size_t mlen, clen;
	uint8_t *m = hex_decode(
		"FE534D4240000100000000000900400008000000000000000400000000000000"
		"FFFE0000010000001100001400E4080000000000000000000000000000000000"
		"3100700017000000000000000000000015010000390000020100000039020000"
		"00000000000000007000000000000000536D623320656E6372797074696F6E20"
		"74657374696E67", &mlen);
	uint8_t *c = hex_decode(
		"25C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF3"
		"8BC62BA4D5C62897996625A44C29BE5658DE2E6117585779E7B59FFD971278D0"
		"8580D7FA899E410E910EABF5AA1DB43050B33B49182637759AC15D84BFCDF5B6"
		"B238993C0F4CF4D6012023F6C627297075D84B7803912D0A9639634453595EF3"
		"E33FFE4E7AC2AB", &clen);
	assert_int_equal(mlen, clen);
	uint8_t out[256], tag[16], aad[32] = { 0 };
	assert_int_equal(smb3_aead_encrypt(SMB2_ENCRYPTION_AES128_CCM, key, nonce, aad, 32, m, mlen, out, tag), 0);
	assert_memory_equal(out, c, clen);
	free(m);
	free(c);
}

/* SMB 3.1.1 example (Appendix A.1): AES-128-GCM WRITE request, whole
 * transform message. */
static void test_smb311_gcm_message(void **state)
{
	(void)state;
	uint8_t key[16], nonce16[16] = { 0 };
	hex_fixed("A2F5E80E5D59103034F32E52F698E5EC", key, 16);
	hex_fixed("C7D6822D269CAF48904C664C", nonce16, 12);
	size_t mlen, tlen;
	uint8_t *m = hex_decode(
		"FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
		"25000000001000000000000000000000000000000000000031007000170000000000000000000000"
		"0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
		"72797074696F6E2074657374696E67", &mlen);
	uint8_t *t = hex_decode(
		"FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000"
		"0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02"
		"D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4"
		"4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
		"1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8", &tlen);
	assert_int_equal(tlen, mlen + SMB2_TRANSFORM_HDR_SIZE);
	uint8_t out[512];
	assert_int_equal(smb3_encrypt_message(SMB2_ENCRYPTION_AES128_GCM, key, 0x0000100000000025ull, nonce16, m, mlen,
					      out), 0);
	assert_memory_equal(out, t, tlen);
	struct smb2_transform_hdr th;
	assert_int_equal(smb2_transform_decode(t, tlen, &th), STATUS_SUCCESS);
	uint8_t plain[512];
	assert_int_equal(smb3_decrypt_message(SMB2_ENCRYPTION_AES128_GCM, key, t, tlen, plain), 0);
	assert_memory_equal(plain, m, mlen);
	free(m);
	free(t);
}

/* Every cipher: round trip, and any flipped bit in tag, AAD or ciphertext
 * fails; the wrong key fails. */
static void test_round_trip_and_tamper(void **state)
{
	(void)state;
	uint8_t key[32], key2[32];
	for (int i = 0; i < 32; i++) { key[i] = (uint8_t)(i * 7 + 1); key2[i] = (uint8_t)(i * 7 + 2); }
	uint8_t msg[200];
	for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (uint8_t)(i ^ 0x5a);
	put_le32(msg, SMB2_PROTOCOL_ID);
	for (size_t ci = 0; ci < 4; ci++) {
		uint16_t c = all_ciphers[ci];
		assert_true(smb3_cipher_key_len(c) == 16 || smb3_cipher_key_len(c) == 32);
		assert_int_equal(smb3_cipher_nonce_len(c), (c == SMB2_ENCRYPTION_AES128_GCM || c == SMB2_ENCRYPTION_AES256_GCM) ? 12 : 11);
		uint8_t nonce16[16] = { 0 };
		nonce16[0] = (uint8_t)ci;
		uint8_t t[SMB2_TRANSFORM_HDR_SIZE + sizeof(msg)], plain[sizeof(msg)];
		assert_int_equal(smb3_encrypt_message(c, key, 77, nonce16, msg, sizeof(msg), t), 0);
		struct smb2_transform_hdr th;
		assert_int_equal(smb2_transform_decode(t, sizeof(t), &th), STATUS_SUCCESS);
		assert_int_equal(smb3_decrypt_message(c, key, t, sizeof(t), plain), 0);
		assert_memory_equal(plain, msg, sizeof(msg));
		assert_int_equal(smb3_decrypt_message(c, key2, t, sizeof(t), plain), -1);
		static const size_t flips[] = { 4, 19, 20, 35, 36, 42, 44, 51, 52, 100, sizeof(t) - 1 };
		for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
			t[flips[f]] ^= 0x10;
			assert_int_equal(smb3_decrypt_message(c, key, t, sizeof(t), plain), -1);
			t[flips[f]] ^= 0x10;
		}
		/* A 128-bit cipher key must not decrypt a 256-bit one's message. */
		if (smb3_cipher_key_len(c) == 32) {
			uint16_t c128 = c == SMB2_ENCRYPTION_AES256_GCM ? SMB2_ENCRYPTION_AES128_GCM : SMB2_ENCRYPTION_AES128_CCM;
			assert_int_equal(smb3_decrypt_message(c128, key, t, sizeof(t), plain), -1);
		}
	}
	/* Unknown cipher ids are refused. */
	uint8_t t[SMB2_TRANSFORM_HDR_SIZE + 64], nonce16[16] = { 0 };
	assert_int_equal(smb3_encrypt_message(0, key, 1, nonce16, msg, 64, t), -1);
	assert_int_equal(smb3_encrypt_message(5, key, 1, nonce16, msg, 64, t), -1);
	assert_null(smb3_cipher_name(0));
	assert_string_equal(smb3_cipher_name(SMB2_ENCRYPTION_AES256_GCM), "AES-256-GCM");
}

/* Malformed transform headers (MS-SMB2 3.3.5.2.1.1). */
static void test_transform_decode_malformed(void **state)
{
	(void)state;
	uint8_t buf[SMB2_TRANSFORM_HDR_SIZE + 64];
	struct smb2_transform_hdr h = { .original_size = 64, .flags = 1, .session_id = 5 };
	smb2_transform_encode(buf, &h);
	struct smb2_transform_hdr d;
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_SUCCESS);
	assert_int_equal(d.original_size, 64);
	assert_true(d.session_id == 5);
	/* Every truncation, including the bare header, is refused. */
	for (size_t n = 0; n <= SMB2_TRANSFORM_HDR_SIZE; n++)
		assert_int_equal(smb2_transform_decode(buf, n, &d), STATUS_INVALID_PARAMETER);
	assert_int_equal(smb2_transform_decode(NULL, 100, &d), STATUS_INVALID_PARAMETER);
	/* Size mismatch both ways. */
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf) - 1, &d), STATUS_INVALID_PARAMETER);
	put_le32(buf + 36, 63);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le32(buf + 36, 0xFFFFFFFFu);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le32(buf + 36, 64);
	/* Smaller than an SMB2 header once decrypted. */
	put_le32(buf + 36, 10);
	assert_int_equal(smb2_transform_decode(buf, SMB2_TRANSFORM_HDR_SIZE + 10, &d), STATUS_INVALID_PARAMETER);
	put_le32(buf + 36, 64);
	/* Flags other than 1. */
	put_le16(buf + 42, 0);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le16(buf + 42, 2);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le16(buf + 42, 1);
	/* Wrong protocol id (an SMB2 or compressed header). */
	put_le32(buf, SMB2_PROTOCOL_ID);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le32(buf, 0x424D53FCu);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
	put_le32(buf, SMB2_TRANSFORM_ID);
	/* SessionId 0 names no session. */
	put_le64(buf + 44, 0);
	assert_int_equal(smb2_transform_decode(buf, sizeof(buf), &d), STATUS_INVALID_PARAMETER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smb300_keys_and_decrypt),
		cmocka_unit_test(test_smb300_ccm_ciphertext),
		cmocka_unit_test(test_smb311_gcm_message),
		cmocka_unit_test(test_round_trip_and_tamper),
		cmocka_unit_test(test_transform_decode_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
