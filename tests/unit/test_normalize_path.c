/* vfs_normalize_path: client path -> share-relative path.  ".." collapses
 * lexically and may never climb above the share root; "." is refused;
 * empty components, stream separators and the reserved stream store are
 * checked on the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/vfs.h"
#include "wire/ntstatus.h"

/* in normalizes to want. */
static void norm_ok(const char *in, const char *want)
{
	char *rel = NULL;
	uint32_t st = vfs_normalize_path(in, &rel);
	if (st != STATUS_SUCCESS) fail_msg("'%s': status 0x%08x, expected success ('%s')", in, st, want);
	assert_non_null(rel);
	if (strcmp(rel, want) != 0) fail_msg("'%s' -> '%s', expected '%s'", in, rel, want);
	free(rel);
}

/* in is refused with want; nothing is returned. */
static void norm_bad(const char *in, uint32_t want)
{
	char *rel = (char *)"untouched";
	uint32_t st = vfs_normalize_path(in, &rel);
	if (st != want) fail_msg("'%s': status 0x%08x, expected 0x%08x", in, st, want);
	assert_null(rel);
}

static void test_plain(void **state)
{
	(void)state;
	norm_ok("", "");
	norm_ok("a", "a");
	norm_ok("dir\\sub\\file.txt", "dir/sub/file.txt");
	norm_ok("dir/sub/file.txt", "dir/sub/file.txt");
	norm_ok("dir\\sub/file.txt", "dir/sub/file.txt");
	/* Names that only look like dots are ordinary names. */
	norm_ok("...", "...");
	norm_ok("a\\...\\b", "a/.../b");
	norm_ok(".hidden\\..x\\x..", ".hidden/..x/x..");
	norm_ok(".. \\x", ".. /x");
}

static void test_collapse(void **state)
{
	(void)state;
	/* smbtorture smb2.notify.tree: "BASEDIR\zqy\.." is BASEDIR itself. */
	norm_ok("test_notify_tree\\zqy\\..", "test_notify_tree");
	norm_ok("dir\\sub\\..\\other", "dir/other");
	norm_ok("dir/sub/../other", "dir/other");
	norm_ok("a\\b\\c\\..\\..\\d", "a/d");
	norm_ok("a\\..\\b\\..\\c", "c");
	norm_ok("a\\b\\..\\..\\c\\d", "c/d");
	/* Back to the share root itself. */
	norm_ok("a\\..", "");
	norm_ok("a\\b\\..\\..", "");
	norm_ok("a\\..\\", "");
	/* Lexical: the removed component need not exist, nor be valid as a
	 * directory; only its spelling matters. */
	norm_ok("nonexistent\\..\\file", "file");
	norm_ok("file.txt\\..\\x", "x");
	/* ".." right after the root, then down again. */
	norm_ok("a\\..\\a\\..\\a", "a");
	/* The longest possible result: nothing removed. */
	norm_ok("x\\..\\yy", "yy");
}

