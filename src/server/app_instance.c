/* AppInstanceId: closing the open an application instance left behind
 * (MS-SMB2 3.3.5.9.13).  See app_instance.h.
 *
 * The old open may belong to any connection, on any loop thread.  It is
 * closed the way a CLOSE closes it (unpublished from the open table, then
 * open_close_file), on its own loop thread, so nothing it is doing there
 * runs concurrently with the close; its next CLOSE gets STATUS_FILE_CLOSED.
 * The new CREATE waits on the file's waiter list (lease.c) and runs again
 * when the close is done. */
#include <string.h>

#include "common/log.h"
#include "server/app_instance.h"
#include "server/durable.h"
#include "server/lease.h"
#include "server/loop.h"

/* 3.3.5.9.13: the same AppInstanceId, the same file (compared as the same
 * inode rather than by name, so no other thread's path is read), the same
 * share, and another client. */
static bool replaces(const struct smbd_open *old, const struct smbd_open *o)
{
	return old != o && old->has_app_instance && !memcmp(old->app_instance_id, o->app_instance_id, 16) &&
	       old->inode == o->inode && old->tree && o->tree && old->tree->share == o->tree->share &&
	       memcmp(old->client_guid, o->client_guid, 16) != 0;
}

struct find_replaced {
	const struct smbd_open *o;
	struct smbd_open *found;      /* with a reference */
};

/* Under the open table lock: the open is published; take a reference. */
static bool find_fn(const struct smbd_open *x, void *arg)
{
	struct find_replaced *f = arg;
	if (!replaces(x, f->o)) return false;
	f->found = (struct smbd_open *)x;
	open_get(f->found);
	return true;
}

/* On the old open's loop thread, as a CLOSE would (smb2_close.c). */
static void close_task(void *arg)
{
	struct smbd_open *old = arg;
	if (open_table_remove(old)) {
		log_debug("app instance: open of %s closed for a new instance", old->path ? old->path : "?");
		open_close_file(old);
	}
	open_put(old);   /* the task's reference */
}

static void start_close(void *arg)
{
	struct smbd_open *old = arg;
	/* o->conn changes when the open's connection is lost (durable.c), under
	 * the lock of its lease inode: read it there, with a reference. */
	struct smbd_inode *in = old->stream_inode ? old->stream_inode : old->inode;
	smb_mutex_lock(&in->lock);
	struct smbd_conn *c = old->conn;
	if (c) conn_get(c);
	smb_mutex_unlock(&in->lock);
	/* No connection: it became a disconnected durable open meanwhile; the
	 * CREATE runs again after the break time and closes it then. */
	if (!c) return;
	open_get(old);   /* the task's */
	if (loop_post(c->loop, close_task, old) < 0) open_put(old);
	conn_put(c);
}

static bool durable_match(const struct smbd_open *x, const void *arg)
{
	return replaces(x, arg);
}

uint32_t app_instance_close_previous(struct smb2_request *req, struct smbd_open *o)
{
	if (!o->has_app_instance || !o->inode) return STATUS_SUCCESS;
	/* Disconnected durable opens belong to no loop: closed here. */
	unsigned n = durable_close_matching(durable_match, o);
	if (n) log_debug("app instance: %u disconnected open(s) of %s closed for a new instance", n,
			 o->path ? o->path : "?");
	struct find_replaced f = { o, NULL };
	if (!open_table_any(find_fn, &f)) return STATUS_SUCCESS;
	uint32_t st = lease_create_wait_close(req, o, start_close, f.found);
	open_put(f.found);   /* find_fn's reference; the task holds its own */
	return st;
}
