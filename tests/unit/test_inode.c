/* The inode table (server/inode.c): an entry is found again only by the
 * same kind of lookup.  A file's entry may outlive the file while something
 * still holds a reference to it, and the file system may give its inode
 * number to a new file or to a stream's data file at once; the stream must
 * then get its own entry, nested under its base with the stream lock rank,
 * not the stale file entry (smbtorture smb2.kernel-oplocks aborted on the
 * ASan build with "taking inode while holding inode" before this held). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/lock.h"
#include "server/server.h"

/* main.c is not linked: the pieces of it that the server library refers to. */
struct smbd_server g_server;
struct smbd_config *server_config_get(void) { return NULL; }

static void same_number_other_kind(void **state)
{
	(void)state;
	/* A file entry that is still referenced (the old file is gone). */
	struct smbd_inode *stale = inode_lookup(77, 4242, NULL);
	assert_non_null(stale);
	/* A new file, with its own number, and a stream of it whose data
	 * file got the stale entry's number. */
	struct smbd_inode *base = inode_lookup(77, 4243, NULL);
	struct smbd_inode *stream = inode_lookup(77, 4242, base);
	assert_non_null(base);
	assert_non_null(stream);
	assert_ptr_not_equal(stream, stale);
	assert_ptr_equal(stream->base, base);
	assert_int_equal(stream->lock.rank, LOCK_RANK_INODE_STREAM);
	/* Base, then stream: the order lease.c and durable.c use. */
	smb_mutex_lock(&base->lock);
	smb_mutex_lock(&stream->lock);
	smb_mutex_unlock(&stream->lock);
	smb_mutex_unlock(&base->lock);

	/* The same lookups again find the same entries. */
	struct smbd_inode *again = inode_lookup(77, 4242, base);
	assert_ptr_equal(again, stream);
	inode_put(again);
	again = inode_lookup(77, 4242, NULL);
	assert_ptr_equal(again, stale);
	inode_put(again);

	/* A stream of another file with the same data-file number is not
	 * this one either. */
	struct smbd_inode *other = inode_lookup(77, 4244, NULL);
	struct smbd_inode *other_stream = inode_lookup(77, 4242, other);
	assert_ptr_not_equal(other_stream, stream);
	assert_ptr_equal(other_stream->base, other);

	inode_put(other_stream);
	inode_put(other);
	inode_put(stream);
	inode_put(base);
	inode_put(stale);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_number_other_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
