/* Stream-name parsing, EA names and the EA / stream list encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "server/vfs.h"
#include "wire/fileinfo.h"
#include "wire/ntstatus.h"

static void split_ok(const char *in, const char *file, const char *stream)
{
	char *f = NULL, *s = NULL;
	assert_int_equal(vfs_split_stream(in, &f, &s), STATUS_SUCCESS);
	assert_string_equal(f, file);
	if (stream) assert_string_equal(s, stream);
	else assert_null(s);
	free(f);
	free(s);
}

static void split_bad(const char *in)
{
	char *f = NULL, *s = NULL;
	assert_int_equal(vfs_split_stream(in, &f, &s), STATUS_OBJECT_NAME_INVALID);
	assert_null(f);
	assert_null(s);
}

static void test_split_stream(void **state)
{
	(void)state;
	split_ok("dir\\file.txt", "dir\\file.txt", NULL);
	split_ok("file.txt:Stream One", "file.txt", "Stream One");
	split_ok("d\\file.txt:Second Stream:$DaTa", "d\\file.txt", "Second Stream");
	split_ok("file.txt::$DATA", "file.txt", "");
	split_ok("file.txt:*?<>|\"\x01:$DATA", "file.txt", "*?<>|\"\x01");
	split_bad("file.txt:");
	split_bad("file.txt:s:");
	split_bad("file.txt:s:$FOO");
	split_bad("file.txt::$INDEX_ALLOCATION");
	split_bad("file.txt:s:$DATA:x");
	/* A ':' in a directory component is left for vfs_normalize_path. */
	char *f = NULL, *s = NULL;
	assert_int_equal(vfs_split_stream("a:b\\c", &f, &s), STATUS_SUCCESS);
	char *rel = NULL;
	assert_int_equal(vfs_normalize_path(f, &rel), STATUS_OBJECT_NAME_INVALID);
	free(f);
	free(s);
}

static void test_stream_name_valid(void **state)
{
	(void)state;
	assert_true(vfs_stream_name_valid("x"));
	assert_true(vfs_stream_name_valid(".."));  /* stored as "s_..": harmless */
	assert_false(vfs_stream_name_valid(""));
	assert_false(vfs_stream_name_valid("a/b"));
	assert_false(vfs_stream_name_valid("..\\..\\etc"));
	assert_false(vfs_stream_name_valid("a:b"));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_false(vfs_stream_name_valid(longname));
}

static void test_reserved_dir(void **state)
{
	(void)state;
	char *rel = NULL;
	assert_int_equal(vfs_normalize_path(".smbkit-streams", &rel), STATUS_OBJECT_NAME_NOT_FOUND);
	assert_int_equal(vfs_normalize_path(".SMBKIT-Streams\\abc", &rel), STATUS_OBJECT_PATH_NOT_FOUND);
	assert_int_equal(vfs_normalize_path("x\\.smbkit-streams", &rel), STATUS_OBJECT_NAME_NOT_FOUND);
	assert_int_equal(vfs_normalize_path(".smbkit-streamsX", &rel), STATUS_SUCCESS);
	free(rel);
}

static void test_ea_name_valid(void **state)
{
	(void)state;
	assert_true(vfs_ea_name_valid("USER.FOO", 8));
	assert_true(vfs_ea_name_valid("...", 3));
	assert_false(vfs_ea_name_valid("", 0));
	assert_false(vfs_ea_name_valid("a/b", 3));
	assert_false(vfs_ea_name_valid("a\\b", 3));
	assert_false(vfs_ea_name_valid("a:b", 3));
	assert_false(vfs_ea_name_valid("a*", 2));
	assert_false(vfs_ea_name_valid("a\x01", 2));
	assert_false(vfs_ea_name_valid("\xc3\xa4", 2));
	char n[256];
	memset(n, 'A', sizeof(n));
	assert_false(vfs_ea_name_valid(n, VFS_EA_NAME_MAX + 1));
	assert_true(vfs_ea_name_valid(n, VFS_EA_NAME_MAX));
}

static void test_ea_size(void **state)
{
	(void)state;
	struct vfs_ea e[2] = { { (char *)"EA1", 0, (uint8_t *)"x", 1 }, { (char *)"LONGER", 0, (uint8_t *)"12345", 5 } };
	/* 8 + 3 + 1 + 1 = 13 -> 16; 8 + 6 + 1 + 5 = 20 -> 20. */
	assert_int_equal(vfs_ea_size(e, 2), 36);
	assert_int_equal(vfs_ea_size(NULL, 0), 0);
}

