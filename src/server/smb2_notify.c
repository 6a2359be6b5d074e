/* CHANGE_NOTIFY (MS-SMB2 3.3.5.19; MS-FSA 2.1.5.10 for the semantics).
 *
 * The first CHANGE_NOTIFY on a directory handle starts watching it
 * (notify_watch.c, inotify): from then on, until the handle is closed, every
 * change that matches the handle's CompletionFilter is collected for it as
 * FILE_NOTIFY_INFORMATION records (MS-FSCC 2.7.1).  As on Windows, the
 * filter, WATCH_TREE and the size of the collection buffer are those of the
 * first request; later requests on the handle only set how much they accept
 * (smbtorture smb2.notify.mask-change and valid-req show this).
 *  - A request that finds collected changes completes at once with them.
 *  - Otherwise it goes asynchronous (3.3.4.2) and the next batch of changes
 *    completes the oldest pending request of the handle.
 *  - Changes that do not fit the request's OutputBufferLength, or that
 *    overflow the collection buffer, or that were lost (inotify queue
 *    overflow, a subdirectory that could not be watched), complete it with
 *    STATUS_NOTIFY_ENUM_DIR and no records: the client re-reads the
 *    directory.
 *  - CANCEL answers STATUS_CANCELLED; closing the handle, TREE_DISCONNECT
 *    and LOGOFF answer STATUS_NOTIFY_CLEANUP (MS-FSA 2.1.5.4); a torn-down
 *    connection answers nothing.
 *  - Most changes are seen by inotify.  One is not: a file renamed through
 *    a handle is reported as FILE_ACTION_MODIFIED when that handle closes
 *    (notify_file_renamed below).
 *
 * Threads.  struct notify_open is shared by the watcher thread (which adds
 * records, under notify_lock) and the loop thread owning the connection
 * (requests, completion, cancel).  Completion always happens on that loop
 * thread: the watcher posts notify_deliver there with loop_post, holding a
 * reference.  The pending-request list is touched by the loop thread only.
 *
 * Lifetime.  A notify_open is created by the first request and published in
 * notify_opens; it holds references on its open and connection.  The open's
 * close (open_close_file -> notify_open_closed) unpublishes it and removes
 * the watch; pending requests then end through the async core (sweep of
 * closed handles) and drop their references; the last one frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/loop.h"
#include "server/notify_watch.h"
#include "server/server.h"
#include "server/vfs.h"
#include "wire/notify.h"

/* Filter bits a client may ask for (MS-SMB2 2.2.35). */
#define NOTIFY_FILTER_ALL 0x00000FFFu

struct notify_open {
	atomic_int refcount;          /* owners: notify_opens while published (1); each pending request (1);
	                                 each posted notify_deliver (1) */
	struct list_head link;        /* notify_opens, guarded by notify_lock */
	struct smbd_open *open;       /* owner: this (1 reference) */
	struct smbd_conn *conn;       /* owner: this (1 reference); completions run on conn->loop */
	struct notify_watch *watch;   /* owned; removed when the open closes */
	uint32_t filter;              /* from the first request; immutable */
	bool tree;                    /* WATCH_TREE of the first request; immutable */
	uint32_t buffer_max;          /* OutputBufferLength of the first request; immutable */

	/* Guarded by notify_lock: */
	struct wbuf records;          /* collected FILE_NOTIFY_INFORMATION records */
	long last_off;                /* offset of the last record in records, -1 = none */
	uint32_t last_action;         /* the last record, to fold repeats */
	char *last_name;
	bool overflow;                /* changes were lost: the next completion is ENUM_DIR */
	/* What the next completion of a waiting request says, taken from the
	 * collection when the watcher hands a batch over: a waiting request
	 * completes with the changes of that moment, as on Windows, and later
	 * ones are collected for the next request. */
	bool ready_set;
	uint32_t ready_status;        /* nonzero: the completion carries this status and no records */
	bool delete_pending;          /* the directory is being deleted: every request answers
	                                 STATUS_DELETE_PENDING (MS-FSA 2.1.5.10) */
	uint8_t *ready; size_t ready_len;
	bool closed;                  /* the handle was closed: nothing more is delivered */
	bool post_queued;             /* a notify_deliver is on its way to the loop */
	unsigned npending;            /* requests waiting (mirror of pending's length) */

	struct list_head pending;     /* struct notify_req, oldest first; loop thread only */
};

struct notify_req {
	struct list_head link;        /* no->pending, loop thread */
	struct notify_open *no;       /* owner: this (1 reference) */
	struct smbd_async *async;
	uint32_t output_len;          /* this request's OutputBufferLength */
};

