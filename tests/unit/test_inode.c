/* The inode table (server/inode.c): an entry is found again only by the
 * same kind of lookup.  A file's entry may outlive the file while something
 * still holds a reference to it, and the file system may give its inode
 * number to a new file or to a stream's data file at once; the stream must
 * then get its own entry, nested under its base with the stream lock rank,
 * not the stale file entry (smbtorture smb2.kernel-oplocks aborted on the
 * ASan build with "taking inode while holding inode" before this held).
 * Nor may a new file that got a lingering entry's inode number share that
 * entry: the generation (vfs_file_generation) keeps them apart. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/lock.h"
#include "server/server.h"
#include "server/vfs.h"

/* main.c is not linked: the pieces of it that the server library refers to. */
struct smbd_server g_server;
struct smbd_config *server_config_get(void) { return NULL; }

static void same_number_other_kind(void **state)
{
	(void)state;
	/* A file entry that is still referenced (the old file is gone). */
	struct smbd_inode *stale = inode_lookup(77, 4242, 0, NULL);
	assert_non_null(stale);
	/* A new file, with its own number, and a stream of it whose data
	 * file got the stale entry's number. */
	struct smbd_inode *base = inode_lookup(77, 4243, 0, NULL);
	struct smbd_inode *stream = inode_lookup(77, 4242, 0, base);
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
	struct smbd_inode *again = inode_lookup(77, 4242, 0, base);
	assert_ptr_equal(again, stream);
	inode_put(again);
	again = inode_lookup(77, 4242, 0, NULL);
	assert_ptr_equal(again, stale);
	inode_put(again);

	/* A stream of another file with the same data-file number is not
	 * this one either. */
	struct smbd_inode *other = inode_lookup(77, 4244, 0, NULL);
	struct smbd_inode *other_stream = inode_lookup(77, 4242, 0, other);
	assert_ptr_not_equal(other_stream, stream);
	assert_ptr_equal(other_stream->base, other);

	inode_put(other_stream);
	inode_put(other);
	inode_put(stream);
	inode_put(base);
	inode_put(stale);
}

static void same_number_other_generation(void **state)
{
	(void)state;
	/* The old file's entry lingers, delete-pending (a lease or break
	 * timer still holds it); a new file gets its number. */
	struct smbd_inode *old = inode_lookup(78, 4242, 111, NULL);
	assert_non_null(old);
	old->delete_pending = true;
	struct smbd_inode *fresh = inode_lookup(78, 4242, 222, NULL);
	assert_non_null(fresh);
	assert_ptr_not_equal(fresh, old);
	assert_false(fresh->delete_pending);
	struct smbd_inode *again = inode_lookup(78, 4242, 111, NULL);
	assert_ptr_equal(again, old);
	inode_put(again);
	inode_put(fresh);
	inode_put(old);
}

/* On a real file system (the build directory's, ext4 on the CI machines,
 * which hands a freed inode number to the next file at once, with the
 * same coarse birth time): the generation of one file is the same through
 * any fd, and a file created after another was deleted never has that
 * one's (inode number, generation).  A file system that reuses no number
 * (tmpfs) proves only the first part. */
static void generation_on_disk(void **state)
{
	(void)state;
	char dir[] = "smbkit-inode-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	int reused = 0;
	for (int i = 0; i < 50; i++) {
		int fd = open(a, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		int fd2 = open(a, O_PATH | O_CLOEXEC);
		assert_true(fd2 >= 0);
		struct stat sa, sb;
		assert_int_equal(fstat(fd, &sa), 0);
		uint64_t ga = vfs_file_generation(fd);
		assert_true(ga == vfs_file_generation(fd2));
		close(fd2);
		close(fd);
		assert_int_equal(unlink(a), 0);
		fd = open(b, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		uint64_t gb = vfs_file_generation(fd);
		close(fd);
		assert_int_equal(unlink(b), 0);
		if (sa.st_ino == sb.st_ino) {
			reused++;
			assert_true(ga != gb);
		}
	}
	rmdir(dir);
	print_message("inode number reused %d times in 50\n", reused);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_number_other_kind),
		cmocka_unit_test(same_number_other_generation),
		cmocka_unit_test(generation_on_disk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
