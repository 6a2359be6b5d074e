/* Byte-range locks (server/brl.c): the MS-FSA 2.1.4.10 conflict rule, range
 * validation, the LOCK request decoder, and lock/unlock/all-or-nothing and
 * READ/WRITE checks on a real inode with two opens (no network: only
 * requests that never block). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/brl.h"
#include "server/server.h"
#include "wire/lock.h"

/* main.c is not linked: the pieces of it that the server library refers to. */
struct smbd_server g_server;
struct smbd_config *server_config_get(void) { return NULL; }

static void conflict_rules(void **state)
{
	(void)state;
	/* exclusive held by another open: any overlapping access conflicts */
	assert_true(brl_range_conflict(100, 10, true, false, 105, 1, false, true));
	assert_true(brl_range_conflict(100, 10, true, false, 105, 1, false, false));   /* read */
	assert_false(brl_range_conflict(100, 10, true, false, 110, 1, true, true));    /* adjacent */
	assert_false(brl_range_conflict(100, 10, true, false, 90, 10, true, true));
	/* own exclusive: reads, writes and shared stacking pass, exclusive does not */
	assert_false(brl_range_conflict(100, 10, true, true, 100, 10, false, true));
	assert_false(brl_range_conflict(100, 10, true, true, 100, 10, true, false));
	assert_true(brl_range_conflict(100, 10, true, true, 100, 10, true, true));
	/* shared: reads and shared locks pass, writes and exclusive locks fail, own too */
	assert_false(brl_range_conflict(0, 10, false, false, 0, 10, false, true));
	assert_false(brl_range_conflict(0, 10, false, false, 0, 10, false, false));
	assert_true(brl_range_conflict(0, 10, false, true, 0, 10, true, false));
	assert_true(brl_range_conflict(0, 10, false, true, 0, 10, true, true));
	/* zero-length ranges (smbtorture smb2.lock.zerobytelength) */
	assert_false(brl_range_conflict(10, 0, true, false, 10, 0, true, true));
	assert_false(brl_range_conflict(10, 0, true, false, 9, 1, true, true));
	assert_false(brl_range_conflict(10, 0, true, false, 10, 1, true, true));
	assert_true(brl_range_conflict(10, 0, true, false, 9, 2, true, true));
	assert_true(brl_range_conflict(9, 2, true, false, 10, 0, true, true));
	assert_true(brl_range_conflict(100, 10, true, false, 102, 0, true, true));
	assert_false(brl_range_conflict(0, 0, true, false, 0, 0, true, true));
	assert_false(brl_range_conflict(0, 0, true, false, 0, 100, true, true));
	assert_false(brl_range_conflict(0, 100, true, false, 0, 0, true, true));
	/* the top of the 64-bit range */
	assert_true(brl_range_conflict(UINT64_MAX, 1, true, false, UINT64_MAX, 1, true, true));
	assert_false(brl_range_conflict(UINT64_MAX, 0, true, false, UINT64_MAX, 0, true, true));
}

static void range_validation(void **state)
{
	(void)state;
	assert_false(brl_range_invalid(0, 0));
	assert_false(brl_range_invalid(UINT64_MAX, 0));
	assert_false(brl_range_invalid(UINT64_MAX, 1));
	assert_true(brl_range_invalid(UINT64_MAX, 2));
	assert_true(brl_range_invalid(UINT64_MAX, UINT64_MAX));
	assert_false(brl_range_invalid(1, UINT64_MAX));
	assert_true(brl_range_invalid(2, UINT64_MAX));
}

/* Builds header + LOCK request body with n elements into buf. */
static size_t build_lock(uint8_t *buf, size_t cap, uint16_t count, uint32_t seq, const struct smb2_lock_element *el,
			 unsigned n)
{
	size_t len = SMB2_HDR_SIZE + 24 + (size_t)n * SMB2_LOCK_ELEMENT_SIZE;
	assert_true(len <= cap);
	memset(buf, 0, len);
	uint8_t *p = buf + SMB2_HDR_SIZE;
	put_le16(p, 48);
	put_le16(p + 2, count);
	put_le32(p + 4, seq);
	put_le64(p + 8, 1);
	put_le64(p + 16, 2);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = p + 24 + i * SMB2_LOCK_ELEMENT_SIZE;
		put_le64(e, el[i].offset);
		put_le64(e + 8, el[i].length);
		put_le32(e + 16, el[i].flags);
	}
	return len;
}

