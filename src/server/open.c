/* The global open table: publication, lookup by FileId, unpublication and
 * the file teardown of an open (MS-SMB2 3.3.1.10 GlobalOpenTable).
 *
 * Published opens live in a hash table keyed by volatile id (every request
 * with a FileId looks one up), guarded by g_server.open_lock (rank
 * open_table).  o->link chains an open in its bucket. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/dir_enum.h"
#include "server/durable.h"
#include "server/io_pool.h"
#include "server/lease.h"
#include "server/server.h"
#include "server/vfs.h"

#include <string.h>

/* smb2_notify.c */
void notify_open_closed(struct smbd_open *o);

#define OPEN_BUCKETS 4096u   /* power of two */

static struct list_head open_buckets[OPEN_BUCKETS];   /* guarded by g_server.open_lock */
static pthread_once_t open_buckets_once = PTHREAD_ONCE_INIT;

static void open_buckets_init(void)
{
	for (unsigned i = 0; i < OPEN_BUCKETS; i++) list_init(&open_buckets[i]);
}

static struct list_head *bucket_of(uint64_t volatile_id)
{
	pthread_once(&open_buckets_once, open_buckets_init);
	return &open_buckets[(volatile_id * 0x9e3779b97f4a7c15ull >> 40) & (OPEN_BUCKETS - 1)];
}

void open_get(struct smbd_open *o)
{
	atomic_fetch_add(&o->refcount, 1);
}

/* The last reference frees memory only: the file itself was closed by
 * open_close_file after unpublication (or never published, see below). */
void open_put(struct smbd_open *o)
{
	if (!o) return;
	if (atomic_fetch_sub(&o->refcount, 1) != 1) return;
	/* An open that failed half-way through CREATE was never published and
	 * may still hold its fd or pipe. */
	if (o->inode_attached) {
		/* Every path that attaches an open detaches it before dropping
		 * its reference (CREATE's error paths, open_close_file). */
		log_error("open %s freed while attached to its inode", o->path ? o->path : "?");
		bool df, ds;
		inode_detach_open(o, &df, &ds);
	}
	if (o->pipe) pipe_close(o->pipe);
	if (o->fd >= 0) close(o->fd);
	dir_enum_free(o->dir);
	inode_put(o->stream_inode);
	inode_put(o->inode);
	if (o->tree) tree_put(o->tree);
	if (o->session) session_put(o->session);
	for (unsigned i = 0; i < o->nretired_paths; i++) free(o->retired_paths[i]);
	free(o->retired_paths);
	free(o->path);
	free(o);
}

/* Drops one from conn->nopens without ever going below zero. */
static void conn_opens_dec(struct smbd_conn *c)
{
	if (!c) return;
	unsigned cur = atomic_load(&c->nopens);
	while (cur > 0 && !atomic_compare_exchange_weak(&c->nopens, &cur, cur - 1))
		;
}

static int open_table_publish(struct smbd_open *o, uint64_t keep_persistent_id);

int open_table_insert(struct smbd_open *o)
{
	return open_table_publish(o, 0);
}

int open_table_reinsert(struct smbd_open *o, uint64_t persistent_id)
{
	return open_table_publish(o, persistent_id);
}

/* keep_persistent_id: 0 for a new open (persistent id = volatile id), else
 * the persistent id a reconnected durable open keeps (durable.c). */
static int open_table_publish(struct smbd_open *o, uint64_t keep_persistent_id)
{
	struct smbd_conn *c = o->conn;
	if (c) {
		unsigned max = c->cfg ? c->cfg->max_opens_per_conn : 0;
		unsigned cur = atomic_load(&c->nopens);
		do {
			if (max && cur >= max) return -1;
		} while (!atomic_compare_exchange_weak(&c->nopens, &cur, cur + 1));
	}
	open_get(o); /* the table's reference */
	smb_mutex_lock(&g_server.open_lock);
	uint64_t id;
	/* 0 and all-ones are never handed out: 0 marks an unpublished open,
	 * all-ones is the compound "related" FileId. */
	do {
		id = atomic_fetch_add(&g_server.next_file_id, 1) + 1;
	} while (id == 0 || id == UINT64_MAX);
	smb_id_store(&o->volatile_id, id);
	smb_id_store(&o->persistent_id, keep_persistent_id ? keep_persistent_id : id);
	o->ready = true;
	list_add_tail(&o->link, bucket_of(id));
	smb_mutex_unlock(&g_server.open_lock);
	return 0;
}

