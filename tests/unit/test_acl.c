/* Unit tests for server/acl.c: SD validation, the access check (MS-DTYP
 * 2.5.3.2) and inheritance (2.5.3.4), with the cases smbtorture's
 * smb2.acls checks against Windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/acl.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

struct bytes { uint8_t b[512]; size_t n; };

static void put(struct bytes *x, const void *p, size_t n) { memcpy(x->b + x->n, p, n); x->n += n; }

static struct acl_sid sid_of(uint8_t auth, unsigned n, uint32_t a, uint32_t b)
{
	struct acl_sid s;
	uint32_t sub[2] = { a, b };
	acl_sid_make(&s, auth, n, sub);
	return s;
}

static void add_ace(struct bytes *acl, uint8_t type, uint8_t flags, uint32_t mask, const struct acl_sid *s)
{
	uint8_t h[8] = { type, flags, 0, 0, 0, 0, 0, 0 };
	put_le16(h + 2, (uint16_t)(8 + s->len));
	put_le32(h + 4, mask);
	put(acl, h, 8);
	put(acl, s->b, s->len);
}

static void acl_start(struct bytes *acl) { memset(acl, 0, sizeof(*acl)); acl->b[0] = 2; acl->n = 8; }
static void acl_finish(struct bytes *acl, uint16_t count)
{
	put_le16(acl->b + 2, (uint16_t)acl->n);
	put_le16(acl->b + 4, count);
}

/* SD = header, DACL, owner. */
static void make_sd(struct bytes *sd, uint16_t control, const struct bytes *acl, const struct acl_sid *owner)
{
	struct wbuf w;
	wbuf_init(&w, 0);
	acl_sd_write(&w, control, owner ? owner->b : NULL, owner ? owner->len : 0, NULL, 0, acl ? acl->b : NULL,
		     acl ? acl->n : 0);
	assert_false(w.err);
	memcpy(sd->b, w.p, w.len);
	sd->n = w.len;
	wbuf_free(&w);
}

static void test_parse_rejects_malformed(void **state)
{
	(void)state;
	struct acl_sid user = sid_of(22, 2, 1, 1000);
	struct bytes acl, sd;
	acl_start(&acl);
	add_ace(&acl, 0, 0, FILE_ALL_ACCESS, &user);
	acl_finish(&acl, 1);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	struct acl_sd p;
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	assert_non_null(p.dacl);
	assert_non_null(p.owner);
	/* Every truncation fails cleanly. */
	for (size_t n = 0; n < sd.n; n++) assert_int_equal(acl_sd_parse(sd.b, n, &p), STATUS_INVALID_PARAMETER);
	/* Not self-relative, wrong revision. */
	struct bytes bad = sd;
	bad.b[3] &= 0x7f;
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	bad = sd;
	bad.b[0] = 2;
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	/* Owner offset beyond the buffer, or at its very end. */
	bad = sd;
	put_le32(bad.b + 4, 0xFFFFFFF0u);
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	put_le32(bad.b + 4, (uint32_t)bad.n);
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	/* A SID claiming 16 sub-authorities. */
	bad = sd;
	bad.b[get_le32(bad.b + 4) + 1] = 16;
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	/* An ACE count larger than the ACEs present, an ACE size past AclSize. */
	uint32_t dacl = get_le32(sd.b + 16);
	bad = sd;
	put_le16(bad.b + dacl + 4, 2);
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	bad = sd;
	put_le16(bad.b + dacl + 8 + 2, 200);
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
	/* An ACE whose SID does not fit in its AceSize. */
	bad = sd;
	put_le16(bad.b + dacl + 8 + 2, 12);
	assert_int_equal(acl_sd_parse(bad.b, bad.n, &p), STATUS_INVALID_PARAMETER);
}

static void token(struct acl_token *t)
{
	uint32_t groups[1] = { 100 };
	assert_int_equal(acl_token_init(t, 1000, 100, groups, 1, true, false), 0);
}

