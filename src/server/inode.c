/* The inode table: one struct smbd_inode per open file, keyed by (dev, ino)
 * (MS-FSA 2.1.1.5 File, 2.1.1.6 Stream), with the opens on it, share modes
 * (MS-FSA 2.1.5.1.2.2) and delete-pending (2.1.5.4, 2.1.5.14.3).
 *
 * Locks (common/lock.h): "inode_table" (60) guards the hash buckets and the
 * transitions of an entry's refcount to and from zero; "inode" (65) guards one
 * file's state; "inode_stream" (66) one stream's, nested inside its base
 * file's.  None of them is held across file I/O.
 *
 * Lifetime (../shared/DESIGN.md "Server state and lifetimes"): a lookup
 * returns the entry with a reference; the entry leaves the table when its
 * last reference goes, and that final inode_put only unlinks it under the
 * table lock and frees memory: it never sleeps and takes no lock a caller may
 * hold (callers hold no inode lock when they put, see server.h).  The refcount
 * reaches zero only under the table lock, so a concurrent lookup either sees
 * the entry with a nonzero count (and takes a reference) or does not find it
 * and creates a fresh one: a dying entry is never revived.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/lease.h"
#include "server/server.h"
#include "server/vfs.h"

#define INODE_BUCKETS 1024u   /* power of two */

static struct smb_mutex table_lock;               /* rank inode_table */
static struct list_head buckets[INODE_BUCKETS];   /* guarded by table_lock */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	smb_mutex_init(&table_lock, LOCK_RANK_INODE_TABLE, "inode_table");
	for (unsigned i = 0; i < INODE_BUCKETS; i++) list_init(&buckets[i]);
}

static unsigned bucket_of(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	return (unsigned)(h >> 32) & (INODE_BUCKETS - 1);
}

struct smbd_inode *inode_lookup(dev_t dev, ino_t ino, uint64_t generation, struct smbd_inode *base)
{
	pthread_once(&table_once, table_init);
	/* Allocate before taking the table lock: nothing that may block runs
	 * under it.  Unused if someone else created the entry first. */
	struct smbd_inode *fresh = calloc(1, sizeof(*fresh));
	if (!fresh) return NULL;
	unsigned b = bucket_of(dev, ino);
	struct smbd_inode *found = NULL;
	smb_mutex_lock(&table_lock);
	struct list_head *pos;
	list_for_each(pos, &buckets[b]) {
		struct smbd_inode *in = list_entry(pos, struct smbd_inode, hash_link);
		/* The kind must match too: a file's entry can outlive the
		 * file (a reference held by a break timer, a lease, a
		 * disconnected durable open) and its inode number can be
		 * reused at once, by a stream's data file as much as by a
		 * file.  A stream taken for a file, or for another file's
		 * stream, would carry the wrong base and lock rank (inode
		 * inside inode: the debug lock check aborts).  And the
		 * generation must match: a new file that got a lingering
		 * entry's inode number would otherwise inherit the old file's
		 * opens, share modes, delete-pending and leases (ext4 reuses a
		 * free inode number at once). */
		if (in->dev == dev && in->ino == ino && in->generation == generation && in->base == base) {
			/* Nonzero: zero is reached only under this lock, together
			 * with the removal from the bucket. */
			atomic_fetch_add(&in->refcount, 1);
			found = in;
			break;
		}
	}
	if (!found) {
		found = fresh;
		fresh = NULL;
		atomic_init(&found->refcount, 1);   /* the caller's */
		found->dev = dev;
		found->ino = ino;
		found->generation = generation;
		if (base) {
			inode_get(base);            /* the stream inode's reference on its base */
			found->base = base;
		}
		smb_mutex_init(&found->lock, base ? LOCK_RANK_INODE_STREAM : LOCK_RANK_INODE,
			       base ? "inode_stream" : "inode");
		list_init(&found->opens);
		list_add(&found->hash_link, &buckets[b]);   /* complete before it is visible */
	}
	smb_mutex_unlock(&table_lock);
	free(fresh);
	return found;
}

void inode_get(struct smbd_inode *in)
{
	atomic_fetch_add(&in->refcount, 1);
}

