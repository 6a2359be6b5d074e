/* Unit tests for src/server/config.c: the smb.conf-style parser, command-line
 * shares and config_finalize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_files.h"
#include "server/server.h"

/* A scratch directory with a share root, a config file and a users file. */
struct fixture {
	char dir[64];
	char share_dir[128];
	char conf[128];
	char users[128];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/smbkit-test-config-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->share_dir, sizeof(fx->share_dir), "%s/data", fx->dir);
	snprintf(fx->conf, sizeof(fx->conf), "%s/smb.conf", fx->dir);
	snprintf(fx->users, sizeof(fx->users), "%s/users", fx->dir);
	assert_int_equal(mkdir(fx->share_dir, 0700), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	unlink(fx->conf);
	unlink(fx->users);
	rmdir(fx->share_dir);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Loads text as a config file and expects failure with exactly
 * "CONF:line: <expected_tail...>" (prefix match on the tail). */
static void expect_error(struct fixture *fx, const char *text, int line, const char *tail)
{
	write_file(fx->conf, text);
	char err[512] = "";
	struct smbd_config *c = config_load_file(fx->conf, err, sizeof(err));
	if (c) {
		config_put(c);
		fail_msg("config was accepted, expected error at line %d: %s", line, tail);
	}
	char want[512];
	snprintf(want, sizeof(want), "%s:%d: %s", fx->conf, line, tail);
	if (strncmp(err, want, strlen(want)) != 0) fail_msg("got  '%s'\nwant '%s...'", err, want);
}

static void test_defaults(void **state)
{
	(void)state;
	struct smbd_config *c = config_new_default();
	assert_non_null(c);
	assert_non_null(c->netbios_name);
	assert_true(strlen(c->netbios_name) >= 1 && strlen(c->netbios_name) <= 15);
	for (const char *p = c->netbios_name; *p; p++) {
		assert_false(*p >= 'a' && *p <= 'z');
		assert_int_not_equal(*p, '.');
	}
	assert_string_equal(c->workgroup, "WORKGROUP");
	assert_string_equal(c->server_string, "smbkit");
	assert_string_equal(c->guest_account, "nobody");
	assert_false(c->signing_required);
	assert_int_equal(c->max_connections, 1024);
	assert_int_equal(c->busy_poll_us, 200);
	assert_int_equal(c->max_sessions_per_conn, 64);
	assert_int_equal(c->max_opens_per_conn, 16384);
	assert_int_equal(c->max_io_size, 8 * 1024 * 1024);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_null(c->listen);
	assert_int_equal(c->nshares, 0);
	assert_int_equal(atomic_load(&c->refcount), 1);
	config_put(c);
}

static void test_good_config(void **state)
{
	struct fixture *fx = *state;
	char text[2048];
	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "; another comment\n"
		 "[global]\n"
		 "   NetBIOS Name = fileserver\n"
		 "   workgroup = example\n"
		 "   server string = Test Server\n"
		 "   users file = %s\n"
		 "   guest account = guest\n"
		 "   map to guest = Bad User\n"
		 "   server signing = mandatory\n"
		 "   listen = 127.0.0.1:4455, [::1]:4455 10.0.0.1\n"
		 "   log level = debug\n"
		 "   max connections = 10\n"
		 "   max open files = 100\n"
		 "   max sessions = 5\n"
		 "   busy poll = 0\n"
		 "   max io size = 1048576\n"
		 "\n"
		 "[Data]\n"
		 "   path = %s\n"
		 "   comment = Some data\n"
		 "   writeable = yes\n"
		 "   guest ok = TRUE\n"
		 "   valid users = alice, bob carol\n"
		 "   valid users = dave\n"
		 "   browsable = no\n"
		 "   case sensitive = 1\n"
		 "\n"
		 "[ro]\n"
		 "   path = /\n",
		 fx->users, fx->share_dir);
	write_file(fx->conf, text);
	write_file(fx->users, "alice:alice:a4f49c406510bdcab6824ee7c30fd852\n");
	chmod(fx->users, 0600);

	char err[512] = "";
	struct smbd_config *c = config_load_file(fx->conf, err, sizeof(err));
	if (!c) fail_msg("%s", err);
	assert_string_equal(c->source, fx->conf);
	assert_string_equal(c->netbios_name, "FILESERVER");
	assert_string_equal(c->workgroup, "EXAMPLE");
	assert_string_equal(c->server_string, "Test Server");
	assert_string_equal(c->users_file, fx->users);
	assert_string_equal(c->guest_account, "guest");
	assert_true(c->map_guest);
	assert_true(c->signing_required);
	assert_non_null(c->listen);
	assert_string_equal(c->listen[0], "127.0.0.1:4455");
	assert_string_equal(c->listen[1], "[::1]:4455");
	assert_string_equal(c->listen[2], "10.0.0.1:445");
	assert_null(c->listen[3]);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_int_equal(c->max_connections, 10);
	assert_int_equal(c->max_opens_per_conn, 100);
	assert_int_equal(c->busy_poll_us, 0);
	assert_int_equal(c->max_io_size, 1024 * 1024);
	assert_int_equal(c->max_sessions_per_conn, 5);
	assert_int_equal(c->nshares, 2);

	struct smbd_share *s = config_find_share(c, "DATA");
	assert_non_null(s);
	assert_string_equal(s->name, "Data");
	assert_string_equal(s->path, fx->share_dir);
	assert_string_equal(s->comment, "Some data");
	assert_false(s->read_only);
	assert_true(s->guest_ok);
	assert_false(s->browseable);
	assert_true(s->case_sensitive);
	assert_false(s->ipc);
	assert_non_null(s->valid_users);
	assert_string_equal(s->valid_users[0], "alice");
	assert_string_equal(s->valid_users[1], "bob");
	assert_string_equal(s->valid_users[2], "carol");
	assert_string_equal(s->valid_users[3], "dave");
	assert_null(s->valid_users[4]);
	assert_int_equal(atomic_load(&s->refcount), 2);
	share_put(s);

	/* Samba defaults for a file share: read only, not guest, browseable. */
	s = config_find_share(c, "ro");
	assert_non_null(s);
	assert_true(s->read_only);
	assert_false(s->guest_ok);
	assert_true(s->browseable);
	assert_false(s->case_sensitive);
	assert_null(s->valid_users);
	share_put(s);
	assert_null(config_find_share(c, "missing"));
	assert_null(config_find_share(c, "IPC$"));   /* only after finalize */

	if (config_finalize(c, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_int_equal(c->nshares, 3);
	s = config_find_share(c, "ipc$");
	assert_non_null(s);
	assert_true(s->ipc);
	assert_int_equal(s->root_fd, -1);
	assert_null(s->path);
	share_put(s);
	s = config_find_share(c, "data");
	assert_true(s->root_fd >= 0);
	share_put(s);
	assert_int_equal(c->nusers, 1);
	assert_non_null(config_find_user(c, "ALICE"));
	assert_null(config_find_user(c, "bob"));

	/* A second finalize must not add a second IPC$ or reopen roots. */
	assert_int_equal(config_finalize(c, err, sizeof(err)), 0);
	assert_int_equal(c->nshares, 3);

	/* A share outlives the config that listed it while referenced. */
	s = config_find_share(c, "Data");
	config_put(c);
	assert_string_equal(s->name, "Data");
	share_put(s);
}

static void test_bad_configs(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[global]\n  workgroup = X\n  frobnicate = yes\n", 3, "unknown option 'frobnicate' in [global]");
	expect_error(fx, "[global]\n\n[docs]\n  comment = no path here\n[other]\n  path = /tmp\n", 3,
		     "share [docs] has no 'path'");
	/* a share with no keys at all, at the end of the file */
	expect_error(fx, "[global]\n  workgroup = X\n[empty]\n", 3, "share [empty] has no 'path'");
	expect_error(fx, "[docs]\n  path = relative/dir\n", 2, "share [docs]: 'path' must be absolute");
	expect_error(fx, "[docs]\n  path = /tmp\n\n[DOCS]\n  path = /srv\n", 4,
		     "duplicate share [DOCS] (first defined at line 1)");
	expect_error(fx, "[docs]\n  path = /tmp\n  read only = maybe\n", 3, "'read only' needs yes/no");
	expect_error(fx, "[docs]\n  path = /tmp\n  hosts allow = fileserver.example.com\n", 3,
		     "share [docs]: 'hosts allow': 'fileserver.example.com' is not an address");
	expect_error(fx, "[global]\n  hosts deny = 10.0.0.0/33\n", 2, "'hosts deny': '10.0.0.0/33' is not an address");
	expect_error(fx, "[global]\n  hosts deny = ALL EXCEPT\n", 2, "'hosts deny': EXCEPT needs a list on both sides");
	expect_error(fx, "[docs]\n  path = /tmp\n  read list = alice\n  login failure limit = 3\n", 4,
		     "'login failure limit' belongs in [global]");
	/* Encryption options (issue 5): bad values are errors. */
	expect_error(fx, "[global]\n  smb encrypt = sometimes\n", 2,
		     "'smb encrypt' must be off, if_required, desired or required");
	expect_error(fx, "[global]\n  server smb3 encryption algorithms = AES-128-CCM ROT13\n", 2,
		     "'server smb3 encryption algorithms': unknown algorithm 'ROT13'");
	expect_error(fx, "[global]\n  server smb3 encryption algorithms = AES-128-CCM -AES-128-GCM\n", 2,
		     "'server smb3 encryption algorithms': list either");
	expect_error(fx, "[global]\n  server smb3 encryption algorithms = -AES-128-CCM -AES-128-GCM -AES-256-CCM -AES-256-GCM\n",
		     2, "'server smb3 encryption algorithms' leaves no algorithm");
	expect_error(fx, "[docs]\n  path = /tmp\n  smb encrypt = maybe\n", 3, "share [docs]: 'smb encrypt' must be");
	expect_error(fx, "[docs]\n  path = /tmp\n  flub = 1\n", 3, "unknown option 'flub' in share [docs]");
	expect_error(fx, "workgroup = X\n", 1, "'workgroup' appears before any [section]");
	expect_error(fx, "[global]\n  this line has no equals sign\n", 2, "syntax error");
	expect_error(fx, "[global]\n  listen = 1.2.3.4:99999\n", 2, "listen: bad port");
	expect_error(fx, "[global]\n  listen = ::1:445\n", 2, "listen: IPv6 address");
	expect_error(fx, "[global]\n  listen = example.com:445\n", 2, "listen: 'example.com' is not a numeric");
	expect_error(fx, "[global]\n  netbios name = MUCHTOOLONGNAME16\n", 2, "'netbios name' must be 1 to 15");
	expect_error(fx, "[global]\n  map to guest = bad password\n", 2, "'map to guest = bad password' is not supported");
	expect_error(fx, "[global]\n  server signing = sometimes\n", 2, "'server signing' must be");
	expect_error(fx, "[global]\n  max connections = lots\n", 2, "'max connections' needs a number");
	expect_error(fx, "[global]\n  busy poll = 20000\n", 2, "'busy poll'");
	expect_error(fx, "[global]\n  max io size = 65535\n", 2, "'max io size'");
	expect_error(fx, "[global]\n  max io size = 16777216\n", 2, "'max io size'");
	expect_error(fx, "[global]\n  path = /tmp\n", 2, "'path' belongs in a share section");
	expect_error(fx, "[homes]\n  path = /home\n", 1, "special section [homes]");
	expect_error(fx, "[IPC$]\n  path = /tmp\n", 1, "[IPC$]: IPC$ is reserved");
	expect_error(fx, "[a/b]\n  path = /tmp\n", 1, "[a/b]: share name contains");
	expect_error(fx, "[global]\n  users file = users.db\n", 2, "'users file' must be an absolute path");
	expect_error(fx, "[d]\n  path = /tmp\n  valid users = &staff\n", 3, "user list: '&staff' is not supported");
	expect_error(fx, "[d]\n  path = /tmp\n  valid users = a, \\\n  b\n", 3, "line continuation with '\\'");

	/* over-long line */
	char text[600];
	memset(text, 0, sizeof(text));
	strcpy(text, "[global]\n  server string = ");
	size_t len = strlen(text);
	memset(text + len, 'x', 400);
	strcat(text, "\n");
	expect_error(fx, text, 2, "line is too long");

	char err[256];
	assert_null(config_load_file("/nonexistent/smb.conf", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/smb.conf: No such file or directory");
}

static void test_global_guest_ok(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->conf, "[global]\nguest ok = yes\n[a]\npath = /tmp\n[b]\npath = /tmp\nguest ok = no\n");
	char err[512];
	struct smbd_config *c = config_load_file(fx->conf, err, sizeof(err));
	if (!c) fail_msg("%s", err);
	assert_true(c->map_guest);
	assert_true(c->shares[0]->guest_ok);
	assert_false(c->shares[1]->guest_ok);
	config_put(c);
}

static void test_bom_and_comments(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->conf, "\xEF\xBB\xBF[global]\r\n\tworkgroup = w ; trailing comment\r\n"
			     "[s]\r\n\tpath = /tmp/a;b\r\n");
	char err[512];
	struct smbd_config *c = config_load_file(fx->conf, err, sizeof(err));
	if (!c) fail_msg("%s", err);
	assert_string_equal(c->workgroup, "W");
	assert_string_equal(c->shares[0]->path, "/tmp/a;b");
	config_put(c);
}

static void test_share_args(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	char arg[256];
	struct smbd_config *c = config_new_default();
	assert_non_null(c);

	snprintf(arg, sizeof(arg), "docs=%s", fx->share_dir);
	assert_int_equal(config_add_share_arg(c, arg, err, sizeof(err)), 0);
	assert_int_equal(config_add_share_arg(c, "nopath", err, sizeof(err)), -1);
	assert_string_equal(err, "--share nopath: expected NAME=PATH");
	assert_int_equal(config_add_share_arg(c, "x=rel", err, sizeof(err)), -1);
	assert_string_equal(err, "--share x=rel: PATH must be absolute");
	snprintf(arg, sizeof(arg), "DOCS=%s", fx->share_dir);
	assert_int_equal(config_add_share_arg(c, arg, err, sizeof(err)), -1);
	char want[512];
	snprintf(want, sizeof(want), "--share %s: a share named 'DOCS' already exists", arg);
	assert_string_equal(err, want);
	assert_int_equal(config_add_share_arg(c, "=/tmp", err, sizeof(err)), -1);
	assert_int_equal(config_add_share_arg(c, "gone=/nonexistent/dir", err, sizeof(err)), 0);

	/* finalize reports the share whose root cannot be opened */
	assert_int_equal(config_finalize(c, err, sizeof(err)), -1);
	assert_string_equal(err, "share gone: /nonexistent/dir: No such file or directory");
	config_put(c);

	/* --guest given after --share still applies (finalize decides). */
	c = config_new_default();
	snprintf(arg, sizeof(arg), "docs=%s", fx->share_dir);
	assert_int_equal(config_add_share_arg(c, arg, err, sizeof(err)), 0);
	c->map_guest = true;
	if (config_finalize(c, err, sizeof(err)) != 0) fail_msg("%s", err);
	struct smbd_share *s = config_find_share(c, "Docs");
	assert_non_null(s);
	assert_false(s->read_only);
	assert_true(s->guest_ok);
	assert_true(s->browseable);
	assert_true(s->root_fd >= 0);
	int flags = fcntl(s->root_fd, F_GETFD);
	assert_true(flags & FD_CLOEXEC);
	share_put(s);
	config_put(c);

	c = config_new_default();
	assert_int_equal(config_add_share_arg(c, arg, err, sizeof(err)), 0);
	if (config_finalize(c, err, sizeof(err)) != 0) fail_msg("%s", err);
	assert_false(c->shares[0]->guest_ok);
	config_put(c);
}

static void test_missing_users_file(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct smbd_config *c = config_new_default();
	c->users_file = strdup("/nonexistent/users");
	assert_int_equal(config_finalize(c, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/users: No such file or directory");
	config_put(c);
	(void)fx;
}

int main(void)
{
	log_current_level = LOG_LVL_ERROR;   /* keep the expected warnings quiet */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_good_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_configs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global_guest_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bom_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_users_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