static void decoder(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct smb2_lock_req r;
	struct smb2_lock_element el[2] = { { 5, 6, SMB2_LOCKFLAG_SHARED_LOCK }, { 7, 8, SMB2_LOCKFLAG_UNLOCK } };
	size_t len = build_lock(buf, sizeof(buf), 2, 0x123ab1, el, 2);
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_SUCCESS);
	assert_int_equal(r.lock_count, 2);
	assert_int_equal(r.lock_sequence_number, 1);
	assert_int_equal(r.lock_sequence_index, 0x123ab);
	assert_int_equal(r.persistent_id, 1);
	assert_int_equal(r.volatile_id, 2);
	struct smb2_lock_element got;
	smb2_lock_req_element(&r, 1, &got);
	assert_int_equal(got.offset, 7);
	assert_int_equal(got.length, 8);
	assert_int_equal(got.flags, SMB2_LOCKFLAG_UNLOCK);
	/* LockCount larger than the message, and 0 */
	assert_int_equal(smb2_lock_req_decode(buf, len - 1, &r), STATUS_INVALID_PARAMETER);
	len = build_lock(buf, sizeof(buf), 3, 0, el, 2);
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_INVALID_PARAMETER);
	len = build_lock(buf, sizeof(buf), 0xFFFF, 0, el, 2);
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_INVALID_PARAMETER);
	len = build_lock(buf, sizeof(buf), 0, 0, el, 1);
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_INVALID_PARAMETER);
	/* StructureSize */
	len = build_lock(buf, sizeof(buf), 1, 0, el, 1);
	put_le16(buf + SMB2_HDR_SIZE, 24);
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_INVALID_PARAMETER);
	/* truncated fixed part */
	assert_int_equal(smb2_lock_req_decode(buf, SMB2_HDR_SIZE + 10, &r), STATUS_INVALID_PARAMETER);
}

struct fixture {
	struct smbd_conn conn;
	struct smbd_open o1, o2;
	struct smbd_inode *in;
};

static uint32_t do_lock_seq(struct fixture *f, struct smbd_open *o, const struct smb2_lock_element *el, unsigned n,
			    uint32_t seq)
{
	uint8_t buf[512];
	size_t len = build_lock(buf, sizeof(buf), (uint16_t)n, seq, el, n);
	struct smb2_lock_req r;
	assert_int_equal(smb2_lock_req_decode(buf, len, &r), STATUS_SUCCESS);
	struct smb2_request req = { .conn = &f->conn, .last_in_chain = true };
	return brl_lock_request(&req, o, &r);
}

static uint32_t do_lock(struct fixture *f, struct smbd_open *o, const struct smb2_lock_element *el, unsigned n)
{
	return do_lock_seq(f, o, el, n, 0);
}

static uint32_t lock1(struct fixture *f, struct smbd_open *o, uint64_t off, uint64_t len, uint32_t flags)
{
	struct smb2_lock_element el = { off, len, flags };
	return do_lock(f, o, &el, 1);
}

#define SH (SMB2_LOCKFLAG_SHARED_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY)
#define EX (SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY)
#define UN SMB2_LOCKFLAG_UNLOCK