struct smbd_open *open_table_lookup(struct smbd_tree *t, uint64_t persistent_id, uint64_t volatile_id)
{
	if (volatile_id == 0) return NULL;
	struct smbd_open *found = NULL;
	struct list_head *pos, *b = bucket_of(volatile_id);
	smb_mutex_lock(&g_server.open_lock);
	list_for_each(pos, b) {
		struct smbd_open *o = list_entry(pos, struct smbd_open, link);
		if (o->volatile_id == volatile_id) {
			if (o->ready && o->tree == t && o->persistent_id == persistent_id) {
				open_get(o);
				found = o;
			}
			break;
		}
	}
	smb_mutex_unlock(&g_server.open_lock);
	return found;
}

bool open_table_any(bool (*fn)(const struct smbd_open *o, void *arg), void *arg)
{
	bool hit = false;
	pthread_once(&open_buckets_once, open_buckets_init);
	smb_mutex_lock(&g_server.open_lock);
	for (unsigned i = 0; i < OPEN_BUCKETS && !hit; i++) {
		struct list_head *pos;
		list_for_each(pos, &open_buckets[i]) {
			const struct smbd_open *o = list_entry(pos, struct smbd_open, link);
			if (o->ready && fn(o, arg)) {
				hit = true;
				break;
			}
		}
	}
	smb_mutex_unlock(&g_server.open_lock);
	return hit;
}

bool open_table_remove(struct smbd_open *o)
{
	smb_mutex_lock(&g_server.open_lock);
	if (o->volatile_id == 0) {
		smb_mutex_unlock(&g_server.open_lock);
		return false;
	}
	list_del(&o->link);
	smb_id_store(&o->volatile_id, 0);
	smb_id_store(&o->persistent_id, 0);
	o->ready = false;
	smb_mutex_unlock(&g_server.open_lock);
	conn_opens_dec(o->conn);
	open_put(o); /* the table's reference; the caller still holds one */
	return true;
}

/* Removes the file (or directory) an open names, as its last close after a
 * delete became pending (MS-FSA 2.1.5.4).  The name is removed through its
 * parent directory, opened beneath the share with openat2(RESOLVE_BENEATH),
 * and only if that name still is this inode: unlinkat never follows a final
 * symlink, so a link swapped in since CREATE cannot redirect the delete. */
static void delete_file_of(struct smbd_open *o)
{
	const struct smbd_share *sh = o->tree->share;
	const char *path = __atomic_load_n(&o->path, __ATOMIC_ACQUIRE);
	const char *colon = o->stream_inode ? strchr(path, ':') : NULL;
	char *file = colon ? strndup(path, (size_t)(colon - path)) : strdup(path);
	if (!file) return;
	if (!file[0]) {   /* the share root is never deleted */
		free(file);
		return;
	}
	char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;
	int pfd;
	if (slash) {
		*slash = 0;
		pfd = vfs_open(sh, file, O_PATH | O_DIRECTORY, 0, NULL);
	} else {
		pfd = fcntl(sh->root_fd, F_DUPFD_CLOEXEC, 0);
		if (pfd < 0) pfd = -errno;
	}
	if (pfd < 0) {
		log_debug("delete-on-close of %s: parent: errno %d", path, -pfd);
		free(file);
		return;
	}
	struct stat sb;
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0 || sb.st_dev != o->inode->dev ||
	    sb.st_ino != o->inode->ino) {
		log_debug("delete-on-close of %s: name no longer names the file", path);
	} else {
		/* A handle on the file, to remove its streams after its last
		 * name is gone: the open's own fd (the name was just checked to
		 * be its inode), or for a stream open, whose fd is the stream's
		 * data file, an O_PATH one on the base file. */
		int keep = o->stream_inode || o->fd < 0 ? openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC) : o->fd;
		bool is_dir = S_ISDIR(sb.st_mode);
		if (unlinkat(pfd, base, is_dir ? AT_REMOVEDIR : 0) < 0) {
			log_debug("delete-on-close of %s failed: errno %d", path, errno);
		} else if (keep >= 0 && (is_dir || sb.st_nlink <= 1)) {
			vfs_streams_remove_all(sh, keep);
		}
		if (keep >= 0 && keep != o->fd) close(keep);
	}
	close(pfd);
	free(file);
}