/* Debug aid, called from a debugger (gdb "call smbd_debug_dump_waits()")
 * when a test finds the server stuck: logs, at error level, every file with
 * CREATEs waiting for a break, with its oplock/lease state.  Takes the
 * table lock, then each such inode's lock (rank order), and writes only to
 * memory under them; the log is written after.  A debugger runs it while
 * the server's threads are stopped, which is safe as long as none of them
 * holds these locks at that moment. */
void smbd_debug_dump_waits(void)
{
	pthread_once(&table_once, table_init);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out) return;
	smb_mutex_lock(&table_lock);
	unsigned files = 0;
	for (unsigned b = 0; b < INODE_BUCKETS; b++) {
		struct list_head *pos;
		list_for_each(pos, &buckets[b]) {
			lease_debug_dump_inode(list_entry(pos, struct smbd_inode, hash_link), out);
			files++;
		}
	}
	smb_mutex_unlock(&table_lock);
	fclose(out);
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next) *next++ = 0;
		log_error("debug dump: %s", line);
	}
	free(text);
	log_error("debug dump: %u files in the inode table", files);
}

void inode_put(struct smbd_inode *in)
{
	if (!in) return;
	/* Fast path: not the last reference, no lock needed. */
	int cur = atomic_load(&in->refcount);
	while (cur > 1) {
		if (atomic_compare_exchange_weak(&in->refcount, &cur, cur - 1)) return;
	}
	/* Possibly the last: decide under the table lock, where lookups take
	 * their references, so the decision cannot race a lookup (DESIGN.md:
	 * the final release never sleeps and takes no lock its callers may
	 * hold; it unpublishes first and frees outside the lock). */
	smb_mutex_lock(&table_lock);
	if (atomic_fetch_sub(&in->refcount, 1) != 1) {
		smb_mutex_unlock(&table_lock);
		return;
	}
	list_del(&in->hash_link);
	smb_mutex_unlock(&table_lock);
	/* Nobody can find it any more and nobody holds a reference: no opens
	 * are attached (each holds one), so only memory is left. */
	struct smbd_inode *base = in->base;
	smb_mutex_destroy(&in->lock);
	free(in);
	inode_put(base);
}

/* MS-FSA 2.1.5.1.2.2: true when the two opens' accesses and sharing modes
 * exclude each other.  Opens whose access has none of the sharing bits
 * (attributes, synchronize, read control ...) never conflict. */
