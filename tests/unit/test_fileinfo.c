/* Unit tests for the MS-FSCC information class encoders/decoders and the
 * QUERY_INFO / SET_INFO wire codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/acl.h"
#include "wire/fileinfo.h"
#include "wire/query_info.h"
#include "wire/set_info.h"

static struct fileinfo_stat sample(void)
{
	struct fileinfo_stat s = {
		.creation_time = 0x0102030405060708ull, .last_access_time = 2, .last_write_time = 3,
		.change_time = 4, .allocation_size = 4096, .end_of_file = 1000,
		.attributes = FILE_ATTRIBUTE_ARCHIVE, .nlink = 1, .file_id = 0x1122334455667788ull,
		.access_flags = 0x001F01FF, .position = 7, .mode = 0x20, .name = "\\dir\\file.txt",
	};
	return s;
}

static void test_fixed_sizes(void **state)
{
	(void)state;
	struct fileinfo_stat s = sample();
	struct {
		void (*fn)(struct wbuf *, const struct fileinfo_stat *);
		uint8_t cls;
		size_t size;
	} cases[] = {
		{ fileinfo_basic_encode, FSCC_FILE_BASIC_INFORMATION, 40 },
		{ fileinfo_standard_encode, FSCC_FILE_STANDARD_INFORMATION, 24 },
		{ fileinfo_internal_encode, FSCC_FILE_INTERNAL_INFORMATION, 8 },
		{ fileinfo_ea_encode, FSCC_FILE_EA_INFORMATION, 4 },
		{ fileinfo_access_encode, FSCC_FILE_ACCESS_INFORMATION, 4 },
		{ fileinfo_position_encode, FSCC_FILE_POSITION_INFORMATION, 8 },
		{ fileinfo_mode_encode, FSCC_FILE_MODE_INFORMATION, 4 },
		{ fileinfo_alignment_encode, FSCC_FILE_ALIGNMENT_INFORMATION, 4 },
		{ fileinfo_network_open_encode, FSCC_FILE_NETWORK_OPEN_INFORMATION, 56 },
		{ fileinfo_attribute_tag_encode, FSCC_FILE_ATTRIBUTE_TAG_INFORMATION, 8 },
		{ fileinfo_compression_encode, FSCC_FILE_COMPRESSION_INFORMATION, 16 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wbuf w;
		wbuf_init(&w, 0);
		cases[i].fn(&w, &s);
		assert_false(w.err);
		assert_int_equal(w.len, cases[i].size);
		assert_int_equal(fileinfo_min_size(cases[i].cls), cases[i].size);
		assert_false(fileinfo_is_variable(cases[i].cls));
		wbuf_free(&w);
	}
}

static void test_basic_layout(void **state)
{
	(void)state;
	struct fileinfo_stat s = sample();
	struct wbuf w;
	wbuf_init(&w, 0);
	fileinfo_basic_encode(&w, &s);
	assert_int_equal(get_le64(w.p), 0x0102030405060708ull);
	assert_int_equal(get_le64(w.p + 24), 4);
	assert_int_equal(get_le32(w.p + 32), FILE_ATTRIBUTE_ARCHIVE);
	assert_int_equal(get_le32(w.p + 36), 0);
	wbuf_free(&w);

	wbuf_init(&w, 0);
	s.is_dir = true;
	s.delete_pending = true;
	s.nlink = 3;
	fileinfo_standard_encode(&w, &s);
	assert_int_equal(get_le64(w.p), 4096);
	assert_int_equal(get_le64(w.p + 8), 1000);
	assert_int_equal(get_le32(w.p + 16), 3);
	assert_int_equal(w.p[20], 1);
	assert_int_equal(w.p[21], 1);
	wbuf_free(&w);
}

static void test_all_information(void **state)
{
	(void)state;
	struct fileinfo_stat s = sample();
	struct wbuf w;
	wbuf_init(&w, 0);
	assert_int_equal(fileinfo_all_encode(&w, &s), 0);
	size_t name_bytes = 2 * strlen(s.name);
	assert_int_equal(w.len, 100 + name_bytes);
	/* Offsets of the embedded structures (MS-FSCC 2.4.2). */
	assert_int_equal(get_le64(w.p + 40), 4096);                  /* Standard.AllocationSize */
	assert_int_equal(get_le64(w.p + 64), 0x1122334455667788ull); /* Internal.IndexNumber */
	assert_int_equal(get_le32(w.p + 76), 0x001F01FF);            /* Access.AccessFlags */
	assert_int_equal(get_le64(w.p + 80), 7);                     /* Position */
	assert_int_equal(get_le32(w.p + 88), 0x20);                  /* Mode */
	assert_int_equal(get_le32(w.p + 96), name_bytes);            /* FileNameLength */
	assert_int_equal(w.p[100], '\\');
	assert_int_equal(w.p[101], 0);
	assert_true(fileinfo_is_variable(FSCC_FILE_ALL_INFORMATION));
	assert_int_equal(fileinfo_min_size(FSCC_FILE_ALL_INFORMATION), 104);
	wbuf_free(&w);
}

