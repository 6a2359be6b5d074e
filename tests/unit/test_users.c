/* Unit tests for src/server/users.c: the user database and the NT hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"
#include "test_files.h"

struct fixture {
	char dir[64];
	char db[128];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/smbkit-test-users-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db, sizeof(fx->db), "%s/users", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	unlink(fx->db);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* A users file, private as the real ones are. */
static void write_users_file(const char *path, const char *text)
{
	write_file(path, text);
	chmod(path, 0600);
}

/* MS-NLMP 4.2.2.1.2: NTOWFv1 of the password "Password". */
static void test_nt_hash_nlmp_vector(void **state)
{
	(void)state;
	static const uint8_t want[16] = {
		0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
		0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52,
	};
	uint8_t got[16];
	nt_hash_password("Password", got);
	assert_memory_equal(got, want, 16);

	/* Well-known NT hash of the empty password (MD4 of no bytes). */
	static const uint8_t empty[16] = {
		0x31, 0xd6, 0xcf, 0xe0, 0xd1, 0x6a, 0xe9, 0x31,
		0xb7, 0x3c, 0x59, 0xd7, 0xe0, 0xc0, 0x89, 0xc0,
	};
	nt_hash_password("", got);
	assert_memory_equal(got, empty, 16);

	/* Non-ASCII passwords go through UTF-16LE, so they differ from their
	 * Latin-1 bytes and are stable. */
	uint8_t a[16], b[16];
	nt_hash_password("p\xc3\xa4ssw\xc3\xb6rd", a);
	nt_hash_password("p\xc3\xa4ssw\xc3\xb6rd", b);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, want, 16);
}

static void test_round_trip(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct smbd_user in[3] = {
		{ .name = "alice", .unix_name = "alice" },
		{ .name = "Bob", .unix_name = "robert" },
		{ .name = "J\xc3\xbcrgen", .unix_name = "juergen" },
	};
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 16; b++) in[i].nt_hash[b] = (uint8_t)(i * 16 + b * 7 + 1);

	mode_t old_umask = umask(0);   /* the file must be 0600 regardless */
	int rc = userdb_save(fx->db, in, 3, err, sizeof(err));
	umask(old_umask);
	if (rc != 0) fail_msg("%s", err);

	struct stat st;
	assert_int_equal(stat(fx->db, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	struct smbd_user *out = NULL;
	size_t n = 0;
	if (userdb_load(fx->db, &out, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(out[i].name, in[i].name);
		assert_string_equal(out[i].unix_name, in[i].unix_name);
		assert_memory_equal(out[i].nt_hash, in[i].nt_hash, 16);
	}

	/* Saving again replaces the file atomically and keeps mode 0600 even
	 * when someone loosened it. */
	chmod(fx->db, 0644);
	if (userdb_save(fx->db, out, 2, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(stat(fx->db, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	userdb_free(out, n);
	if (userdb_load(fx->db, &out, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(n, 2);
	userdb_free(out, n);

	/* An empty database is valid. */
	if (userdb_save(fx->db, NULL, 0, err, sizeof(err)) != 0) fail_msg("%s", err);
	if (userdb_load(fx->db, &out, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(n, 0);
	userdb_free(out, n);

	/* No temporary files left behind. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", fx->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_comments_and_case(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	write_users_file(fx->db,
		   "# comment\n"
		   "\n"
		   "   \n"
		   "  # indented comment\n"
		   "alice:alice:A4F49C406510BDCAB6824EE7C30FD852\r\n"
		   "bob:bob:a4f49c406510bdcab6824ee7c30fd852");   /* no final newline */
	struct smbd_user *u;
	size_t n;
	if (userdb_load(fx->db, &u, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(n, 2);
	assert_int_equal(u[0].nt_hash[0], 0xa4);
	assert_int_equal(u[0].nt_hash[15], 0x52);
	assert_memory_equal(u[0].nt_hash, u[1].nt_hash, 16);
	userdb_free(u, n);
}

static void expect_load_error(struct fixture *fx, const char *text, int line, const char *tail)
{
	char err[512] = "", want[512];
	struct smbd_user *u = (struct smbd_user *)1;
	size_t n = 99;
	write_users_file(fx->db, text);
	assert_int_equal(userdb_load(fx->db, &u, &n, err, sizeof(err)), -1);
	assert_null(u);
	assert_int_equal(n, 0);
	snprintf(want, sizeof(want), "%s:%d: %s", fx->db, line, tail);
	if (strncmp(err, want, strlen(want)) != 0) fail_msg("got  '%s'\nwant '%s...'", err, want);
}

static void test_bad_lines(void **state)
{
	struct fixture *fx = *state;
	const char *good = "alice:alice:a4f49c406510bdcab6824ee7c30fd852\n";
	char text[512];

	snprintf(text, sizeof(text), "%s# c\nbob:bob\n", good);
	expect_load_error(fx, text, 3, "expected name:unix_name:hash");
	snprintf(text, sizeof(text), "%sbob:bob:a4f49c406510bdcab6824ee7c30fd85\n", good);
	expect_load_error(fx, text, 2, "the hash must be 32 hexadecimal digits");
	snprintf(text, sizeof(text), "%sbob:bob:a4f49c406510bdcab6824ee7c30fd85g\n", good);
	expect_load_error(fx, text, 2, "the hash must be 32 hexadecimal digits");
	snprintf(text, sizeof(text), "%s:bob:a4f49c406510bdcab6824ee7c30fd852\n", good);
	expect_load_error(fx, text, 2, "user name is empty");
	snprintf(text, sizeof(text), "%sbob::a4f49c406510bdcab6824ee7c30fd852\n", good);
	expect_load_error(fx, text, 2, "Unix user name is empty");
	snprintf(text, sizeof(text), "%sa:b:c:a4f49c406510bdcab6824ee7c30fd852\n", good);
	expect_load_error(fx, text, 2, "expected name:unix_name:hash");
	snprintf(text, sizeof(text), "%sALICE:x:a4f49c406510bdcab6824ee7c30fd852\n", good);
	expect_load_error(fx, text, 2, "user 'ALICE' is listed twice");
	snprintf(text, sizeof(text), "%sb\xff:b:a4f49c406510bdcab6824ee7c30fd852\n", good);
	expect_load_error(fx, text, 2, "user name is not valid UTF-8");

	char err[512];
	struct smbd_user *u;
	size_t n;
	assert_int_equal(userdb_load("/nonexistent/users", &u, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/users: No such file or directory");
}

static void test_save_rejects_bad_names(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct smbd_user bad[1] = { { .name = "a:b", .unix_name = "a" } };
	assert_int_equal(userdb_save(fx->db, bad, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "user name 'a:b' contains ':'");
	assert_int_not_equal(access(fx->db, F_OK), 0);   /* nothing written */
	struct smbd_user bad2[1] = { { .name = "a", .unix_name = "x\ny" } };
	assert_int_equal(userdb_save(fx->db, bad2, 1, err, sizeof(err)), -1);
}

int main(void)
{
	log_current_level = LOG_LVL_ERROR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nt_hash_nlmp_vector),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_and_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_rejects_bad_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