static struct smb_mutex notify_lock;
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;
static struct list_head notify_opens;
static atomic_uint notify_nopens;   /* fast path for open_close_file on every close */

static void notify_init(void)
{
	smb_mutex_init(&notify_lock, LOCK_RANK_NOTIFY, "notify");
	list_init(&notify_opens);
}

static void notify_open_get(struct notify_open *no) { atomic_fetch_add(&no->refcount, 1); }

/* Frees memory only: the watch is gone by the time the last reference
 * drops (removed at close, or never created). */
static void notify_open_put(struct notify_open *no)
{
	if (atomic_fetch_sub(&no->refcount, 1) != 1) return;
	wbuf_free(&no->records);
	free(no->last_name);
	free(no->ready);
	open_put(no->open);
	conn_put(no->conn);
	free(no);
}

/* notify_lock held.  Drops what was collected. */
static void notify_reset_locked(struct notify_open *no)
{
	no->records.len = 0;
	no->records.err = false;
	no->last_off = -1;
	free(no->last_name);
	no->last_name = NULL;
	no->last_action = 0;
}

/* notify_lock held.  Adds one record, or marks the overflow. */
static void notify_add_locked(struct notify_open *no, uint32_t action, const char *name)
{
	if (no->closed || no->overflow) return;
	/* A second identical "modified" in a row tells the client nothing new
	 * (a write is often several inotify events); Windows folds them too. */
	if (action == FILE_ACTION_MODIFIED && no->last_action == action && no->last_name &&
	    !strcmp(no->last_name, name))
		return;
	/* Names go to the client with Windows separators. */
	char *wname = strdup(name);
	if (!wname) {
		no->overflow = true;
		return;
	}
	for (char *p = wname; *p; p++)
		if (*p == '/') *p = '\\';
	size_t before = no->records.len;
	if (!smb2_notify_info_append(&no->records, &no->last_off, action, wname) ||
	    no->records.len > no->buffer_max) {
		/* 3.3.5.19 / MS-FSA 2.1.5.10: more changes than the buffer
		 * holds: they are dropped and the client re-enumerates. */
		(void)before;
		notify_reset_locked(no);
		no->overflow = true;
		free(wname);
		return;
	}
	free(no->last_name);
	no->last_name = wname;
	no->last_action = action;
}

static void notify_deliver(void *arg);

/* notify_lock held.  Moves the collection to the ready slot (if free). */
static void notify_make_ready_locked(struct notify_open *no)
{
	if (no->ready_set) return;
	if (no->delete_pending) {
		no->ready_status = STATUS_DELETE_PENDING;
		no->ready_set = true;
		return;
	}
	if (no->overflow) {
		no->overflow = false;
		notify_reset_locked(no);
		no->ready_status = STATUS_NOTIFY_ENUM_DIR;
		no->ready_set = true;
		return;
	}
	if (no->last_off < 0) return;
	uint8_t *p = malloc(no->records.len);
	if (!p) return;   /* stays collected; the next batch retries */
	memcpy(p, no->records.p, no->records.len);
	no->ready = p;
	no->ready_len = no->records.len;
	no->ready_status = 0;
	no->ready_set = true;
	notify_reset_locked(no);
}

/* notify_lock held.  Schedules delivery on the owning loop when a request
 * waits and there is something to say. */
static void notify_kick_locked(struct notify_open *no)
{
	if (no->closed || !no->npending || no->post_queued) return;
	notify_make_ready_locked(no);
	if (!no->ready_set) return;
	notify_open_get(no);
	no->post_queued = true;
	if (loop_post(no->conn->loop, notify_deliver, no) != 0) {
		no->post_queued = false;
		/* Out of memory: the next change or request retries.  The
		 * reference is ours to drop, but not under the lock if it
		 * could be the last: it cannot be, the list holds one. */
		atomic_fetch_sub(&no->refcount, 1);
	}
}

/* Watcher thread, notify_watch lock held (ranked below notify). */
static void notify_on_change(void *arg, const struct notify_watch_event *ev)
{
	struct notify_open *no = arg;
	smb_mutex_lock(&notify_lock);
	switch (ev->kind) {
	case NOTIFY_WATCH_CHANGE:
		if (ev->filter & no->filter) notify_add_locked(no, ev->action, ev->name);
		break;
	case NOTIFY_WATCH_OVERFLOW:
		notify_reset_locked(no);
		no->overflow = true;
		break;
	case NOTIFY_WATCH_ROOT_GONE:
		/* The directory was removed (locally: through SMB it cannot go
		 * while this handle is open).  Like a delete-pending directory:
		 * its requests answer STATUS_DELETE_PENDING. */
		no->delete_pending = true;
		notify_kick_locked(no);
		break;
	case NOTIFY_WATCH_BATCH_END:
		notify_kick_locked(no);
		break;
	}
	smb_mutex_unlock(&notify_lock);
}