static void test_stream_information(void **state)
{
	(void)state;
	struct fileinfo_stat s = sample();
	struct wbuf w;
	wbuf_init(&w, 0);
	fileinfo_stream_encode(&w, &s);
	assert_int_equal(w.len, 24 + 14);
	assert_int_equal(get_le32(w.p), 0);
	assert_int_equal(get_le32(w.p + 4), 14);
	assert_int_equal(get_le64(w.p + 8), 1000);
	assert_memory_equal(w.p + 24, ":\0:\0$\0D\0A\0T\0A\0", 14);
	wbuf_free(&w);

	s.is_dir = true;
	wbuf_init(&w, 0);
	fileinfo_stream_encode(&w, &s);
	assert_int_equal(w.len, 0);
	wbuf_free(&w);
}

static void test_fs_classes(void **state)
{
	(void)state;
	struct fsinfo_stat f = { .volume_serial = 0xABCD, .volume_label = "test", .total_units = 100,
				 .caller_avail_units = 50, .actual_avail_units = 60,
				 .sectors_per_unit = 8, .bytes_per_sector = 512,
				 .fs_attributes = FILE_CASE_PRESERVED_NAMES, .max_component_len = 255,
				 .fs_name = "NTFS" };
	struct wbuf w;
	wbuf_init(&w, 0);
	assert_int_equal(fsinfo_volume_encode(&w, &f), 0);
	assert_int_equal(w.len, 18 + 8);
	assert_int_equal(get_le32(w.p + 8), 0xABCD);
	assert_int_equal(get_le32(w.p + 12), 8);
	wbuf_free(&w);

	wbuf_init(&w, 0);
	assert_int_equal(fsinfo_attribute_encode(&w, &f), 0);
	assert_int_equal(w.len, 12 + 8);
	assert_int_equal(get_le32(w.p + 4), 255);
	assert_int_equal(get_le32(w.p + 8), 8);
	assert_memory_equal(w.p + 12, "N\0T\0F\0S\0", 8);
	wbuf_free(&w);

	struct {
		void (*fn)(struct wbuf *, const struct fsinfo_stat *);
		uint8_t cls;
		size_t size;
	} cases[] = {
		{ fsinfo_size_encode, FSCC_FS_SIZE_INFORMATION, 24 },
		{ fsinfo_device_encode, FSCC_FS_DEVICE_INFORMATION, 8 },
		{ fsinfo_control_encode, FSCC_FS_CONTROL_INFORMATION, 48 },
		{ fsinfo_full_size_encode, FSCC_FS_FULL_SIZE_INFORMATION, 32 },
		{ fsinfo_objectid_encode, FSCC_FS_OBJECTID_INFORMATION, 64 },
		{ fsinfo_sector_size_encode, FSCC_FS_SECTOR_SIZE_INFORMATION, 28 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wbuf_init(&w, 0);
		cases[i].fn(&w, &f);
		assert_int_equal(w.len, cases[i].size);
		assert_int_equal(fsinfo_min_size(cases[i].cls), cases[i].size);
		wbuf_free(&w);
	}
	wbuf_init(&w, 0);
	fsinfo_full_size_encode(&w, &f);
	assert_int_equal(get_le64(w.p + 8), 50);
	assert_int_equal(get_le64(w.p + 16), 60);
	assert_int_equal(get_le32(w.p + 24), 8);
	wbuf_free(&w);
}

static void test_short_name(void **state)
{
	(void)state;
	char out[13];
	fileinfo_short_name("bufsize.txt", out);
	assert_string_equal(out, "BUFSIZE.TXT");
	fileinfo_short_name("testsmb2_file.dat", out);
	assert_int_equal(strlen(out), 12);
	assert_int_equal(out[6], '~');
	assert_string_equal(out + 8, ".DAT");
	fileinfo_short_name("a.b.c.d", out);
	assert_true(strchr(out, '~') != NULL);
	fileinfo_short_name("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", out);
	assert_true(strlen(out) <= 12);
	fileinfo_short_name("noext_but_long_name", out);
	assert_true(strlen(out) == 8);
}

static void test_decoders(void **state)
{
	(void)state;
	uint8_t buf[64];
	memset(buf, 0, sizeof(buf));
	struct fileinfo_basic_set b;
	assert_int_equal(fileinfo_basic_decode(buf, 39, &b), STATUS_INFO_LENGTH_MISMATCH);
	put_le64(buf + 16, 1234);
	put_le32(buf + 32, FILE_ATTRIBUTE_HIDDEN);
	assert_int_equal(fileinfo_basic_decode(buf, 40, &b), STATUS_SUCCESS);
	assert_int_equal(b.last_write_time, 1234);
	assert_int_equal(b.attributes, FILE_ATTRIBUTE_HIDDEN);

	struct fileinfo_rename_set r;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fileinfo_rename_decode(buf, 23, &r), STATUS_INFO_LENGTH_MISMATCH);
	buf[0] = 1;
	put_le32(buf + 16, 6);
	memcpy(buf + 20, "a\0b\0c\0", 6);
	assert_int_equal(fileinfo_rename_decode(buf, 26, &r), STATUS_SUCCESS);
	assert_true(r.replace_if_exists);
	assert_int_equal(r.name_len, 6);
	assert_ptr_equal(r.name, buf + 20);
	/* Name longer than the buffer, odd lengths, huge lengths. */
	assert_int_equal(fileinfo_rename_decode(buf, 25, &r), STATUS_INVALID_PARAMETER);
	put_le32(buf + 16, 5);
	assert_int_equal(fileinfo_rename_decode(buf, 26, &r), STATUS_INVALID_PARAMETER);
	put_le32(buf + 16, 0xFFFFFFFEu);
	assert_int_equal(fileinfo_rename_decode(buf, 64, &r), STATUS_INVALID_PARAMETER);

	uint8_t u8; uint32_t u32; uint64_t u64;
	assert_int_equal(fileinfo_u8_decode(buf, 0, &u8), STATUS_INFO_LENGTH_MISMATCH);
	assert_int_equal(fileinfo_u32_decode(buf, 3, &u32), STATUS_INFO_LENGTH_MISMATCH);
	assert_int_equal(fileinfo_u64_decode(buf, 7, &u64), STATUS_INFO_LENGTH_MISMATCH);
	put_le64(buf, 0x55);
	assert_int_equal(fileinfo_u64_decode(buf, 8, &u64), STATUS_SUCCESS);
	assert_int_equal(u64, 0x55);
}