static bool sharing_conflict(uint32_t new_access, uint32_t new_share, uint32_t old_access, uint32_t old_share)
{
	if (!(new_access & INODE_SHARING_ACCESS) || !(old_access & INODE_SHARING_ACCESS)) return false;
	if (!(old_share & FILE_SHARE_READ) && (new_access & (FILE_READ_DATA | FILE_EXECUTE))) return true;
	if (!(old_share & FILE_SHARE_WRITE) && (new_access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) return true;
	if (!(old_share & FILE_SHARE_DELETE) && (new_access & DELETE)) return true;
	if (!(new_share & FILE_SHARE_READ) && (old_access & (FILE_READ_DATA | FILE_EXECUTE))) return true;
	if (!(new_share & FILE_SHARE_WRITE) && (old_access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) return true;
	if (!(new_share & FILE_SHARE_DELETE) && (old_access & DELETE)) return true;
	return false;
}

uint32_t inode_attach_open(struct smbd_open *o)
{
	struct smbd_inode *in = o->inode, *sin = o->stream_inode;
	uint32_t status = STATUS_SUCCESS;
	struct list_head *pos;
	smb_mutex_lock(&in->lock);
	/* A file whose delete is pending cannot be opened again, not even a
	 * stream of it (MS-FSA 2.1.5.1.2). */
	if (in->delete_pending || in->deleting) {
		status = STATUS_DELETE_PENDING;
		goto out;
	}
	if (sin) {
		/* Sharing is per stream: check only this stream's opens. */
		smb_mutex_lock(&sin->lock);
		if (sin->delete_pending || sin->deleting) {
			status = STATUS_DELETE_PENDING;
		} else {
			list_for_each(pos, &sin->opens) {
				struct smbd_open *x = list_entry(pos, struct smbd_open, stream_link);
				if (sharing_conflict(o->access, o->share_access, x->access, x->share_access)) {
					status = STATUS_SHARING_VIOLATION;
					break;
				}
			}
		}
		if (!status) {
			list_add_tail(&o->stream_link, &sin->opens);
			sin->nopens++;
		}
		smb_mutex_unlock(&sin->lock);
		if (status) goto out;
	} else {
		list_for_each(pos, &in->opens) {
			struct smbd_open *x = list_entry(pos, struct smbd_open, inode_link);
			if (x->stream_inode) {
				/* Deleting the file deletes its streams, so DELETE
				 * access needs every stream open to share delete. */
				if ((o->access & DELETE) && (x->access & INODE_SHARING_ACCESS) &&
				    !(x->share_access & FILE_SHARE_DELETE)) {
					status = STATUS_SHARING_VIOLATION;
					break;
				}
				continue;
			}
			if (sharing_conflict(o->access, o->share_access, x->access, x->share_access)) {
				status = STATUS_SHARING_VIOLATION;
				break;
			}
		}
		if (status) goto out;
	}
	list_add_tail(&o->inode_link, &in->opens);
	in->nopens++;
	o->inode_attached = true;
out:
	smb_mutex_unlock(&in->lock);
	return status;
}

void inode_detach_open(struct smbd_open *o, bool *delete_file, bool *delete_stream)
{
	*delete_file = *delete_stream = false;
	struct smbd_inode *in = o->inode, *sin = o->stream_inode;
	if (!in) return;
	smb_mutex_lock(&in->lock);
	if (!o->inode_attached) {
		smb_mutex_unlock(&in->lock);
		return;
	}
	if (sin) {
		smb_mutex_lock(&sin->lock);
		list_del(&o->stream_link);
		sin->nopens--;
		/* MS-FSA 2.1.5.4: closing a FILE_DELETE_ON_CLOSE open makes its
		 * stream delete-pending; the last close deletes it. */
		if (o->delete_on_close) sin->delete_pending = true;
		if (sin->nopens == 0 && sin->delete_pending && !sin->deleting) {
			sin->deleting = true;
			*delete_stream = true;
		}
		smb_mutex_unlock(&sin->lock);
	} else if (o->delete_on_close) {
		in->delete_pending = true;
	}
	list_del(&o->inode_link);
	in->nopens--;
	o->inode_attached = false;
	if (in->nopens == 0 && in->delete_pending && !in->deleting) {
		in->deleting = true;
		*delete_file = true;
	}
	smb_mutex_unlock(&in->lock);
}

void inode_delete_done(struct smbd_inode *in)
{
	/* The name is gone: a later file that gets the same inode number is
	 * a different file and must not inherit the pending delete. */
	smb_mutex_lock(&in->lock);
	in->deleting = false;
	in->delete_pending = false;
	smb_mutex_unlock(&in->lock);
}

bool open_delete_pending(const struct smbd_open *o)
{
	struct smbd_inode *in = o->stream_inode ? o->stream_inode : o->inode;
	if (!in) return false;
	smb_mutex_lock(&in->lock);
	bool p = in->delete_pending;
	smb_mutex_unlock(&in->lock);
	/* A stream of a file whose delete is pending goes with the file. */
	if (!p && o->stream_inode) {
		smb_mutex_lock(&o->inode->lock);
		p = o->inode->delete_pending;
		smb_mutex_unlock(&o->inode->lock);
	}
	return p;
}

void open_set_delete_pending(struct smbd_open *o, bool pending)
{
	struct smbd_inode *in = o->stream_inode ? o->stream_inode : o->inode;
	if (!in) return;
	smb_mutex_lock(&in->lock);
	in->delete_pending = pending;
	smb_mutex_unlock(&in->lock);
	/* Clearing the disposition also cancels this handle's own
	 * delete-on-close (MS-FSA 2.1.5.14.3 sets/clears Open.Stream's
	 * DeletePending; Windows clears the open's flag with it). */
	if (!pending) o->delete_on_close = false;
}

unsigned inode_other_opens(struct smbd_open *o)
{
	struct smbd_inode *in = o->inode;
	if (!in) return 0;
	smb_mutex_lock(&in->lock);
	unsigned n = in->nopens - (o->inode_attached ? 1 : 0);
	smb_mutex_unlock(&in->lock);
	return n;
}

bool inode_rename_blocked(struct smbd_open *o)
{
	struct smbd_inode *in = o->inode;
	if (!in) return false;
	bool blocked = false;
	struct list_head *pos;
	smb_mutex_lock(&in->lock);
	list_for_each(pos, &in->opens) {
		struct smbd_open *x = list_entry(pos, struct smbd_open, inode_link);
		if (x == o) continue;
		if ((x->access & INODE_SHARING_ACCESS) && !(x->share_access & FILE_SHARE_DELETE)) {
			blocked = true;
			break;
		}
	}
	smb_mutex_unlock(&in->lock);
	return blocked;
}

/* Replaces x->path by a new string; the old one is retired, not freed, as
 * another thread may be reading it (server.h, retired_paths).  Called with
 * the file's inode lock held.  On allocation failure the open keeps its old
 * name (a stale name is better than a dangling one). */
static void swap_path(struct smbd_open *x, char *np)
{
	char **r = realloc(x->retired_paths, (x->nretired_paths + 1) * sizeof(*r));
	if (!r) {
		free(np);
		return;
	}
	x->retired_paths = r;
	r[x->nretired_paths++] = x->path;
	__atomic_store_n(&x->path, np, __ATOMIC_RELEASE);
}

void inode_update_paths(struct smbd_open *o, const char *new_path)
{
	struct smbd_inode *in = o->inode;
	if (!in) return;
	struct list_head *pos;
	smb_mutex_lock(&in->lock);
	/* Only the opens that reached the file through the renamed name move:
	 * same share (another share may reach it by another relative path)
	 * and same old name (another hard link keeps its own). */
	char *old = strdup(o->path ? o->path : "");
	if (!old) {
		smb_mutex_unlock(&in->lock);
		return;
	}
	const struct smbd_share *sh = o->tree ? o->tree->share : NULL;
	list_for_each(pos, &in->opens) {
		struct smbd_open *x = list_entry(pos, struct smbd_open, inode_link);
		if (!x->path || x == o || !x->tree || x->tree->share != sh) continue;
		/* A stream open's path is "file:stream": keep the stream part. */
		const char *colon = x->stream_inode ? strchr(x->path, ':') : NULL;
		size_t flen = colon ? (size_t)(colon - x->path) : strlen(x->path);
		if (flen != strlen(old) || memcmp(x->path, old, flen) != 0) continue;
		size_t n = strlen(new_path) + (colon ? strlen(colon) : 0) + 1;
		char *np = malloc(n);
		if (!np) continue;
		strcpy(np, new_path);
		if (colon) strcat(np, colon);
		swap_path(x, np);
	}
	if (o->path) {
		char *np = strdup(new_path);
		if (np) swap_path(o, np);
	}
	free(old);
	smb_mutex_unlock(&in->lock);
}

void open_set_path(struct smbd_open *o, char *new_path)
{
	if (!o->inode) {
		char *old = o->path;
		o->path = new_path;
		free(old);
		return;
	}
	smb_mutex_lock(&o->inode->lock);
	swap_path(o, new_path);
	smb_mutex_unlock(&o->inode->lock);
}

void inode_move_stream(struct smbd_open *o, struct smbd_inode *new_sin)
{
	struct smbd_inode *in = o->inode, *old = o->stream_inode;
	smb_mutex_lock(&in->lock);
	if (o->inode_attached) {
		/* Both stream locks have the same rank: never held together. */
		smb_mutex_lock(&old->lock);
		list_del(&o->stream_link);
		old->nopens--;
		smb_mutex_unlock(&old->lock);
		smb_mutex_lock(&new_sin->lock);
		list_add_tail(&o->stream_link, &new_sin->opens);
		new_sin->nopens++;
		smb_mutex_unlock(&new_sin->lock);
	}
	o->stream_inode = new_sin;   /* takes over the caller's reference */
	smb_mutex_unlock(&in->lock);
	inode_put(old);                 /* the open's reference on the old stream */
}