static void locks_on_inode(void **state)
{
	(void)state;
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->conn.dialect = SMB2_DIALECT_311;
	f->in = inode_lookup(1234, 5678, 0, NULL);
	assert_non_null(f->in);
	f->o1.inode = f->in;
	f->o2.inode = f->in;
	f->o1.conn = f->o2.conn = &f->conn;

	assert_int_equal(lock1(f, &f->o1, 100, 10, EX), STATUS_SUCCESS);
	assert_int_equal(lock1(f, &f->o2, 105, 10, SH), STATUS_LOCK_NOT_GRANTED);
	assert_int_equal(lock1(f, &f->o1, 100, 10, EX), STATUS_LOCK_NOT_GRANTED);
	assert_int_equal(lock1(f, &f->o1, 100, 10, SH), STATUS_SUCCESS);   /* stacks */
	assert_int_equal(brl_check_io(&f->o1, 100, 10, true), STATUS_FILE_LOCK_CONFLICT);  /* own shared */
	assert_int_equal(brl_check_io(&f->o1, 100, 10, false), STATUS_SUCCESS);
	assert_int_equal(brl_check_io(&f->o2, 99, 2, false), STATUS_FILE_LOCK_CONFLICT);
	assert_int_equal(brl_check_io(&f->o2, 110, 5, true), STATUS_SUCCESS);
	assert_int_equal(brl_check_io(&f->o2, 100, 0, true), STATUS_SUCCESS);
	/* unlock removes the exclusive first, then the shared one */
	assert_int_equal(lock1(f, &f->o2, 100, 10, UN), STATUS_RANGE_NOT_LOCKED);   /* not its lock */
	assert_int_equal(lock1(f, &f->o1, 100, 10, UN), STATUS_SUCCESS);
	assert_int_equal(lock1(f, &f->o2, 100, 10, SH), STATUS_SUCCESS);
	assert_int_equal(lock1(f, &f->o2, 100, 10, UN), STATUS_SUCCESS);
	assert_int_equal(lock1(f, &f->o1, 100, 10, UN), STATUS_SUCCESS);
	assert_int_equal(lock1(f, &f->o1, 100, 10, UN), STATUS_RANGE_NOT_LOCKED);

	/* invalid flags and ranges */
	assert_int_equal(lock1(f, &f->o1, 0, 1, 0), STATUS_INVALID_PARAMETER);
	assert_int_equal(lock1(f, &f->o1, 0, 1, UN | SMB2_LOCKFLAG_FAIL_IMMEDIATELY), STATUS_INVALID_PARAMETER);
	assert_int_equal(lock1(f, &f->o1, 0, 1, SMB2_LOCKFLAG_SHARED_LOCK | SMB2_LOCKFLAG_EXCLUSIVE_LOCK),
			 STATUS_INVALID_PARAMETER);
	assert_int_equal(lock1(f, &f->o1, UINT64_MAX, 2, EX), STATUS_INVALID_LOCK_RANGE);

	/* all or nothing: the second element conflicts, the first is rolled back */
	assert_int_equal(lock1(f, &f->o2, 50, 1, EX), STATUS_SUCCESS);
	struct smb2_lock_element two[2] = { { 10, 1, EX }, { 50, 1, EX } };
	assert_int_equal(do_lock(f, &f->o1, two, 2), STATUS_LOCK_NOT_GRANTED);
	assert_int_equal(brl_check_io(&f->o2, 10, 1, true), STATUS_SUCCESS);
	/* several locks must all fail immediately */
	struct smb2_lock_element blocking[2] = { { 10, 1, EX }, { 20, 1, SMB2_LOCKFLAG_EXCLUSIVE_LOCK } };
	assert_int_equal(do_lock(f, &f->o1, blocking, 2), STATUS_INVALID_PARAMETER);
	/* unlocks done before a failing element stay done */
	assert_int_equal(lock1(f, &f->o1, 10, 1, EX), STATUS_SUCCESS);
	struct smb2_lock_element un2[2] = { { 10, 1, UN }, { 11, 1, UN } };
	assert_int_equal(do_lock(f, &f->o1, un2, 2), STATUS_RANGE_NOT_LOCKED);
	assert_int_equal(brl_check_io(&f->o2, 10, 1, true), STATUS_SUCCESS);

	/* close releases everything of the open */
	assert_int_equal(brl_check_io(&f->o1, 50, 1, false), STATUS_FILE_LOCK_CONFLICT);
	brl_close_open(&f->o2);
	assert_int_equal(brl_check_io(&f->o1, 50, 1, true), STATUS_SUCCESS);
	brl_close_open(&f->o1);

	inode_put(f->in);
	free(f);
}

/* MS-SMB2 3.3.5.14: a LOCK whose LockSequenceIndex entry holds the same
 * LockSequenceNumber is a replay and is answered without doing anything. */
