/* Unit tests for access-based enumeration (src/server/access_enum.c and the
 * "access based enumeration" share option in config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "test_files.h"
#include "server/access_enum.h"
#include "server/acl.h"
#include "server/server.h"

/* main.c is not linked: the pieces of it that the server library refers
 * to (security_desc.c pulls in open.c, and so on). */
struct smbd_server g_server;
struct smbd_config *server_config_get(void) { return NULL; }

/* A scratch directory: share root "root" with files in it, and a config. */
struct fixture {
	char dir[64];
	char root[128];
	char conf[128];
	int root_fd;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/smbkit-test-abe-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
	snprintf(fx->conf, sizeof(fx->conf), "%s/smb.conf", fx->dir);
	assert_int_equal(mkdir(fx->root, 0755), 0);
	fx->root_fd = open(fx->root, O_RDONLY | O_DIRECTORY);
	assert_true(fx->root_fd >= 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[200];
	close(fx->root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- rule */

static void test_rights_rule(void **state)
{
	(void)state;
	const uint32_t all = FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL;
	/* No stored DACL: the Unix read permission alone decides. */
	assert_true(access_enum_rights_visible(true, UINT32_MAX));
	assert_false(access_enum_rights_visible(false, UINT32_MAX));
	assert_true(access_enum_rights_visible(true, all));
	assert_true(access_enum_rights_visible(true, all | SYNCHRONIZE | FILE_WRITE_DATA));
	/* Each read right on its own is needed (smb2.acls.ACCESSBASED). */
	assert_false(access_enum_rights_visible(true, all & ~FILE_READ_DATA));
	assert_false(access_enum_rights_visible(true, all & ~FILE_READ_EA));
	assert_false(access_enum_rights_visible(true, all & ~FILE_READ_ATTRIBUTES));
	assert_false(access_enum_rights_visible(true, all & ~READ_CONTROL));
	/* A DACL never adds what the Unix permissions refuse. */
	assert_false(access_enum_rights_visible(false, all));
}

/* ------------------------------------------------------------- config */

static struct smbd_config *load(struct fixture *fx, const char *text, char *err, size_t errlen)
{
	write_file(fx->conf, text);
	return config_load_file(fx->conf, err, errlen);
}

static void test_config_option(void **state)
{
	struct fixture *fx = *state;
	char text[1024], err[512] = "";
	snprintf(text, sizeof(text),
		 "[abe]\npath = %s\naccess based enumeration = yes\n"
		 "[plain]\npath = %s\n"
		 "[samba]\npath = %s\nhide unreadable = yes\n"
		 "[off]\npath = %s\nAccess_Based_Enumeration = no\n",
		 fx->root, fx->root, fx->root, fx->root);
	struct smbd_config *c = load(fx, text, err, sizeof(err));
	assert_non_null(c);
	/* Command-line shares have it off. */
	char arg[200];
	snprintf(arg, sizeof(arg), "cmd=%s", fx->root);
	assert_int_equal(config_add_share_arg(c, arg, err, sizeof(err)), 0);
	static const struct { const char *share; bool abe; } want[] = {
		{ "abe", true }, { "plain", false }, { "samba", true }, { "off", false }, { "cmd", false },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct smbd_share *sh = config_find_share(c, want[i].share);
		assert_non_null(sh);
		assert_int_equal(config_share_access_based_enum(sh), want[i].abe);
		share_put(sh);
	}
	config_put(c);
}

static void test_config_errors(void **state)
{
	struct fixture *fx = *state;
	char text[1024], err[512] = "";
	snprintf(text, sizeof(text), "[abe]\npath = %s\naccess based enumeration = maybe\n", fx->root);
	assert_null(load(fx, text, err, sizeof(err)));
	assert_non_null(strstr(err, "yes/no"));
	assert_null(load(fx, "[global]\naccess based enumeration = yes\n", err, sizeof(err)));
	assert_non_null(strstr(err, "belongs in a share section"));
}

/* ------------------------------------------------------ per entry */

/* Stores an SD whose DACL has one ACCESS_ALLOWED ACE for Everyone with
 * mask (MS-DTYP 2.4.4.2, 2.4.5, 2.4.6), and no owner. */
static bool store_sd(const char *path, uint32_t mask)
{
	static const uint8_t everyone[12] = { 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
	uint8_t dacl[8 + 20] = { 2, 0, sizeof(dacl), 0, 1, 0, 0, 0 };
	uint8_t *ace = dacl + 8;
	ace[0] = ACE_TYPE_ACCESS_ALLOWED;
	ace[1] = 0;
	ace[2] = 20;
	ace[3] = 0;
	ace[4] = (uint8_t)mask;
	ace[5] = (uint8_t)(mask >> 8);
	ace[6] = (uint8_t)(mask >> 16);
	ace[7] = (uint8_t)(mask >> 24);
	memcpy(ace + 8, everyone, sizeof(everyone));
	struct wbuf w;
	wbuf_init(&w, 128);
	acl_sd_write(&w, SE_DACL_PRESENT, NULL, 0, NULL, 0, dacl, sizeof(dacl));
	assert_false(w.err);
	int r = setxattr(path, "user.smbkit.sd", w.p, w.len, 0);
	wbuf_free(&w);
	if (r < 0 && errno == ENOTSUP) return false;
	assert_int_equal(r, 0);
	return true;
}

static void make_file(struct fixture *fx, const char *name, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fx->root, name);
	write_file(path, "x");
	assert_int_equal(chmod(path, mode), 0);
}

static void test_entry_visible(void **state)
{
	struct fixture *fx = *state;
	struct smbd_share sh = { .root_fd = fx->root_fd };
	const uint32_t all = FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL;
	char path[256];

	make_file(fx, "plain", 0644);
	make_file(fx, "full", 0644);
	make_file(fx, "no_ea", 0644);
	make_file(fx, "no_attr", 0644);
	make_file(fx, "no_data", 0644);
	snprintf(path, sizeof(path), "%s/full", fx->root);
	if (!store_sd(path, all | SYNCHRONIZE)) skip();
	snprintf(path, sizeof(path), "%s/no_ea", fx->root);
	store_sd(path, all & ~FILE_READ_EA);
	snprintf(path, sizeof(path), "%s/no_attr", fx->root);
	store_sd(path, all & ~FILE_READ_ATTRIBUTES);
	snprintf(path, sizeof(path), "%s/no_data", fx->root);
	store_sd(path, all & ~FILE_READ_DATA);

	/* No session: a token of Everyone only, which the ACEs name. */
	assert_true(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "plain"));
	assert_true(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "full"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "no_ea"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "no_attr"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "no_data"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "missing"));

	/* Links are judged by their target while it stays in the share. */
	snprintf(path, sizeof(path), "%s/link_full", fx->root);
	assert_int_equal(symlink("full", path), 0);
	snprintf(path, sizeof(path), "%s/link_no_data", fx->root);
	assert_int_equal(symlink("no_data", path), 0);
	snprintf(path, sizeof(path), "%s/link_out", fx->root);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/link_dangling", fx->root);
	assert_int_equal(symlink("nowhere", path), 0);
	assert_true(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "link_full"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "link_no_data"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "link_out"));
	assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "link_dangling"));

	/* In a subdirectory, with a link back up to the root's file. */
	snprintf(path, sizeof(path), "%s/sub", fx->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/up", fx->root);
	assert_int_equal(symlink("../full", path), 0);
	snprintf(path, sizeof(path), "%s/sub", fx->root);
	int subfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(subfd >= 0);
	assert_true(access_enum_entry_visible(NULL, &sh, subfd, "sub", "up"));
	close(subfd);

	/* The Unix permissions: without read permission the entry is hidden
	 * whatever its DACL says (only checkable when not running as root). */
	if (geteuid() != 0) {
		make_file(fx, "unreadable", 0200);
		assert_false(access_enum_entry_visible(NULL, &sh, fx->root_fd, "", "unreadable"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rights_rule),
		cmocka_unit_test_setup_teardown(test_config_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_visible, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