static void test_security_descriptor(void **state)
{
	(void)state;
	struct posix_sd_input in = { .uid = 1000, .gid = 100, .mode = 0100644, .is_dir = false };
	struct wbuf w;
	wbuf_init(&w, 0);
	security_desc_encode(&w, &in, OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
				      DACL_SECURITY_INFORMATION);
	assert_false(w.err);
	assert_int_equal(w.p[0], 1);
	assert_int_equal(get_le16(w.p + 2), 0x8004);
	uint32_t owner = get_le32(w.p + 4), group = get_le32(w.p + 8), dacl = get_le32(w.p + 16);
	assert_int_equal(owner, 20);
	assert_int_equal(get_le32(w.p + 12), 0);
	/* S-1-22-1-1000 */
	assert_int_equal(w.p[owner + 1], 2);
	assert_int_equal(w.p[owner + 7], 22);
	assert_int_equal(get_le32(w.p + owner + 8), 1);
	assert_int_equal(get_le32(w.p + owner + 12), 1000);
	assert_int_equal(get_le32(w.p + group + 8), 2);
	assert_int_equal(get_le32(w.p + group + 12), 100);
	/* 0644: owner, group and Everyone each get an ACE. */
	assert_int_equal(w.p[dacl], 2);
	assert_int_equal(get_le16(w.p + dacl + 4), 3);
	assert_int_equal(dacl + get_le16(w.p + dacl + 2), w.len);
	struct acl_sd parsed;
	assert_int_equal(acl_sd_parse(w.p, w.len, &parsed), STATUS_SUCCESS);
	wbuf_free(&w);

	/* Nothing asked: a bare 20-byte header. */
	wbuf_init(&w, 0);
	security_desc_encode(&w, &in, 0);
	assert_int_equal(w.len, 20);
	wbuf_free(&w);

	/* Mode 0600: no group/Everyone ACEs. */
	in.mode = 0100600;
	wbuf_init(&w, 0);
	security_desc_encode(&w, &in, DACL_SECURITY_INFORMATION);
	dacl = get_le32(w.p + 16);
	assert_int_equal(get_le16(w.p + dacl + 4), 1);
	/* Corrupt: DACL offset beyond the end. */
	put_le32(w.p + 16, (uint32_t)w.len);
	assert_int_equal(acl_sd_parse(w.p, w.len, &parsed), STATUS_INVALID_PARAMETER);
	wbuf_free(&w);
	/* parse/build round trip, and selecting parts. */
	in.mode = 0100755;
	wbuf_init(&w, 0);
	security_desc_encode(&w, &in, 7);
	struct acl_sd parts;
	assert_int_equal(acl_sd_parse(w.p, w.len, &parts), STATUS_SUCCESS);
	assert_int_equal(parts.owner_len, 16);
	assert_true(parts.control & SE_DACL_PRESENT);
	struct wbuf w2;
	wbuf_init(&w2, 0);
	acl_sd_write(&w2, parts.control, parts.owner, parts.owner_len, parts.group, parts.group_len, parts.dacl,
		     parts.dacl_len);
	/* The same SD (acl_sd_write may lay the parts out in another order). */
	assert_int_equal(w2.len, w.len);
	struct acl_sd again;
	assert_int_equal(acl_sd_parse(w2.p, w2.len, &again), STATUS_SUCCESS);
	assert_int_equal(again.control, parts.control);
	assert_int_equal(again.owner_len, parts.owner_len);
	assert_memory_equal(again.owner, parts.owner, parts.owner_len);
	assert_int_equal(again.group_len, parts.group_len);
	assert_memory_equal(again.group, parts.group, parts.group_len);
	assert_int_equal(again.dacl_len, parts.dacl_len);
	assert_memory_equal(again.dacl, parts.dacl, parts.dacl_len);
	wbuf_free(&w2);
	wbuf_init(&w2, 0);
	acl_sd_write(&w2, parts.control, NULL, 0, NULL, 0, parts.dacl, parts.dacl_len);
	assert_int_equal(get_le32(w2.p + 4), 0);
	assert_int_equal(get_le32(w2.p + 16), 20);
	assert_int_equal(w2.len, 20 + parts.dacl_len);
	wbuf_free(&w2);
	wbuf_free(&w);
	uint8_t junk[4] = { 1, 0, 0, 0x80 };
	assert_int_equal(acl_sd_parse(junk, sizeof(junk), &parts), STATUS_INVALID_PARAMETER);
}