static void lock_sequence_replay(void **state)
{
	(void)state;
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->conn.dialect = SMB2_DIALECT_311;
	f->conn.server_capabilities = SMB2_GLOBAL_CAP_MULTI_CHANNEL;   /* makes every open eligible */
	f->in = inode_lookup(1234, 5679, 0, NULL);
	assert_non_null(f->in);
	f->o1.inode = f->in;
	f->o1.conn = &f->conn;
	struct smb2_lock_element el = { 0, 10, EX };
	uint32_t seq_idx1_num1 = (1u << 4) | 1;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq_idx1_num1), STATUS_SUCCESS);
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq_idx1_num1), STATUS_SUCCESS);   /* replay */
	/* another number in the same slot is processed: conflicts with itself */
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, (1u << 4) | 2), STATUS_LOCK_NOT_GRANTED);
	/* index 0 and indexes past 64 are never replays */
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, 1), STATUS_LOCK_NOT_GRANTED);
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, (65u << 4) | 1), STATUS_LOCK_NOT_GRANTED);
	/* only one lock was taken */
	el.flags = UN;
	assert_int_equal(do_lock(f, &f->o1, &el, 1), STATUS_SUCCESS);
	assert_int_equal(do_lock(f, &f->o1, &el, 1), STATUS_RANGE_NOT_LOCKED);
	/* a plain open without the capability: nothing is remembered */
	f->conn.server_capabilities = 0;
	el.flags = EX;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, (2u << 4) | 3), STATUS_SUCCESS);
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, (2u << 4) | 3), STATUS_LOCK_NOT_GRANTED);
	brl_close_open(&f->o1);
	inode_put(f->in);
	free(f);
}

/* FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9): input checks, and a
 * resilient open gets lock sequence verification (3.3.5.14) where a plain
 * one on the same connection does not. */
static void resiliency(void **state)
{
	(void)state;
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->conn.dialect = SMB2_DIALECT_311;
	f->in = inode_lookup(1234, 5680, 0, NULL);
	assert_non_null(f->in);
	f->o1.inode = f->in;
	f->o1.conn = &f->conn;
	struct smb2_request req = { .conn = &f->conn, .last_in_chain = true };
	uint8_t in[8] = { 0 };

	/* too short, and above MaxResiliencyTimeout (compared in seconds) */
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, in, 7), STATUS_INVALID_PARAMETER);
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, NULL, 0), STATUS_INVALID_PARAMETER);
	put_le32(in, BRL_MAX_RESILIENCY_TIMEOUT_MS + 1000);
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, in, 8), STATUS_INVALID_PARAMETER);
	assert_int_equal(atomic_load(&f->o1.resiliency_timeout_ms), 0);
	/* SMB 2.0.2 has no resilient handles */
	f->conn.dialect = SMB2_DIALECT_202;
	put_le32(in, 1000);
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, in, 8), STATUS_INVALID_DEVICE_REQUEST);
	f->conn.dialect = SMB2_DIALECT_210;

	/* plain open: a repeated sequence number is processed again */
	struct smb2_lock_element el = { 100, 100, EX };
	uint32_t seq = (1u << 4) | 1;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_LOCK_NOT_GRANTED);
	el.flags = UN;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);

	/* Timeout 0 gets the default; longer input is fine (Reserved ignored) */
	uint8_t longer[12] = { 0 };
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, longer, 12), STATUS_SUCCESS);
	assert_int_equal(atomic_load(&f->o1.resiliency_timeout_ms), BRL_DEFAULT_RESILIENCY_TIMEOUT_MS);
	assert_int_equal(smb2_fsctl_request_resiliency(&req, &f->o1, in, 8), STATUS_SUCCESS);
	assert_int_equal(atomic_load(&f->o1.resiliency_timeout_ms), 1000);

	/* resilient: replays of a lock and of an unlock are ignored */
	el.flags = EX;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);
	el.flags = UN;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);   /* replay: still locked */
	assert_int_equal(brl_check_io(&f->o1, 100, 1, true), STATUS_SUCCESS);
	seq = (1u << 4) | 2;
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);   /* new number: unlocked */
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, seq), STATUS_SUCCESS);   /* replay of the unlock */
	assert_int_equal(do_lock_seq(f, &f->o1, &el, 1, (1u << 4) | 3), STATUS_RANGE_NOT_LOCKED);
	brl_close_open(&f->o1);
	inode_put(f->in);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conflict_rules),
		cmocka_unit_test(range_validation),
		cmocka_unit_test(decoder),
		cmocka_unit_test(locks_on_inode),
		cmocka_unit_test(lock_sequence_replay),
		cmocka_unit_test(resiliency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