static void test_owner_rights_and_deny_order(void **state)
{
	(void)state;
	struct acl_sid user = sid_of(22, 2, 1, 1000), owner_rights = sid_of(3, 1, 4, 0);
	struct acl_token t;
	token(&t);
	struct bytes acl, sd;
	struct acl_sd p;

	/* smb2.acls.OWNER-RIGHTS: owner READ, OWNER RIGHTS WRITE_DATA, no
	 * implicit WRITE_DAC/READ_CONTROL beyond what READ gives. */
	acl_start(&acl);
	add_ace(&acl, 0, 0, FILE_GENERIC_READ, &user);
	add_ace(&acl, 0, 0, FILE_WRITE_DATA, &owner_rights);
	acl_finish(&acl, 2);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	assert_int_equal(acl_granted(&p, &t, NULL, 0), FILE_GENERIC_READ | FILE_WRITE_DATA);

	/* smb2.acls.DENY1: a trailing deny does not take away what an
	 * earlier allow granted; the owner gets WRITE_DAC. */
	acl_start(&acl);
	add_ace(&acl, 0, 0, FILE_GENERIC_READ | FILE_WRITE_DATA, &user);
	add_ace(&acl, 1, 0, FILE_WRITE_DATA, &user);
	acl_finish(&acl, 2);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	assert_int_equal(acl_granted(&p, &t, NULL, 0), FILE_GENERIC_READ | FILE_WRITE_DATA | WRITE_DAC);

	/* A leading deny wins; an inherit-only ACE does not count. */
	acl_start(&acl);
	add_ace(&acl, 1, 0, FILE_READ_DATA, &user);
	add_ace(&acl, 0, ACE_FLAG_INHERIT_ONLY | ACE_FLAG_OBJECT_INHERIT, FILE_ALL_ACCESS, &user);
	add_ace(&acl, 0, 0, FILE_GENERIC_READ, &user);
	acl_finish(&acl, 3);
	make_sd(&sd, SE_DACL_PRESENT, &acl, NULL);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	struct acl_sid other = sid_of(22, 2, 1, 1);
	/* Not the owner (fallback owner someone else): no implicit rights. */
	assert_int_equal(acl_granted(&p, &t, other.b, other.len), FILE_GENERIC_READ & ~FILE_READ_DATA);

	/* A NULL DACL grants everything; an empty one only the owner's. */
	make_sd(&sd, SE_DACL_PRESENT, NULL, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	assert_int_equal(acl_granted(&p, &t, NULL, 0), FILE_ALL_ACCESS);
	acl_start(&acl);
	acl_finish(&acl, 0);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &p), STATUS_SUCCESS);
	assert_int_equal(acl_granted(&p, &t, NULL, 0), READ_CONTROL | WRITE_DAC);
	acl_token_free(&t);
}

static void test_inheritance(void **state)
{
	(void)state;
	struct acl_sid user = sid_of(22, 2, 1, 1000), group = sid_of(22, 2, 2, 100);
	struct acl_sid creator_owner = sid_of(3, 1, 0, 0), world = sid_of(1, 1, 0, 0);
	struct bytes acl, sd;
	struct acl_sd parent, child;
	/* smb2.acls.INHERITANCE: CREATOR OWNER WRITE_DATA with OI|CI, plus a
	 * non-inheritable Everyone ACE. */
	acl_start(&acl);
	add_ace(&acl, 0, ACE_FLAG_OBJECT_INHERIT | ACE_FLAG_CONTAINER_INHERIT, FILE_WRITE_DATA, &creator_owner);
	add_ace(&acl, 0, 0, FILE_ALL_ACCESS, &world);
	acl_finish(&acl, 2);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &parent), STATUS_SUCCESS);

	struct wbuf w;
	wbuf_init(&w, 0);
	acl_sd_inherit(&w, &parent, false, &user, &group);
	assert_int_equal(acl_sd_parse(w.p, w.len, &child), STATUS_SUCCESS);
	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx;
	/* A file: one ACE for the creator, no inheritance flags. */
	assert_true(acl_next_ace(child.dacl, child.dacl_len, &pos, &idx, &ace));
	assert_int_equal(ace.flags, 0);
	assert_int_equal(ace.mask, FILE_WRITE_DATA);
	assert_true(acl_sid_eq(ace.sid, ace.sid_len, user.b, user.len));
	assert_false(acl_next_ace(child.dacl, child.dacl_len, &pos, &idx, &ace));
	assert_true(acl_sid_eq(child.owner, child.owner_len, user.b, user.len));
	wbuf_free(&w);

	/* A directory: the creator's effective ACE, then the placeholder
	 * kept inherit-only for what is created below. */
	wbuf_init(&w, 0);
	acl_sd_inherit(&w, &parent, true, &user, &group);
	assert_int_equal(acl_sd_parse(w.p, w.len, &child), STATUS_SUCCESS);
	pos = 0;
	assert_true(acl_next_ace(child.dacl, child.dacl_len, &pos, &idx, &ace));
	assert_int_equal(ace.flags, 0);
	assert_true(acl_sid_eq(ace.sid, ace.sid_len, user.b, user.len));
	assert_true(acl_next_ace(child.dacl, child.dacl_len, &pos, &idx, &ace));
	assert_int_equal(ace.flags, ACE_FLAG_OBJECT_INHERIT | ACE_FLAG_CONTAINER_INHERIT | ACE_FLAG_INHERIT_ONLY);
	assert_true(acl_sid_eq(ace.sid, ace.sid_len, creator_owner.b, creator_owner.len));
	assert_false(acl_next_ace(child.dacl, child.dacl_len, &pos, &idx, &ace));
	wbuf_free(&w);

	/* Nothing inheritable: owner and SYSTEM full control. */
	acl_start(&acl);
	add_ace(&acl, 0, 0, FILE_ALL_ACCESS, &world);
	acl_finish(&acl, 1);
	make_sd(&sd, SE_DACL_PRESENT, &acl, &user);
	assert_int_equal(acl_sd_parse(sd.b, sd.n, &parent), STATUS_SUCCESS);
	assert_false(acl_sd_has_inheritable(&parent, false));
	wbuf_init(&w, 0);
	acl_sd_inherit(&w, &parent, false, &user, &group);
	assert_int_equal(acl_sd_parse(w.p, w.len, &child), STATUS_SUCCESS);
	assert_int_equal(get_le16(child.dacl + 4), 2);
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_owner_rights_and_deny_order),
		cmocka_unit_test(test_inheritance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