/* A QUERY_INFO request: 64-byte header + 40-byte body + input. */
static size_t build_query(uint8_t *msg, uint16_t in_off, uint32_t in_len)
{
	memset(msg, 0, 128);
	put_le32(msg, SMB2_PROTOCOL_ID);
	put_le16(msg + 4, 64);
	uint8_t *b = msg + 64;
	put_le16(b, 41);
	b[2] = SMB2_0_INFO_FILE;
	b[3] = FSCC_FILE_ALL_INFORMATION;
	put_le32(b + 4, 4096);
	put_le16(b + 8, in_off);
	put_le32(b + 12, in_len);
	put_le32(b + 16, 7);
	put_le64(b + 24, 0xAA);
	put_le64(b + 32, 0xBB);
	return 64 + 40 + 8;
}

static void test_query_info_codec(void **state)
{
	(void)state;
	uint8_t msg[128];
	struct smb2_query_info_req q;
	size_t len = build_query(msg, 0, 0);
	assert_int_equal(smb2_query_info_req_decode(msg, len, &q), STATUS_SUCCESS);
	assert_int_equal(q.info_type, SMB2_0_INFO_FILE);
	assert_int_equal(q.file_info_class, FSCC_FILE_ALL_INFORMATION);
	assert_int_equal(q.output_buffer_length, 4096);
	assert_int_equal(q.additional_information, 7);
	assert_int_equal(q.persistent_id, 0xAA);
	assert_int_equal(q.volatile_id, 0xBB);
	assert_null(q.input);

	len = build_query(msg, 104, 8);
	assert_int_equal(smb2_query_info_req_decode(msg, len, &q), STATUS_SUCCESS);
	assert_ptr_equal(q.input, msg + 104);
	len = build_query(msg, 104, 9);
	assert_int_equal(smb2_query_info_req_decode(msg, len, &q), STATUS_INVALID_PARAMETER);
	len = build_query(msg, 0xFFFF, 8);
	assert_int_equal(smb2_query_info_req_decode(msg, len, &q), STATUS_INVALID_PARAMETER);
	len = build_query(msg, 0, 0);
	assert_int_equal(smb2_query_info_req_decode(msg, 100, &q), STATUS_INVALID_PARAMETER);
	put_le16(msg + 64, 40);
	assert_int_equal(smb2_query_info_req_decode(msg, len, &q), STATUS_INVALID_PARAMETER);

	struct wbuf w;
	wbuf_init(&w, 0);
	wbuf_zero(&w, 64);
	uint8_t data[3] = { 1, 2, 3 };
	struct smb2_query_info_rsp rsp = { .data = data, .len = 3 };
	smb2_query_info_rsp_encode(&w, 0, &rsp);
	assert_int_equal(w.len, 64 + 8 + 3);
	assert_int_equal(get_le16(w.p + 64), 9);
	assert_int_equal(get_le16(w.p + 66), 72);
	assert_int_equal(get_le32(w.p + 68), 3);
	wbuf_free(&w);
}