static void test_full_ea_roundtrip(void **state)
{
	(void)state;
	struct fileinfo_ea in[3] = {
		{ 0, "EA1", 3, (const uint8_t *)"x", 1 },
		{ FILE_NEED_EA, "SECOND", 6, (const uint8_t *)"12345", 5 },
		{ 0, "E", 1, NULL, 0 },
	};
	struct wbuf w;
	wbuf_init(&w, 64);
	assert_int_equal(fileinfo_full_ea_encode(&w, in, 3, 4096), 3);
	assert_false(w.err);
	/* 16 + 20 + (8 + 1 + 1) unpadded last entry. */
	assert_int_equal(w.len, 46);
	struct fileinfo_ea out[4];
	size_t n;
	assert_int_equal(fileinfo_full_ea_decode(w.p, w.len, out, 4, &n), STATUS_SUCCESS);
	assert_int_equal(n, 3);
	assert_int_equal(out[1].flags, FILE_NEED_EA);
	assert_int_equal(out[1].name_len, 6);
	assert_memory_equal(out[1].name, "SECOND", 6);
	assert_int_equal(out[1].value_len, 5);
	assert_memory_equal(out[1].value, "12345", 5);
	/* Only whole entries within the limit. */
	struct wbuf w2;
	wbuf_init(&w2, 64);
	assert_int_equal(fileinfo_full_ea_encode(&w2, in, 3, 35), 1);
	assert_int_equal(fileinfo_full_ea_encode(&w2, in, 3, 12), 0);
	wbuf_free(&w2);

	/* Malformed: name not NUL-terminated, entry past the end, bad link. */
	uint8_t bad[64];
	memcpy(bad, w.p, w.len);
	bad[8 + 3] = 'Z';
	assert_int_equal(fileinfo_full_ea_decode(bad, w.len, out, 4, &n), STATUS_EA_LIST_INCONSISTENT);
	assert_int_equal(fileinfo_full_ea_decode(w.p, 20, out, 4, &n), STATUS_EA_LIST_INCONSISTENT);
	memcpy(bad, w.p, w.len);
	bad[0] = 3;   /* NextEntryOffset shorter than the entry */
	assert_int_equal(fileinfo_full_ea_decode(bad, w.len, out, 4, &n), STATUS_EA_LIST_INCONSISTENT);
	memcpy(bad, w.p, w.len);
	bad[6] = 0xff; bad[7] = 0xff;   /* value runs past the buffer */
	assert_int_equal(fileinfo_full_ea_decode(bad, w.len, out, 4, &n), STATUS_EA_LIST_INCONSISTENT);
	assert_int_equal(fileinfo_full_ea_decode(w.p, w.len, out, 2, &n), STATUS_EA_LIST_INCONSISTENT);
	wbuf_free(&w);
}

static void test_get_ea_decode(void **state)
{
	(void)state;
	/* Two names: "AB" then "C". */
	uint8_t b[] = { 8, 0, 0, 0, 2, 'A', 'B', 0, 0, 0, 0, 0, 1, 'C', 0 };
	struct fileinfo_ea out[2];
	size_t n;
	assert_int_equal(fileinfo_get_ea_decode(b, sizeof(b), out, 2, &n), STATUS_SUCCESS);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].name_len, 2);
	assert_memory_equal(out[1].name, "C", 1);
	assert_int_equal(fileinfo_get_ea_decode(b, sizeof(b) - 1, out, 2, &n), STATUS_EA_LIST_INCONSISTENT);
	b[0] = 200;
	assert_int_equal(fileinfo_get_ea_decode(b, sizeof(b), out, 2, &n), STATUS_EA_LIST_INCONSISTENT);
}

static void test_streams_encode(void **state)
{
	(void)state;
	struct fileinfo_stream s[2] = { { "::$DATA", 7, 4096 }, { ":ab:$DATA", 1, 4096 } };
	struct wbuf w;
	wbuf_init(&w, 64);
	assert_int_equal(fileinfo_streams_encode(&w, s, 2), 0);
	/* First entry: 24 + 14 = 38 -> next at 40; second 24 + 18 = 42. */
	assert_int_equal(get_le32(w.p), 40);
	assert_int_equal(get_le32(w.p + 4), 14);
	assert_int_equal(get_le64(w.p + 8), 7);
	assert_int_equal(get_le32(w.p + 40), 0);
	assert_int_equal(get_le32(w.p + 44), 18);
	assert_int_equal(w.len, 82);
	wbuf_free(&w);
}

static void test_ea_store(void **state)
{
	(void)state;
	char path[] = "/tmp/smbkit-ea-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	if (vfs_ea_set(fd, "Foo", 0, (const uint8_t *)"v1", 2) == -ENOTSUP) {
		close(fd);
		skip();
	}
	/* Case-insensitive replace keeps one EA, with the new spelling. */
	assert_int_equal(vfs_ea_set(fd, "FOO", 0, (const uint8_t *)"v22", 3), 0);
	struct vfs_ea *e;
	size_t n;
	assert_int_equal(vfs_ea_list(fd, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].name, "FOO");
	assert_int_equal(e[0].value_len, 3);
	vfs_ea_free(e, n);
	/* Names that could reach other namespaces are refused. */
	assert_int_equal(vfs_ea_set(fd, "../sd", 0, (const uint8_t *)"x", 1), -EINVAL);
	/* A zero-length value deletes. */
	assert_int_equal(vfs_ea_set(fd, "foo", 0, NULL, 0), 0);
	assert_int_equal(vfs_ea_list(fd, &e, &n), 0);
	assert_int_equal(n, 0);
	vfs_ea_free(e, n);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_stream),
		cmocka_unit_test(test_stream_name_valid),
		cmocka_unit_test(test_reserved_dir),
		cmocka_unit_test(test_ea_name_valid),
		cmocka_unit_test(test_ea_size),
		cmocka_unit_test(test_full_ea_roundtrip),
		cmocka_unit_test(test_get_ea_decode),
		cmocka_unit_test(test_streams_encode),
		cmocka_unit_test(test_ea_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