/* A deleted file's data is freed by the close of its last descriptor.
 * For a file this large that is worth a worker (io_pool_close_fd):
 * freeing a 1 GiB file's pages on tmpfs took 150-200 ms, during which the
 * loop served none of its connections. */
#define CLOSE_ON_WORKER_BYTES (16ull << 20)

/* Is fd a regular file with no name left and at least
 * CLOSE_ON_WORKER_BYTES allocated?  (Another descriptor may still hold
 * it; then this close frees nothing and the worker's hop cost a little.) */
static bool close_frees_large_file(int fd)
{
	struct stat sb;
	return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 0 &&
	       (unsigned long long)sb.st_blocks * 512 >= CLOSE_ON_WORKER_BYTES;
}

/* The close itself (open_close_file), once no I/O pool job holds o. */
static void close_file_now(struct smbd_open *o)
{
	if (o->pipe) {
		pipe_close(o->pipe);
		o->pipe = NULL;
	}
	/* A persistent open's on-disk record goes (durable.c). */
	durable_open_closed(o);
	/* Its byte-range locks go with it (MS-FSA 2.1.5.4), and blocked
	 * LOCKs waiting on them are re-checked (brl.c). */
	brl_close_open(o);
	/* A watched directory stops being watched (smb2_notify.c). */
	notify_open_closed(o);
	/* Unpublish from the inode first (DESIGN.md): from here on no share
	 * check sees this open; then do the file work outside every lock. */
	bool delete_file = false, delete_stream = false;
	/* Its oplock or lease goes first; a break waiting on it ends (lease.c).
	 * The CREATEs waiting for that resume only once o has left the inode
	 * (and a delete on close is done), so they cannot still see it. */
	struct lease_waiter *woken = lease_open_closed_deferred(o);
	inode_detach_open(o, &delete_file, &delete_stream);
	if ((delete_file || delete_stream) && o->tree && o->tree->share && o->tree->share->root_fd >= 0 &&
	    o->path) {
		/* The delete runs as the user of the closing open's session,
		 * also when the close comes from a teardown that is not
		 * impersonating (logoff, disconnect): the kernel then checks
		 * that user's right to remove the name. */
		bool switched = false;
		if (o->session && geteuid() == 0 && setfsuid((uid_t)-1) == 0 && o->session->uid != 0) {
			smbd_impersonate(o->session);
			switched = true;
		}
		if (delete_stream && !delete_file) {
			int bfd = open_base_fd(o);
			if (bfd >= 0) {
				vfs_stream_unlink(o->tree->share, bfd, open_stream_name(o));
				close(bfd);
			}
		}
		if (delete_file) delete_file_of(o);
		if (switched) smbd_unimpersonate();
	}
	if (delete_stream) inode_delete_done(o->stream_inode);
	if (delete_file) inode_delete_done(o->inode);
	lease_post_wakeups(woken);
	/* A name left its directory: the directory's leases break. */
	if (delete_file && o->path) lease_break_parent(o, o->path);
	if (o->fd >= 0) {
		/* Only the close after this open's delete can free the data
		 * (the last close of a delete-pending file does the unlink):
		 * no fstat on every other close. */
		if (delete_file && !o->is_dir && close_frees_large_file(o->fd)) io_pool_close_fd(o->fd);
		else close(o->fd);
		o->fd = -1;
	}
	dir_enum_free(o->dir);
	o->dir = NULL;
}

/* The close and the pins meet like this (all sequentially consistent):
 * the close sets close_requested, then reads io_jobs; a pin adds to
 * io_jobs, then reads close_requested.  At least one of the two sees the
 * other, so either the close sees the job and leaves the close to it, or
 * the job sees the close and backs out, or both (the job's unpin then
 * finds the count at zero and closes).  file_closed makes sure exactly one
 * of them runs the close.
 *
 * Why wait at all: a job's pwrite goes through a dup of the open's fd and
 * would land whenever it runs.  Once the open has left its inode another
 * client may open the file, with a share mode this open would have
 * refused or with OVERWRITE, and the late data would land on top of that
 * client's.  Windows and Samba likewise complete (or cancel) a handle's
 * outstanding I/O before its close takes effect. */
static void close_claimed(struct smbd_open *o)
{
	if (atomic_exchange(&o->file_closed, true)) return;
	close_file_now(o);
}