/* Takes what was collected for a request accepting output_len bytes.
 * notify_lock held.  Returns the status; *body and *len the records (owned by
 * the caller) for STATUS_SUCCESS.  Returns STATUS_PENDING when nothing is
 * collected. */
static uint32_t notify_take_locked(struct notify_open *no, uint32_t output_len, uint8_t **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	if (no->ready_set) {
		uint32_t st = STATUS_SUCCESS;
		if (no->ready_status || no->ready_len > output_len) {
			/* 3.3.5.19: the changes do not fit this request's buffer. */
			st = no->ready_status ? no->ready_status : STATUS_NOTIFY_ENUM_DIR;
			free(no->ready);
		} else {
			*body = no->ready;
			*len = no->ready_len;
		}
		no->ready = NULL;
		no->ready_len = 0;
		no->ready_set = false;
		no->ready_status = 0;
		return st;
	}
	if (no->delete_pending) return STATUS_DELETE_PENDING;
	if (no->overflow) {
		no->overflow = false;
		notify_reset_locked(no);
		return STATUS_NOTIFY_ENUM_DIR;
	}
	if (no->last_off < 0) return STATUS_PENDING;
	if (no->records.len > output_len) {
		/* 3.3.5.19: the changes do not fit this request's buffer. */
		notify_reset_locked(no);
		return STATUS_NOTIFY_ENUM_DIR;
	}
	uint8_t *p = malloc(no->records.len);
	if (!p) return STATUS_PENDING;
	memcpy(p, no->records.p, no->records.len);
	*body = p;
	*len = no->records.len;
	notify_reset_locked(no);
	return STATUS_SUCCESS;
}

/* Loop thread of no->conn: completes the oldest pending request. */
static void notify_deliver(void *arg)
{
	struct notify_open *no = arg;
	struct notify_req *r = NULL;
	uint8_t *records = NULL;
	size_t len = 0;
	uint32_t status = STATUS_PENDING;
	smb_mutex_lock(&notify_lock);
	no->post_queued = false;
	if (!no->closed && !list_empty(&no->pending)) {
		r = list_entry(no->pending.next, struct notify_req, link);
		status = notify_take_locked(no, r->output_len, &records, &len);
		if (status != STATUS_PENDING) {
			list_del(&r->link);
			no->npending--;
		}
	}
	smb_mutex_unlock(&notify_lock);
	if (r && status != STATUS_PENDING) {
		if (status == STATUS_SUCCESS) {
			struct wbuf w;
			wbuf_init(&w, 16 + len);
			smb2_notify_rsp_encode(&w, records, len);
			if (w.err) {
				wbuf_free(&w);
				smbd_async_complete(r->async, STATUS_NOTIFY_ENUM_DIR, NULL, 0);
			} else {
				smbd_async_complete(r->async, status, w.p, w.len);
				wbuf_free(&w);
			}
		} else {
			smbd_async_complete(r->async, status, NULL, 0);
		}
		free(records);
		notify_open_put(r->no);
		free(r);
		/* Changes collected meanwhile go to the next waiting request. */
		smb_mutex_lock(&notify_lock);
		notify_kick_locked(no);
		smb_mutex_unlock(&notify_lock);
	}
	notify_open_put(no);
}

/* Loop thread: the async core ends a pending request. */
static uint32_t notify_cancel(struct smbd_async *a, enum smbd_async_reason why, void *arg)
{
	(void)a;
	struct notify_req *r = arg;
	struct notify_open *no = r->no;
	smb_mutex_lock(&notify_lock);
	list_del(&r->link);
	no->npending--;
	smb_mutex_unlock(&notify_lock);
	free(r);
	notify_open_put(no);
	/* 3.3.5.16: a cancelled request completes with STATUS_CANCELLED; a
	 * notify whose handle is closed completes with STATUS_NOTIFY_CLEANUP
	 * (MS-FSA 2.1.5.4 close processing), as does one whose tree or session
	 * is torn down. */
	return why == SMBD_ASYNC_CANCELLED ? STATUS_CANCELLED : STATUS_NOTIFY_CLEANUP;
}