static void test_climb_above_root(void **state)
{
	(void)state;
	/* Windows: OBJECT_PATH_SYNTAX_BAD for "\..", "..\..\.." (smbtorture
	 * raw chkpath) and "dir\..\.." (raw unlink). */
	norm_bad("..", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("..\\", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("\\..", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("\\..\\", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("\\\\..\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("..\\..\\..", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("..\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("../secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("..\\outside\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("a\\..\\..", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("a\\..\\..\\a", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("sub\\..\\..\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("sub/../../secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("sub\\../..\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("a\\b\\..\\..\\..\\b", STATUS_OBJECT_PATH_SYNTAX_BAD);
	/* Going down again afterwards does not undo the climb. */
	norm_bad("a\\..\\..\\share\\a", STATUS_OBJECT_PATH_SYNTAX_BAD);
	norm_bad("..\\.", STATUS_OBJECT_PATH_SYNTAX_BAD);
	/* A deep path climbing one level too many. */
	char deep[4096];
	size_t o = 0;
	for (int k = 0; k < 100; k++) o += (size_t)snprintf(deep + o, sizeof(deep) - o, "d%d\\", k);
	for (int k = 0; k < 101; k++) o += (size_t)snprintf(deep + o, sizeof(deep) - o, "..\\");
	snprintf(deep + o, sizeof(deep) - o, "x");
	norm_bad(deep, STATUS_OBJECT_PATH_SYNTAX_BAD);
	/* ... and one exactly back to the root. */
	o = 0;
	for (int k = 0; k < 100; k++) o += (size_t)snprintf(deep + o, sizeof(deep) - o, "d%d\\", k);
	for (int k = 0; k < 100; k++) o += (size_t)snprintf(deep + o, sizeof(deep) - o, "..\\");
	snprintf(deep + o, sizeof(deep) - o, "x");
	norm_ok(deep, "x");
}

static void test_single_dot(void **state)
{
	(void)state;
	/* "." is not collapsed: refused wherever it stands, also where a
	 * later ".." would have removed it. */
	norm_bad(".", STATUS_OBJECT_NAME_INVALID);
	norm_bad(".\\", STATUS_OBJECT_NAME_INVALID);
	norm_bad("\\\\\\.\\", STATUS_OBJECT_NAME_INVALID);
	norm_bad("dir\\.", STATUS_OBJECT_NAME_INVALID);
	norm_bad("dir\\.\\file", STATUS_OBJECT_NAME_INVALID);
	norm_bad(".\\..\\secret.txt", STATUS_OBJECT_NAME_INVALID);
	norm_bad("sub\\.\\..\\..\\secret.txt", STATUS_OBJECT_NAME_INVALID);
	norm_bad("a\\.\\..", STATUS_OBJECT_NAME_INVALID);
}

static void test_separators(void **state)
{
	(void)state;
	/* Leading separators: share-relative anyway. */
	norm_ok("\\a", "a");
	norm_ok("\\\\a\\b", "a/b");
	norm_ok("/a", "a");
	norm_ok("\\", "");
	/* Trailing separators are dropped, also after a collapse. */
	norm_ok("dir\\", "dir");
	norm_ok("dir\\\\", "dir");
	norm_ok("dir/", "dir");
	norm_ok("a\\b\\..\\", "a");
	norm_ok("a\\b\\..\\\\/", "a");
	/* Empty components inside the path are invalid. */
	norm_bad("a\\\\b", STATUS_OBJECT_NAME_INVALID);
	norm_bad("a//b", STATUS_OBJECT_NAME_INVALID);
	norm_bad("a\\\\..", STATUS_OBJECT_NAME_INVALID);
	norm_bad("a\\..\\\\b", STATUS_OBJECT_NAME_INVALID);
}

static void test_invalid_chars(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"a*b", "a?b", "a<b", "a>b", "a|b", "a\"b", ("a\x01" "b"), "a\x1f", "dir\\*",
		/* The stream was split off the last component before: a ':'
		 * left anywhere is invalid, also in a component ".." removes. */
		"a:b", "a:b\\c", "dir\\a:b\\..\\c", "a:b\\..", "dir\\file:stream",
		/* and so is one in a component that ".." would climb past */
		"a*\\..\\..",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) norm_bad(bad[k], STATUS_OBJECT_NAME_INVALID);
	/* The first problem from the left decides. */
	norm_bad("..\\a*b", STATUS_OBJECT_PATH_SYNTAX_BAD);
	/* 255 bytes is the longest component. */
	char name[300];
	memset(name, 'n', 255);
	name[255] = 0;
	char *rel = NULL;
	assert_int_equal(vfs_normalize_path(name, &rel), STATUS_SUCCESS);
	free(rel);
	memset(name, 'n', 256);
	name[256] = 0;
	norm_bad(name, STATUS_OBJECT_NAME_INVALID);
	/* Too long even when ".." removes it again. */
	char path[320];
	snprintf(path, sizeof(path), "%s\\..\\x", name);
	norm_bad(path, STATUS_OBJECT_NAME_INVALID);
}

static void test_streams(void **state)
{
	(void)state;
	/* What CREATE does: split the stream off, then normalize the file. */
	char *f = NULL, *s = NULL, *rel = NULL;
	assert_int_equal(vfs_split_stream("dir\\sub\\..\\file.txt:alt:$DATA", &f, &s), STATUS_SUCCESS);
	assert_string_equal(s, "alt");
	assert_int_equal(vfs_normalize_path(f, &rel), STATUS_SUCCESS);
	assert_string_equal(rel, "dir/file.txt");
	free(f);
	free(s);
	free(rel);
	/* A stream name holding ".." is one opaque name, never a path. */
	assert_int_equal(vfs_split_stream("file.txt:..", &f, &s), STATUS_SUCCESS);
	assert_string_equal(s, "..");
	assert_int_equal(vfs_normalize_path(f, &rel), STATUS_SUCCESS);
	assert_string_equal(rel, "file.txt");
	free(f);
	free(s);
	free(rel);
	/* "file:s\.." keeps the ':' in a directory component: invalid. */
	assert_int_equal(vfs_split_stream("file:s\\..", &f, &s), STATUS_SUCCESS);
	assert_null(s);
	norm_bad(f, STATUS_OBJECT_NAME_INVALID);
	free(f);
	/* A stream of a file above the root stays refused. */
	assert_int_equal(vfs_split_stream("..\\secret.txt:s", &f, &s), STATUS_SUCCESS);
	norm_bad(f, STATUS_OBJECT_PATH_SYNTAX_BAD);
	free(f);
	free(s);
}

static void test_stream_store(void **state)
{
	(void)state;
	/* The reserved directory is invisible, in any case and however it is
	 * reached. */
	norm_bad(VFS_STREAM_DIR, STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad(".SMBKIT-STREAMS", STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad(".Smbkit-Streams\\", STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad(".smbkit-streams\\0123456789abcdef0123456789abcdef\\s_x", STATUS_OBJECT_PATH_NOT_FOUND);
	norm_bad("sub\\..\\.smbkit-streams", STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad("sub\\..\\.smbkit-streams\\x", STATUS_OBJECT_PATH_NOT_FOUND);
	norm_bad("a\\.smbkit-streams", STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad(".smbkit-streams\\x\\..", STATUS_OBJECT_NAME_NOT_FOUND);
	norm_bad(".smbkit-streams\\x\\..\\", STATUS_OBJECT_NAME_NOT_FOUND);
	/* A name ".." removes again is never looked at: like any directory
	 * that does not exist. */
	norm_ok(".smbkit-streams\\..\\x", "x");
	norm_ok(".smbkit-streams\\..", "");
	/* Similar names are ordinary. */
	norm_ok(".smbkit-streamsX", ".smbkit-streamsX");
	norm_ok("x.smbkit-streams\\a", "x.smbkit-streams/a");
	norm_ok(".smbkit-stream", ".smbkit-stream");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_collapse),
		cmocka_unit_test(test_climb_above_root),
		cmocka_unit_test(test_single_dot),
		cmocka_unit_test(test_separators),
		cmocka_unit_test(test_invalid_chars),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_stream_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