void open_close_file(struct smbd_open *o)
{
	atomic_store(&o->close_requested, true);
	unsigned jobs = atomic_load(&o->io_jobs);
	if (jobs) {
		log_debug("close of %s waits for %u I/O request(s) in flight", o->path ? o->path : "?", jobs);
		return;
	}
	close_claimed(o);
}

bool open_io_pin(struct smbd_open *o)
{
	atomic_fetch_add(&o->io_jobs, 1);
	if (!atomic_load(&o->close_requested)) return true;
	open_io_unpin(o);
	return false;
}

void open_io_unpin(struct smbd_open *o)
{
	if (atomic_fetch_sub(&o->io_jobs, 1) == 1 && atomic_load(&o->close_requested)) close_claimed(o);
}

void open_table_close_tree(struct smbd_tree *t)
{
	struct list_head victims;
	list_init(&victims);
	struct list_head *pos, *n;
	pthread_once(&open_buckets_once, open_buckets_init);
	smb_mutex_lock(&g_server.open_lock);
	for (unsigned i = 0; i < OPEN_BUCKETS; i++) {
		list_for_each_safe(pos, n, &open_buckets[i]) {
			struct smbd_open *o = list_entry(pos, struct smbd_open, link);
			if (o->tree != t) continue;
			list_del(&o->link);
			smb_id_store(&o->volatile_id, 0);
			smb_id_store(&o->persistent_id, 0);
			o->ready = false;
			list_add_tail(&o->link, &victims);
		}
	}
	smb_mutex_unlock(&g_server.open_lock);
	/* Outside the lock: close files, then drop the table's references. */
	list_for_each_safe(pos, n, &victims) {
		struct smbd_open *o = list_entry(pos, struct smbd_open, link);
		list_del(&o->link);
		conn_opens_dec(o->conn);
		/* A durable open whose connection is gone waits in the durable
		 * table (with the table's reference) for a reconnect. */
		if (durable_disconnect(o)) continue;
		open_close_file(o);
		open_put(o);
	}
}

struct smbd_open *smb2_req_open(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id)
{
	if (!req->tree) return NULL;
	/* MS-SMB2 3.3.5.2.7.2: in a related compound, a FileId of all ones
	 * names the open the previous CREATE (or earlier request) produced. */
	if (persistent_id == UINT64_MAX && volatile_id == UINT64_MAX) {
		if (!(req->hdr.flags & SMB2_FLAGS_RELATED_OPERATIONS) || !req->have_related_fid ||
		    !*req->have_related_fid)
			return NULL;
		persistent_id = *req->related_persistent;
		volatile_id = *req->related_volatile;
	}
	struct smbd_open *o = open_table_lookup(req->tree, persistent_id, volatile_id);
	if (o && o->session != req->session) {
		open_put(o);
		return NULL;
	}
	return o;
}

void smb2_req_set_related_fid(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id)
{
	if (!req->have_related_fid) return;
	*req->have_related_fid = true;
	*req->related_persistent = persistent_id;
	*req->related_volatile = volatile_id;
}

const char *open_stream_name(const struct smbd_open *o)
{
	if (!o->path || o->pipe) return NULL;
	const char *c = strchr(o->path, ':');
	return c ? c + 1 : NULL;
}

int open_base_fd(const struct smbd_open *o)
{
	const char *stream = open_stream_name(o);
	if (!stream) {
		int fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (!o->tree || !o->tree->share || o->tree->share->root_fd < 0) return -EBADF;
	char *base = strndup(o->path, (size_t)(stream - 1 - o->path));
	if (!base) return -ENOMEM;
	int fd = vfs_open(o->tree->share, base, O_PATH, 0, NULL);
	free(base);
	return fd;
}

int open_fstat_at(const struct smbd_open *o, int bfd, struct smb_file_stat *st)
{
	int r = vfs_fstat(bfd, st);
	if (r < 0 || !open_stream_name(o)) return r;
	struct smb_file_stat sst;
	r = vfs_fstat(o->fd, &sst);
	if (r == 0) smb_file_stat_as_stream(st, &sst);
	return r;
}

int open_fstat(const struct smbd_open *o, struct smb_file_stat *st)
{
	if (!open_stream_name(o)) return vfs_fstat(o->fd, st);
	int bfd = open_base_fd(o);
	if (bfd < 0) return bfd;
	int r = open_fstat_at(o, bfd, st);
	close(bfd);
	return r;
}