/* Finds the notify state of o; with a reference.  NULL if none. */
static struct notify_open *notify_find(const struct smbd_open *o)
{
	struct notify_open *found = NULL;
	smb_mutex_lock(&notify_lock);
	struct list_head *pos;
	list_for_each(pos, &notify_opens) {
		struct notify_open *no = list_entry(pos, struct notify_open, link);
		if (no->open == o) {
			notify_open_get(no);
			found = no;
			break;
		}
	}
	smb_mutex_unlock(&notify_lock);
	return found;
}

/* Starts watching for o with the first request's parameters. */
static struct notify_open *notify_start(struct smbd_conn *c, struct smbd_open *o, const struct smb2_notify_req *nr)
{
	struct notify_open *no = calloc(1, sizeof(*no));
	if (!no) return NULL;
	atomic_init(&no->refcount, 1);   /* notify_opens' */
	open_get(o);
	no->open = o;
	conn_get(c);
	no->conn = c;
	no->filter = nr->completion_filter & NOTIFY_FILTER_ALL;
	no->tree = (nr->flags & SMB2_WATCH_TREE) != 0;
	no->buffer_max = nr->output_buffer_length;
	wbuf_init(&no->records, 256);
	no->last_off = -1;
	list_init(&no->pending);
	no->watch = notify_watch_add(o->fd, no->tree, notify_on_change, no);
	if (!no->watch) {
		/* No watch (inotify limit, max_user_watches): every request of
		 * this handle answers NOTIFY_ENUM_DIR, the documented way of
		 * saying "changes were not tracked, re-read the directory". */
		log_warn("notify: cannot watch %s: %s", o->path ? o->path : "?", strerror(errno));
		no->overflow = true;
	}
	smb_mutex_lock(&notify_lock);
	list_add_tail(&no->link, &notify_opens);
	smb_mutex_unlock(&notify_lock);
	atomic_fetch_add(&notify_nopens, 1);
	return no;
}

/* A rename reports the name change (inotify: FILE_ACTION_RENAMED_OLD_NAME
 * and _NEW_NAME under FILE_NOTIFY_CHANGE_FILE_NAME or _DIR_NAME within a
 * directory, FILE_ACTION_REMOVED and _ADDED between directories: MS-FSA
 * 2.1.5.14.11, MS-FSCC 2.7.1).  For a file, not a directory, Windows also
 * reports the renamed file as FILE_ACTION_MODIFIED under
 * FILE_NOTIFY_CHANGE_ATTRIBUTES and FILE_NOTIFY_CHANGE_CREATION, under its
 * new name, and does so when the handle that renamed it is closed, not at
 * once: the rename changed the file's own metadata (its change time), which
 * the file system reports at the handle's cleanup.  (MODIFIED means "a
 * change in the time stamp or attributes", MS-FSCC 2.7.1.)  smbtorture,
 * written against Windows, shows both halves: smb2.notify.mask-change watches
 * ATTRIBUTES only, renames files through handles it then closes, and gets
 * one MODIFIED per close, named by the name at that moment; smb2.notify.rec
 * watches NAME|ATTRIBUTES|CREATION, renames files through handles it never
 * closes, and gets the name changes only; raw.notify.mask's path-based
 * rename (open, rename, close) is seen under FILE_NAME, ATTRIBUTES and
 * CREATION.  So the rename marks the open, and its close reports.  A
 * directory's rename reports names only (smb2.notify.mask-change,
 * subdir-name\subname1). */
void notify_file_renamed(struct smbd_open *o)
{
	if (!o || o->is_dir || o->pipe || open_stream_name(o)) return;
	/* Renamed again before the close: one report, under the name it has
	 * then. */
	atomic_store(&o->renamed_unreported, true);
}

/* o is closing: if a rename through it is pending report (see above),
 * report it now under the file's current name. */
static void notify_renamed_closed(struct smbd_open *o)
{
	/* A file deleted by this close is reported as removed (inotify); a
	 * "modified" just before that tells nobody anything.  Nobody
	 * watching: nothing to do. */
	const struct smbd_share *sh = o->tree ? o->tree->share : NULL;
	if (atomic_load(&notify_nopens) != 0 && sh && sh->root_fd >= 0 && o->path && o->path[0] && o->inode &&
	    !o->delete_on_close && !open_delete_pending(o)) {
		const char *base = NULL;
		int pfd = vfs_open_parent(sh->root_fd, o->path, &base);
		struct stat dir_st, st;
		/* Only if the name still names this file (it may have been
		 * renamed or removed locally meanwhile). */
		if (pfd >= 0 && base && fstat(pfd, &dir_st) == 0 &&
		    fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == o->inode->dev &&
		    st.st_ino == o->inode->ino)
			notify_watch_report((uint64_t)dir_st.st_dev, (uint64_t)dir_st.st_ino, base, FILE_ACTION_MODIFIED,
					    FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_CREATION, false);
		if (pfd >= 0) close(pfd);
	}
}