static void test_set_info_codec(void **state)
{
	(void)state;
	uint8_t msg[128];
	memset(msg, 0, sizeof(msg));
	put_le32(msg, SMB2_PROTOCOL_ID);
	put_le16(msg + 4, 64);
	uint8_t *b = msg + 64;
	put_le16(b, 33);
	b[2] = SMB2_0_INFO_FILE;
	b[3] = FSCC_FILE_END_OF_FILE_INFORMATION;
	put_le32(b + 4, 8);
	put_le16(b + 8, 96);
	put_le64(b + 16, 1);
	put_le64(b + 24, 2);
	put_le64(msg + 96, 12345);
	struct smb2_set_info_req s;
	assert_int_equal(smb2_set_info_req_decode(msg, 104, &s), STATUS_SUCCESS);
	assert_int_equal(s.buffer_len, 8);
	assert_ptr_equal(s.buffer, msg + 96);
	assert_int_equal(s.persistent_id, 1);
	assert_int_equal(s.volatile_id, 2);
	assert_int_equal(smb2_set_info_req_decode(msg, 103, &s), STATUS_INVALID_PARAMETER);
	put_le16(b + 8, 20);
	assert_int_equal(smb2_set_info_req_decode(msg, 104, &s), STATUS_INVALID_PARAMETER);
	put_le16(b + 8, 96);
	put_le32(b + 4, 0xFFFFFFFFu);
	assert_int_equal(smb2_set_info_req_decode(msg, 104, &s), STATUS_INVALID_PARAMETER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_sizes),
		cmocka_unit_test(test_basic_layout),
		cmocka_unit_test(test_all_information),
		cmocka_unit_test(test_stream_information),
		cmocka_unit_test(test_fs_classes),
		cmocka_unit_test(test_short_name),
		cmocka_unit_test(test_decoders),
		cmocka_unit_test(test_security_descriptor),
		cmocka_unit_test(test_query_info_codec),
		cmocka_unit_test(test_set_info_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