/* Called by open_close_file for every closed open: ends watching. */
void notify_open_closed(struct smbd_open *o);
void notify_open_closed(struct smbd_open *o)
{
	if (atomic_exchange(&o->renamed_unreported, false)) notify_renamed_closed(o);
	if (atomic_load(&notify_nopens) == 0) return;
	pthread_once(&notify_once, notify_init);
	/* A handle that deletes its directory on close (delete-on-close, or a
	 * delete-pending set through it or another handle): the directory is
	 * now doomed, and MS-FSA 2.1.5.4 completes the change notifications
	 * of the other handles on it with STATUS_DELETE_PENDING (the
	 * directory itself goes with the last handle). */
	bool doomed = o->is_dir && o->inode && !o->stream_inode && (o->delete_on_close || open_delete_pending(o));
	struct notify_open *no = NULL;
	smb_mutex_lock(&notify_lock);
	struct list_head *pos;
	list_for_each(pos, &notify_opens) {
		struct notify_open *n = list_entry(pos, struct notify_open, link);
		if (n->open == o) {
			no = n;
		} else if (doomed && n->open->inode == o->inode && !n->delete_pending) {
			n->delete_pending = true;
			notify_kick_locked(n);
		}
	}
	if (no) {
		list_del(&no->link);
		no->closed = true;
		notify_reset_locked(no);
	}
	smb_mutex_unlock(&notify_lock);
	if (!no) return;
	atomic_fetch_sub(&notify_nopens, 1);
	/* After this no watcher callback runs for no. */
	notify_watch_remove(no->watch);
	no->watch = NULL;
	/* Pending requests are ended by the async core (the handle's ids are
	 * cleared), each dropping its reference. */
	notify_open_put(no);
}

uint32_t smb2_change_notify(struct smb2_request *req)
{
	struct smb2_notify_req nr;
	uint32_t status = smb2_notify_req_decode(req->msg, req->msg_len, &nr);
	if (status) return status;
	/* 3.3.5.19: OutputBufferLength above MaxTransactSize is invalid. */
	if (nr.output_buffer_length > req->conn->cfg->max_io_size) return STATUS_INVALID_PARAMETER;
	struct smbd_open *o = smb2_req_open(req, nr.persistent_id, nr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	if (!o->is_dir || o->pipe) {
		open_put(o);
		return STATUS_INVALID_PARAMETER;      /* only directories can be watched */
	}
	if (!(o->access & FILE_LIST_DIRECTORY)) {
		open_put(o);
		return STATUS_ACCESS_DENIED;
	}
	pthread_once(&notify_once, notify_init);
	struct notify_open *no = notify_find(o);
	if (!no) {
		no = notify_start(req->conn, o, &nr);
		if (!no) {
			open_put(o);
			return STATUS_INSUFFICIENT_RESOURCES;
		}
		notify_open_get(no);
	}
	open_put(o);

	/* Changes collected since the last request complete this one at once
	 * (MS-FSA 2.1.5.10: "If Open.NotifyChange has entries"), unless an
	 * older request of the handle still waits (it gets them first). */
	uint8_t *records = NULL;
	size_t len = 0;
	struct notify_req *r = NULL;
	smb_mutex_lock(&notify_lock);
	if (no->closed) {
		status = STATUS_FILE_CLOSED;
	} else if (no->npending == 0) {
		status = notify_take_locked(no, nr.output_buffer_length, &records, &len);
	} else {
		status = STATUS_PENDING;
	}
	smb_mutex_unlock(&notify_lock);
	if (status == STATUS_SUCCESS) {
		smb2_notify_rsp_encode(req->out, records, len);
		free(records);
		notify_open_put(no);
		return STATUS_SUCCESS;
	}
	if (status != STATUS_PENDING) {
		notify_open_put(no);
		return status;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		notify_open_put(no);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	r->no = no;   /* takes our reference */
	r->output_len = nr.output_buffer_length;
	struct smbd_async *a;
	status = smbd_go_async(req, no->open, notify_cancel, r, &a);
	if (status != STATUS_PENDING) {
		free(r);
		notify_open_put(no);
		return status;
	}
	r->async = a;
	list_add_tail(&r->link, &no->pending);
	smb_mutex_lock(&notify_lock);
	no->npending++;
	/* Something may have arrived while we were not yet waiting. */
	notify_kick_locked(no);
	smb_mutex_unlock(&notify_lock);
	return STATUS_PENDING;
}
