/* Oplocks and leases: granting, breaking, the lease table, CREATEs that
 * wait for a break, and the break timeout.  See server/lease.h for the
 * model and MS-SMB2 / MS-FSA references.  Break acknowledgements are in
 * lease_ack.c, the caching state of durable handles in lease_durable.c;
 * what the three share is in lease_internal.h.
 *
 * Locks (common/lock.h):
 *  - the file's inode lock (65, or 66 for a stream) guards the inode's
 *    grant and waiter lists and the state of every lease on that file;
 *  - "lease_table" (67) guards the table of leases, taken inside an inode
 *    lock or alone;
 *  - "lease_timer" (77) guards the list of break deadlines; a leaf.
 * (The fanotify watcher of local directory changes and its "lease_watch"
 * lock live in lease_dir_watch.c.)
 * Nothing is sent and no file I/O happens under any of them: work found
 * under a lock is collected and done after it is released.
 *
 * References:
 *  - struct smbd_lease: the table (1 while published), each grant using it
 *    (1), each lookup until put (1).  It holds one reference on its inode.
 *  - struct lease_grant: owned by the inode list; its open is not counted
 *    (the grant goes before the open leaves the inode: lease_open_closed).
 *  - struct lease_waiter: the async record (1, until completed or
 *    cancelled), the inode waiter list (1 while linked), a posted resume
 *    task (1).  It holds references on its connection, session and tree,
 *    and on the inode it is linked to.
 *  - break notes (messages on their way to a loop): a connection and a
 *    session reference each.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/durable.h"
#include "server/lease.h"
#include "server/lease_dir_watch.h"
#include "server/lease_internal.h"
#include "server/loop.h"
#include "server/server.h"
#include "server/vfs.h"

/* Accesses that do not take part in oplock breaks ("stat opens",
 * MS-FSA 2.1.5.1.2: an open for attributes only breaks no oplock). */
#define STAT_OPEN_ACCESS (FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE)
/* Leases are not broken by an open that may also read the security
 * descriptor (Windows; smbtorture smb2.lease.statopen4), while oplocks are
 * (smb2.oplock.statopen1). */
#define LEASE_STAT_OPEN_ACCESS (STAT_OPEN_ACCESS | READ_CONTROL)

unsigned break_wait_seconds = 35;

void lease_set_break_wait(unsigned seconds) { break_wait_seconds = seconds ? seconds : 1; }

struct lease_waiter {
	atomic_int refcount;
	struct list_head link;        /* inode->break_waiters, under inode->lock, while linked */
	bool linked;                  /* under inode->lock */
	struct smbd_inode *inode;     /* owner: waiter (1), the inode it waits on; loop */
	struct smbd_conn *conn;       /* owner: waiter (1) */
	struct smbd_session *session; /* owner: waiter (1) */
	struct smbd_tree *tree;       /* owner: waiter (1) */
	struct smbd_async *async;     /* loop: NULL once completed or cancelled */
	struct smb2_hdr hdr;
	uint8_t *msg;                 /* owned copy of the CREATE request */
	size_t msg_len;
	/* A DH2Q CREATE that waits for a holder to give up caching (not for
	 * a sharing violation): a replay of it is refused at once
	 * (lease_create_replay_pending).  Set before it goes async. */
	bool replay_guarded;
	uint8_t create_guid[16];
	/* The handler that runs the request again: smb2_create, or
	 * smb2_set_info for a rename waiting on handle caching
	 * (lease_rename_breaks). */
	uint32_t (*run)(struct smb2_request *req);
};

/* ------------------------------------------------------------- helpers */

struct smb_mutex lease_table_lock;       /* rank lease_table */
struct list_head lease_table;            /* struct smbd_lease, under lease_table_lock */
static struct smb_mutex timer_lock;      /* rank lease_timer */
static pthread_cond_t timer_cond = PTHREAD_COND_INITIALIZER;
static struct list_head timers;          /* struct break_timer, under timer_lock */
pthread_once_t lease_once = PTHREAD_ONCE_INIT;
static void *timer_main(void *arg);

void lease_init(void)
{
	smb_mutex_init(&lease_table_lock, LOCK_RANK_LEASE_TABLE, "lease_table");
	smb_mutex_init(&timer_lock, LOCK_RANK_LEASE_TIMER, "lease_timer");
	list_init(&lease_table);
	list_init(&timers);
	const char *env = getenv("SMBKIT_OPLOCK_BREAK_WAIT");
	if (env && atoi(env) > 0) break_wait_seconds = (unsigned)atoi(env);
	pthread_t t;
	if (pthread_create(&t, NULL, timer_main, NULL) == 0) pthread_detach(t);
	else log_error("lease: cannot start the break timer thread; unacknowledged breaks never time out");
}

/* The inode that carries o's oplock/lease state: a stream is its own file
 * for caching purposes (MS-FSA Stream.Oplock). */
struct smbd_inode *lease_inode(const struct smbd_open *o)
{
	return o->stream_inode ? o->stream_inode : o->inode;
}

/* Under in->lock. */
void lists_ready(struct smbd_inode *in)
{
	if (!in->oplock_grants.next) list_init(&in->oplock_grants);
	if (!in->break_waiters.next) list_init(&in->break_waiters);
}

static bool is_stat_open(uint32_t access)
{
	return (access & ~STAT_OPEN_ACCESS) == 0;
}

void lease_get(struct smbd_lease *l) { atomic_fetch_add(&l->refcount, 1); }

/* Holds no lock: the final put drops the inode reference. */
void lease_put(struct smbd_lease *l)
{
	if (!l || atomic_fetch_sub(&l->refcount, 1) != 1) return;
	inode_put(l->inode);
	free(l);
}

/* Under lease_table_lock. */
struct smbd_lease *lease_table_find(const uint8_t guid[16], const uint8_t key[16])
{
	struct list_head *pos;
	list_for_each(pos, &lease_table) {
		struct smbd_lease *l = list_entry(pos, struct smbd_lease, table_link);
		if (!memcmp(l->key, key, 16) && !memcmp(l->client_guid, guid, 16)) return l;
	}
	return NULL;
}

struct lease_grant *grant_of(struct smbd_inode *in, const struct smbd_open *o)
{
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->open == o) return g;
	}
	return NULL;
}

/* ------------------------------------------------- break notifications */

struct break_note {
	struct break_note *next;
	/* Instead of a message: a disconnected durable open whose handle
	 * caching this break removed; send_notes hands it to the durable
	 * scavenger to be closed (durable.c).  owner: note (1). */
	struct smbd_open *close_durable;
	struct smbd_conn *conn;       /* owner: note (1) */
	struct smbd_session *session; /* owner: note (1) */
	uint8_t *msg;
	size_t len;
	/* Lease breaks go to a connection of the lease's client, not
	 * necessarily the one of the open (send_notes picks it). */
	struct smbd_conn *cand[8];    /* owner: note (1 each); connections of the lease's client */
	unsigned ncand;
	char what[40];                /* for the debug log: "oplock 0x8->0x1", "lease 0x7->0x5" */
	char path[96];
};

/* Runs on the connection's own loop thread. */
static void note_send(void *arg)
{
	struct break_note *n = arg;
	struct smbd_conn *c = n->conn;
	/* Debug logs name every break and its fate: a CREATE left waiting
	 * (tests/stress "wedged") is explained by the break no one answered. */
	log_debug("%s: %s break to %s%s", c->peer_str, n->what, conn_is_dead(c) ? "(dead) " : "", n->path);
	if (!conn_is_dead(c) && c->state != CONN_DEAD) {
		struct smbd_session *s = n->session;
		/* 3.3.4.6 / 3.3.4.7: a session that encrypts gets its breaks
		 * encrypted too. */
		if (s && s->keyed && c->cipher && s->encrypt_data) conn_send_encrypted(c, s, n->msg, n->len);
		else conn_send(c, n->msg, n->len);
		n->msg = NULL;
	}
	free(n->msg);
	if (n->session) session_put(n->session);
	conn_put(c);
	free(n);
}

/* Builds a break notification for the open g->open (under the inode lock)
 * and queues it on *notes; sent by send_notes after the lock is released. */
/* Returns whether a notification was queued. */
bool note_add(struct break_note **notes, const struct smbd_open *o, bool lease, uint8_t level,
	      const struct smbd_lease *l, uint32_t flags, uint32_t cur_state, uint32_t new_state)
{
	struct smbd_session *s = o->session;
	if (!s || !s->conn) return false;
	struct break_note *n = calloc(1, sizeof(*n));
	if (!n) return false;
	struct wbuf w;
	wbuf_init(&w, SMB2_HDR_SIZE + 48);
	wbuf_zero(&w, SMB2_HDR_SIZE);
	if (lease)
		smb2_lease_break_notify_encode(&w, l->version == 2 ? l->epoch : 0, flags, l->key, cur_state, new_state);
	else
		smb2_oplock_break_notify_encode(&w, level, smb_id_load(&o->persistent_id), smb_id_load(&o->volatile_id));
	/* 3.3.4.6 / 3.3.4.7: MessageId all ones, unsolicited, no credits. */
	struct smb2_hdr h = {
		.command = SMB2_OPLOCK_BREAK,
		.flags = SMB2_FLAGS_SERVER_TO_REDIR,
		.message_id = UINT64_MAX,
		.session_id = lease ? 0 : smb_id_load(&s->id),
	};
	if (w.err) {
		wbuf_free(&w);
		free(n);
		return false;
	}
	smb2_hdr_encode(w.p, &h);
	if (log_current_level >= LOG_LVL_DEBUG) {   /* only note_send's debug line reads these */
		if (lease) snprintf(n->what, sizeof(n->what), "lease 0x%x->0x%x", cur_state, new_state);
		else snprintf(n->what, sizeof(n->what), "oplock 0x%x->0x%x", o->oplock_level, level);
		snprintf(n->path, sizeof(n->path), "%s", o->path ? o->path : "?");
	}
	n->msg = wbuf_steal(&w, &n->len);
	wbuf_free(&w);
	n->conn = s->conn;
	conn_get(n->conn);
	n->session = s;
	session_get(s);
	if (lease) {
		/* Every connection through which this client holds a lease
		 * on this file may carry the break (lease_note_route). */
		struct smbd_inode *in = l->inode;
		struct list_head *pos;
		list_for_each(pos, &in->oplock_grants) {
			struct lease_grant *g = list_entry(pos, struct lease_grant, link);
			if (!g->lease || memcmp(g->lease->client_guid, l->client_guid, 16)) continue;
			struct smbd_session *gs = g->open->session;
			if (!gs || !gs->conn || !smb_id_load(&g->open->volatile_id)) continue;
			bool dup = false;
			for (unsigned i = 0; i < n->ncand; i++) dup |= n->cand[i] == gs->conn;
			if (dup || n->ncand == sizeof(n->cand) / sizeof(n->cand[0])) continue;
			conn_get(gs->conn);
			n->cand[n->ncand++] = gs->conn;
		}
	}
	n->next = *notes;
	*notes = n;
	return true;
}

/* Holding no lock (conn_table ranks above every inode lock): MS-SMB2
 * 3.3.4.7 sends a lease break on a connection of the lease's client
 * (ClientGuid), not on the connection of a particular open.  Like Windows
 * (smbtorture smb2.lease.v2_complex1) the oldest live connection of that
 * client that speaks SMB 2.1 or later gets it; so a break still arrives
 * when the connection that opened the file is gone.  A session that
 * encrypts keeps its breaks on its own connection: its keys are not
 * usable on another one. */
static void lease_note_route(struct break_note *n)
{
	struct smbd_conn *best = NULL;
	if (!(n->session && n->session->encrypt_data && !conn_is_dead(n->conn))) {
		/* g_server.conns is in accept order: the first candidate
		 * found there is the oldest. */
		smb_mutex_lock(&g_server.conn_lock);
		struct list_head *pos;
		list_for_each(pos, &g_server.conns) {
			struct smbd_conn *c = list_entry(pos, struct smbd_conn, link);
			for (unsigned i = 0; i < n->ncand && !best; i++)
				if (n->cand[i] == c && !conn_is_dead(c)) best = c;
			if (best) break;
		}
		smb_mutex_unlock(&g_server.conn_lock);
	}
	if (best && best != n->conn) {
		conn_get(best);
		conn_put(n->conn);
		n->conn = best;
		/* The open's session belongs to the other connection: the
		 * break (SessionId 0 for leases) goes unsigned, unencrypted. */
		if (n->session) {
			session_put(n->session);
			n->session = NULL;
		}
	}
	for (unsigned i = 0; i < n->ncand; i++) conn_put(n->cand[i]);
	n->ncand = 0;
}

/* Set by lease_rename_breaks around its send_notes: a break for a
 * connection served by this very loop thread is sent at once rather than
 * posted, so it goes out before the response to any request the client
 * sent after the rename (smbtorture smb2.lease.rename_wait reads the break
 * while its next CREATE is answered, and acknowledges it then). */
static __thread bool notes_inline;

void send_notes(struct break_note *notes)
{
	/* notes is in reverse order of creation: send oldest first. */
	struct break_note *rev = NULL;
	while (notes) {
		struct break_note *n = notes;
		notes = n->next;
		n->next = rev;
		rev = n;
	}
	while (rev) {
		struct break_note *n = rev;
		rev = n->next;
		if (n->close_durable) {
			durable_close_disconnected(n->close_durable);
			open_put(n->close_durable);
			free(n);
			continue;
		}
		if (n->ncand) lease_note_route(n);
		if (notes_inline && n->conn->loop == loop_self()) {
			note_send(n);
			continue;
		}
		if (loop_post(n->conn->loop, note_send, n) < 0) {
			free(n->msg);
			if (n->session) session_put(n->session);
			conn_put(n->conn);
			free(n);
		}
	}
}

/* ------------------------------------------------------------ timers */

struct break_timer {
	struct list_head link;        /* timers, under timer_lock */
	uint64_t deadline_ms;
	struct smbd_inode *inode;     /* owner: timer (1) */
};

/* Holding no lock: arms a check of in's breaks at deadline.  timers is
 * kept sorted by deadline, so the thread looks at its head only.  Nearly
 * every deadline is now + the break time, so the new timer almost always
 * goes at the tail: the backward walk is O(1) in practice, where a scan of
 * the whole list per arming would cost O(breaks in the last 35 s) each. */
void timer_add(struct smbd_inode *in, uint64_t deadline)
{
	struct break_timer *t = calloc(1, sizeof(*t));
	if (!t) return;
	inode_get(in);
	t->inode = in;
	t->deadline_ms = deadline;
	smb_mutex_lock(&timer_lock);
	struct list_head *after = timers.prev;
	while (after != &timers && list_entry(after, struct break_timer, link)->deadline_ms > deadline)
		after = after->prev;
	list_add(&t->link, after);
	/* Only a new head changes when the thread must wake. */
	if (timers.next == &t->link) pthread_cond_signal(&timer_cond);
	smb_mutex_unlock(&timer_lock);
}

/* Under in->lock: ends every break on in whose deadline passed (MS-SMB2
 * 3.3.2.1 oplock break acknowledgment timer: the oplock drops to what it
 * was breaking to; 3.3.2.5 lease break acknowledgment timer, likewise). */
static bool expire_breaks_locked(struct smbd_inode *in, uint64_t now)
{
	bool any = false;
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			if (l->breaking && l->deadline_ms <= now) {
				/* 3.3.2.5: an unacknowledged lease is lost
				 * (smbtorture smb2.lease.timeout). */
				l->state = SMB2_LEASE_NONE;
				l->breaking = false;
				l->break_undelivered = false;
				any = true;
			}
		} else if (g->breaking && g->deadline_ms <= now) {
			g->level = g->breaking_to;
			g->breaking = false;
			g->break_undelivered = false;
			g->open->oplock_level = g->level;
			any = true;
		}
	}
	return any;
}

static void *timer_main(void *arg)
{
	(void)arg;
	smb_mutex_lock(&timer_lock);
	for (;;) {
		uint64_t now = clock_monotonic_ms(), next = UINT64_MAX;
		struct break_timer *due = NULL;
		if (!list_empty(&timers)) {
			struct break_timer *head = list_entry(timers.next, struct break_timer, link);
			if (head->deadline_ms <= now) due = head;
			else next = head->deadline_ms;
		}
		if (due) {
			list_del(&due->link);
			smb_mutex_unlock(&timer_lock);
			struct smbd_inode *in = due->inode;
			struct lease_waiter *woken = NULL;
			smb_mutex_lock(&in->lock);
			lists_ready(in);
			if (expire_breaks_locked(in, now)) {
				log_debug("lease: a break on inode %llu timed out", (unsigned long long)in->ino);
				wake_waiters_locked(in, &woken);
			}
			smb_mutex_unlock(&in->lock);
			post_woken(woken);
			inode_put(in);
			free(due);
			smb_mutex_lock(&timer_lock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&timer_cond, &timer_lock.m);
		} else {
			uint64_t wait = next - now;
			/* timer_cond uses CLOCK_REALTIME by default; convert. */
			struct timespec rt;
			clock_gettime(CLOCK_REALTIME, &rt);
			rt.tv_sec += (time_t)(wait / 1000);
			rt.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (rt.tv_nsec >= 1000000000L) {
				rt.tv_sec++;
				rt.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&timer_cond, &timer_lock.m, &rt);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ waiters */

static void waiter_put(struct lease_waiter *w)
{
	if (!w || atomic_fetch_sub(&w->refcount, 1) != 1) return;
	inode_put(w->inode);
	if (w->tree) tree_put(w->tree);
	if (w->session) session_put(w->session);
	if (w->conn) conn_put(w->conn);
	free(w->msg);
	free(w);
}

/* Under in->lock: unlinks every waiter of in; the list's reference on
 * each goes to the resume task posted by post_woken. */
void wake_waiters_locked(struct smbd_inode *in, struct lease_waiter **woken)
{
	/* Taken from the tail and pushed on the front of the chain, so the
	 * CREATEs run again in the order they came: the first one waiting
	 * gets the file first (smbtorture
	 * smb2.replay.dhv2-pending1n-vs-violation-lease-close-windows). */
	while (!list_empty(&in->break_waiters)) {
		struct lease_waiter *w = list_entry(in->break_waiters.prev, struct lease_waiter, link);
		list_del(&w->link);
		w->linked = false;
		/* Reuse link as the singly linked "woken" chain: it is off
		 * the inode list now and only this thread sees it. */
		w->link.next = (struct list_head *)*woken;
		*woken = w;
	}
}

static __thread struct lease_waiter *resuming_waiter;
/* The open of a CREATE that lease_create_breaks just made wait, until
 * smb2_create undoes it (lease_open_closed); loop thread only. */
static __thread const struct smbd_open *pending_undo;

bool lease_resuming(const struct smb2_request *req)
{
	return resuming_waiter && req->async;
}

/* On the waiter's own loop thread: runs the request (a CREATE, or a
 * rename's SET_INFO) again through w->run. */
static void waiter_resume(void *arg)
{
	struct lease_waiter *w = arg;
	if (!w->async || conn_is_dead(w->conn)) {
		waiter_put(w);   /* cancelled meanwhile: the task's reference */
		return;
	}
	struct wbuf out;
	wbuf_init(&out, 512);
	wbuf_zero(&out, SMB2_HDR_SIZE);
	bool have_related = false;
	uint64_t rp = 0, rv = 0;
	struct smb2_request req = {
		.conn = w->conn,
		.session = w->session,
		.tree = w->tree,
		.hdr = w->hdr,
		.msg = w->msg,
		.msg_len = w->msg_len,
		.out = &out,
		.out_hdr_off = 0,
		.have_related_fid = &have_related,
		.related_persistent = &rp,
		.related_volatile = &rv,
		.last_in_chain = true,
		.async = w->async,
	};
	uint32_t status;
	if (w->tree->id == 0 || w->session->state != SESSION_VALID) {
		status = STATUS_NETWORK_NAME_DELETED;
	} else {
		resuming_waiter = w;
		smbd_impersonate(w->session);
		status = w->run(&req);
		smbd_unimpersonate();
		resuming_waiter = NULL;
	}
	if (status != STATUS_PENDING) {
		struct smbd_async *a = w->async;
		w->async = NULL;
		bool body = !out.err && (status == STATUS_SUCCESS || req.body_written) && out.len > SMB2_HDR_SIZE;
		smbd_async_complete(a, status, body ? out.p + SMB2_HDR_SIZE : NULL, body ? out.len - SMB2_HDR_SIZE : 0);
		waiter_put(w);   /* the async record's reference */
	}
	wbuf_free(&out);
	waiter_put(w);           /* the task's reference */
}

void post_woken(struct lease_waiter *woken)
{
	while (woken) {
		struct lease_waiter *w = woken;
		woken = (struct lease_waiter *)w->link.next;
		list_init(&w->link);
		if (loop_post(w->conn->loop, waiter_resume, w) < 0) waiter_put(w);
	}
}

/* CANCEL, close, logoff, tree disconnect, disconnect: on the loop thread. */
static uint32_t waiter_cancel(struct smbd_async *a, enum smbd_async_reason why, void *arg)
{
	(void)a;
	struct lease_waiter *w = arg;
	w->async = NULL;
	bool drop_list_ref = false;
	if (w->inode) {
		smb_mutex_lock(&w->inode->lock);
		if (w->linked) {
			list_del(&w->link);
			list_init(&w->link);
			w->linked = false;
			drop_list_ref = true;
		}
		smb_mutex_unlock(&w->inode->lock);
	}
	if (drop_list_ref) waiter_put(w);
	waiter_put(w);           /* the async record's reference */
	return why == SMBD_ASYNC_CANCELLED ? STATUS_CANCELLED : STATUS_CANCELLED;
}

/* ------------------------------------------------------------ breaking */

/* Set (loop thread, under the inode lock) while lease_ack_lease starts the
 * break that follows an acknowledgement. */
__thread bool continuing_break;

/* Under the inode lock: queues the close of a disconnected durable open. */
static void note_close_durable(struct break_note **notes, struct smbd_open *o)
{
	struct break_note *n = calloc(1, sizeof(*n));
	if (!n) return;
	open_get(o);
	n->close_durable = o;
	n->next = *notes;
	*notes = n;
}

/* Under in->lock: starts breaking lease l to target.  Returns true when the
 * holder must acknowledge (the break is then in progress). */
bool lease_break_locked(struct smbd_inode *in, struct smbd_lease *l, uint32_t target, struct break_note **notes)
{
	if (l->breaking) {
		/* One break at a time (3.3.4.7): remember what this request
		 * needs; the ack of the current break continues from it. */
		l->requested &= target;
		return false;
	}
	if (target == l->state) return false;
	l->requested = target;
	/* Every open of the lease is a disconnected durable open: nobody can
	 * acknowledge.  MS-SMB2 3.3.4.7: the break cannot be sent; the client
	 * could never learn that its cache is stale, so (as Windows and
	 * smbtorture smb2.durable-open.lease expect) the disconnected opens
	 * are closed, and the CREATE that caused the break waits for that
	 * close (it wakes the inode's break waiters) and then gets the full
	 * lease. */
	{
		bool connected = false, durable = false;
		struct list_head *dpos;
		list_for_each(dpos, &in->oplock_grants) {
			struct lease_grant *g = list_entry(dpos, struct lease_grant, link);
			if (g->lease != l) continue;
			if (g->open->durable_disconnected) durable = true;
			else connected = true;
		}
		if (durable && !connected) {
			bool close = true;
			if (close) {
				list_for_each(dpos, &in->oplock_grants) {
					struct lease_grant *g = list_entry(dpos, struct lease_grant, link);
					if (g->lease != l || !g->open->durable_disconnected) continue;
					/* A reconnect racing this close must lose
					 * (durable_reconnect checks it under this lock). */
					g->open->durable_doomed = true;
					note_close_durable(notes, g->open);
				}
			}
			if (l->version == 2) l->epoch++;
			l->state = target;
			return close;
		}
	}
	/* 3.3.4.7: an ack is required when the holder may have cached
	 * writes or handles; breaking read caching alone is immediate. */
	bool ack = (l->state & (LEASE_W | LEASE_H)) != 0;
	/* A break that continues an acknowledged one keeps its epoch
	 * (Windows; smbtorture smb2.lease.v2_breaking3). */
	if (l->version == 2 && !continuing_break) l->epoch++;
	/* Send it to the connection of one of the lease's opens. */
	bool sent = false;
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->lease != l || !smb_id_load(&g->open->volatile_id)) continue;
		if (!note_add(notes, g->open, true, 0, l, ack ? SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED : 0, l->state,
			      target))
			continue;
		sent = true;
		if (l->is_dir)
			log_debug("lease: directory lease break 0x%x -> 0x%x sent for '%s'", l->state, target,
				  g->open->path ? g->open->path : "?");
		break;
	}
	/* No open could carry it: the only open is not published yet (its
	 * CREATE has granted the lease but not answered; or a durable
	 * reconnect has re-attached it but not published it).  Its
	 * publication sends it (lease_open_published); until then nobody can
	 * acknowledge.  An undelivered break that needs no ack is sent then
	 * too, from the state the client last heard of. */
	if (!sent && !l->break_undelivered) l->undelivered_from = l->state;
	l->break_undelivered = !sent;
	if (ack) {
		l->breaking = true;
		l->breaking_to = target;
		l->deadline_ms = clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u;
	} else {
		l->state = target;
	}
	return ack;
}

static bool oplock_break_locked(struct lease_grant *g, uint8_t to, struct break_note **notes)
{
	if (g->breaking || g->level == to || g->level == SMB2_OPLOCK_LEVEL_NONE) return false;
	if (g->open->durable_disconnected) {
		/* As for leases above (3.3.4.6; smb2.durable-open.oplock):
		 * the disconnected open is closed instead. */
		bool close = true;
		g->open->durable_doomed = true;
		if (close) note_close_durable(notes, g->open);
		g->level = to;
		g->open->oplock_level = to;
		return close;
	}
	bool ack = g->level == SMB2_OPLOCK_LEVEL_EXCLUSIVE || g->level == SMB2_OPLOCK_LEVEL_BATCH;
	/* Unpublished (its CREATE has not answered yet, or a durable reconnect
	 * is in progress): lease_open_published sends it. */
	g->break_undelivered =
		!(smb_id_load(&g->open->volatile_id) && note_add(notes, g->open, false, to, NULL, 0, 0, 0));
	if (ack) {
		g->breaking = true;
		g->breaking_to = to;
		g->deadline_ms = clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u;
	} else {
		/* Level II -> none needs no acknowledgement (3.3.4.6). */
		g->level = to;
		g->open->oplock_level = to;
	}
	return ack;
}

static bool same_lease(const struct smbd_lease *l, const struct smbd_conn *c, const struct lease_request *lr)
{
	return lr && lr->has_lease && !memcmp(l->key, lr->lease.key, 16) && !memcmp(l->client_guid, c->client_guid, 16);
}

/* A waiter for the CREATE req (a copy of its message, references on its
 * connection, session and tree); its one reference is the async record's.
 * NULL when out of memory (the CREATE then goes on without waiting). */
static struct lease_waiter *waiter_new(struct smb2_request *req)
{
	struct lease_waiter *w = calloc(1, sizeof(*w));
	if (!w) return NULL;
	w->msg = malloc(req->msg_len);
	if (!w->msg) {
		free(w);
		return NULL;
	}
	memcpy(w->msg, req->msg, req->msg_len);
	w->msg_len = req->msg_len;
	w->hdr = req->hdr;
	atomic_init(&w->refcount, 1);   /* for the async record */
	list_init(&w->link);
	w->conn = req->conn;
	conn_get(w->conn);
	w->session = req->session;
	session_get(w->session);
	w->tree = req->tree;
	tree_get(w->tree);
	w->run = smb2_create;
	return w;
}

/* req goes async with its new waiter w, linked on in (async_open: the open
 * whose close cancels the wait, NULL for a CREATE whose open is undone):
 * STATUS_PENDING (the waiter runs the request again), or STATUS_SUCCESS
 * when it cannot wait (e.g. not last in a compound: it goes on without),
 * w then released. */
static uint32_t waiter_go_async(struct smb2_request *req, struct smbd_open *async_open, struct smbd_inode *in,
				struct lease_waiter *w, const char *what)
{
	struct smbd_async *a = NULL;
	uint32_t st = smbd_go_async(req, async_open, waiter_cancel, w, &a);
	if (st != STATUS_PENDING) {
		bool drop = false;
		smb_mutex_lock(&in->lock);
		if (w->linked) {
			list_del(&w->link);
			list_init(&w->link);
			w->linked = false;
			drop = true;
		}
		smb_mutex_unlock(&in->lock);
		if (drop) waiter_put(w);
		waiter_put(w);
		return STATUS_SUCCESS;
	}
	w->async = a;
	log_debug("%s waits for %s (async id %llu)", req->hdr.command == SMB2_CREATE ? "create" : "rename", what,
		  (unsigned long long)smbd_async_id(a));
	return STATUS_PENDING;
}

/* Under in->lock, which saw the break the waiter waits for, so that the
 * break's end cannot slip between the check and the wait: puts w on in's
 * break_waiters (once; the list holds a reference).  Returns the inode w
 * waited on before, for the caller to inode_put after unlocking. */
static struct smbd_inode *waiter_link_locked(struct lease_waiter *w, struct smbd_inode *in)
{
	struct smbd_inode *old_inode = NULL;
	if (w->inode != in) {
		old_inode = w->inode;
		inode_get(in);
		w->inode = in;
	}
	if (!w->linked) {
		list_add_tail(&w->link, &in->break_waiters);
		w->linked = true;
		atomic_fetch_add(&w->refcount, 1);   /* the list's */
	}
	return old_inode;
}

/* A CREATE going async leaves its open to smb2_create to undo. */
static uint32_t create_waits(struct smb2_request *req, struct smbd_open *o, struct smbd_inode *in,
			     struct lease_waiter *w, const char *what)
{
	uint32_t st = waiter_go_async(req, NULL, in, w, what);
	if (st == STATUS_PENDING) pending_undo = o;
	return st;
}

struct replay_probe {
	const struct smb2_request *req;
	const uint8_t *create_guid;
};

static bool waiter_is_replayed(void *arg, const void *ctx)
{
	const struct lease_waiter *w = arg;
	const struct replay_probe *p = ctx;
	return w->replay_guarded && w->session == p->req->session && w->tree == p->req->tree &&
	       !memcmp(w->create_guid, p->create_guid, 16);
}

bool lease_create_replay_pending(struct smb2_request *req, const uint8_t create_guid[16])
{
	struct replay_probe p = { req, create_guid };
	return smbd_async_find(req->conn, waiter_cancel, waiter_is_replayed, &p) != NULL;
}

uint32_t lease_create_wait_close(struct smb2_request *req, struct smbd_open *o, void (*start_close)(void *arg),
				 void *arg)
{
	pthread_once(&lease_once, lease_init);
	struct smbd_inode *in = lease_inode(o);
	/* A CREATE that already waited once goes on: what it waited for
	 * happened, or the wait timed out. */
	struct lease_waiter *w = in && !lease_resuming(req) ? waiter_new(req) : NULL;
	if (!w) {
		start_close(arg);
		return STATUS_SUCCESS;
	}
	/* Linked before the close starts, so the close cannot end unseen. */
	inode_get(in);
	w->inode = in;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	list_add_tail(&w->link, &in->break_waiters);
	w->linked = true;
	atomic_fetch_add(&w->refcount, 1);   /* the list's */
	smb_mutex_unlock(&in->lock);
	start_close(arg);
	/* Should the close never come, the CREATE runs again after the break
	 * time, as after any unanswered break. */
	timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);
	return create_waits(req, o, in, w, "the close of an open it replaces");
}

uint32_t lease_create_breaks(struct smb2_request *req, struct smbd_open *o, const struct lease_request *lr,
			     bool sharing_violation, bool truncate, bool may_wait)
{
	pthread_once(&lease_once, lease_init);
	struct smbd_inode *in = lease_inode(o);
	if (!in) return STATUS_SUCCESS;
	/* MS-FSA 2.1.5.1.2: an attribute-only open breaks nothing. */
	if (is_stat_open(o->access) && !truncate) return STATUS_SUCCESS;
	struct lease_waiter *w = NULL;
	if (may_wait && !lease_resuming(req)) w = waiter_new(req);
	else if (may_wait) w = resuming_waiter;

	struct break_note *notes = NULL;
	bool must_wait = false;
	bool resuming = may_wait && lease_resuming(req);
	struct smbd_inode *old_inode = NULL;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->open == o) continue;
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			if (same_lease(l, req->conn, lr)) continue;
			if (!(o->access & ~LEASE_STAT_OPEN_ACCESS) && !truncate) continue;
			if (l->breaking) {
				/* Wait on a break in progress that removes what
				 * this open conflicts with. */
				uint32_t gone = l->state & ~l->breaking_to;
				uint32_t want = l->state;
				if (sharing_violation) want &= ~LEASE_H;
				else want &= ~LEASE_W;
				if (!sharing_violation && truncate) want = SMB2_LEASE_NONE;
				l->requested &= want;
				if (gone & (sharing_violation ? LEASE_H : LEASE_W)) must_wait = true;
				/* A CREATE that already waits goes on waiting until
				 * the lease has no break left to acknowledge
				 * (Windows; smbtorture smb2.lease.breaking3). */
				if (resuming) must_wait = true;
				continue;
			}
			uint32_t target = l->state;
			/* MS-FSA 2.1.5.17.2: the opener waits for the holder to
			 * give up write caching (flush), or handle caching when
			 * the cached handles cause a sharing violation; losing
			 * read caching, or handles without a conflict, needs no
			 * wait (smbtorture smb2.lease.breaking4). */
			uint32_t wait_mask = sharing_violation ? LEASE_H : LEASE_W;
			if (sharing_violation) {
				/* Cached handles may be what conflicts: the holder
				 * closes them when told (MS-FSA 2.1.5.17.2). */
				if (!(l->state & LEASE_H)) continue;
				target &= ~LEASE_H;
			} else {
				target &= ~LEASE_W;
				/* Overwriting invalidates every cache. */
				if (truncate) target = SMB2_LEASE_NONE;
				/* A delete-on-close open will remove the name:
				 * cached handles must go. */
				if ((o->access & DELETE) && (o->create_options & FILE_DELETE_ON_CLOSE)) {
					target &= ~LEASE_H;
					wait_mask |= LEASE_H;
				}
			}
			uint32_t removed = l->state & ~target;
			if (lease_break_locked(in, l, target, &notes) && (removed & wait_mask)) must_wait = true;
		} else {
			if (g->breaking) {
				if (!sharing_violation || g->level == SMB2_OPLOCK_LEVEL_BATCH) must_wait = true;
				continue;
			}
			uint8_t to = truncate ? SMB2_OPLOCK_LEVEL_NONE : SMB2_OPLOCK_LEVEL_II;
			if (sharing_violation) {
				if (g->level != SMB2_OPLOCK_LEVEL_BATCH) continue;
			} else if (g->level == SMB2_OPLOCK_LEVEL_II) {
				if (!truncate) continue;
			}
			if (oplock_break_locked(g, to, &notes)) must_wait = true;
		}
	}
	if (must_wait && w) old_inode = waiter_link_locked(w, in);
	bool arm = must_wait;
	smb_mutex_unlock(&in->lock);
	inode_put(old_inode);
	send_notes(notes);
	if (arm) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);

	if (!must_wait || !w) {
		if (w && w != resuming_waiter) waiter_put(w);
		return STATUS_SUCCESS;
	}
	if (w == resuming_waiter) {
		pending_undo = o;
		return STATUS_PENDING;   /* the same async request keeps waiting */
	}
	if (!sharing_violation && o->has_create_guid) {
		w->replay_guarded = true;
		memcpy(w->create_guid, o->create_guid, 16);
	}
	return create_waits(req, o, in, w, "an oplock/lease break");
}

static void break_parent_of(struct smbd_open *o, const char *path, const uint8_t *guid, const uint8_t *key);

/* ------------------------------------------------------------ granting */

uint32_t normalize_lease_state(uint32_t s)
{
	s &= SMB2_LEASE_ALL;
	/* Only R, RH, RW and RWH exist (MS-SMB2 3.3.5.9.8: other requests
	 * are granted nothing). */
	if (!(s & LEASE_R)) return 0;
	return s;
}

uint32_t lease_grant(struct smbd_open *o, const struct lease_request *lr, struct lease_response *rsp)
{
	pthread_once(&lease_once, lease_init);
	memset(rsp, 0, sizeof(*rsp));
	rsp->oplock_level = SMB2_OPLOCK_LEVEL_NONE;
	struct smbd_inode *in = lease_inode(o);
	if (!in || o->pipe) return STATUS_SUCCESS;
	struct smbd_conn *c = o->session ? o->session->conn : o->conn;
	if (!c) return STATUS_SUCCESS;
	bool want_lease = lr->has_lease;
	if (!want_lease && (lr->oplock_level == SMB2_OPLOCK_LEVEL_NONE || lr->oplock_level == SMB2_OPLOCK_LEVEL_LEASE))
		return STATUS_SUCCESS;
	/* Directories: only leases, only SMB 3.x (directory leasing). */
	if (o->is_dir && (!want_lease || c->dialect < SMB2_DIALECT_300 ||
			  !(c->server_capabilities & SMB2_GLOBAL_CAP_DIRECTORY_LEASING)))
		return STATUS_SUCCESS;

	struct lease_grant *g = calloc(1, sizeof(*g));
	struct smbd_lease *fresh = want_lease ? calloc(1, sizeof(*fresh)) : NULL;
	if (!g || (want_lease && !fresh)) {
		free(g);
		free(fresh);
		return STATUS_SUCCESS;   /* no caching granted: still a valid open */
	}
	g->open = o;
	uint32_t status = STATUS_SUCCESS;
	struct break_note *notes = NULL;
	struct smbd_lease *release = NULL;

	smb_mutex_lock(&in->lock);
	lists_ready(in);
	/* Other opens on this file that do not share the requester's lease. */
	unsigned others = 0;
	bool other_writer_cache = false;
	struct list_head *pos;
	struct list_head *olist = &in->opens;
	bool stream = o->stream_inode != NULL;
	list_for_each(pos, olist) {
		struct smbd_open *x = stream ? list_entry(pos, struct smbd_open, stream_link)
					     : list_entry(pos, struct smbd_open, inode_link);
		if (x == o || (!stream && x->stream_inode)) continue;
		struct lease_grant *xg = grant_of(in, x);
		/* A stat open does not count... unless it holds an oplock or
		 * a lease of its own (smbtorture smb2.lease.statopen,
		 * smb2.oplock.batch9). */
		if (is_stat_open(x->access) && !xg) continue;
		if (xg && xg->lease && same_lease(xg->lease, c, lr)) continue;
		others++;
	}
	/* Caching others hold: a lease with handle caching excludes oplocks,
	 * an oplock excludes handle caching for leases (Windows, smbtorture
	 * smb2.lease.oplock). */
	bool other_handle_lease = false, other_oplock = false;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *xg = list_entry(pos, struct lease_grant, link);
		if (xg->open == o) continue;
		if (xg->lease && same_lease(xg->lease, c, lr)) continue;
		if (xg->lease && (xg->lease->state & LEASE_W)) other_writer_cache = true;
		if (xg->lease && (xg->lease->state & LEASE_H)) other_handle_lease = true;
		if (!xg->lease && xg->level != SMB2_OPLOCK_LEVEL_NONE) other_oplock = true;
		if (!xg->lease && (xg->level == SMB2_OPLOCK_LEVEL_EXCLUSIVE || xg->level == SMB2_OPLOCK_LEVEL_BATCH))
			other_writer_cache = true;
	}

	if (want_lease) {
		uint32_t allowed = LEASE_R | LEASE_H | LEASE_W;
		if (o->is_dir) allowed = LEASE_R | LEASE_H;
		if (others || other_writer_cache) allowed &= ~LEASE_W;
		if (other_oplock) allowed &= ~LEASE_H;
		uint32_t req_state = normalize_lease_state(lr->lease.state);
		smb_mutex_lock(&lease_table_lock);
		struct smbd_lease *l = lease_table_find(c->client_guid, lr->lease.key);
		if (l && l->inode != in) {
			/* 3.3.5.9.8: one lease key, one file. */
			smb_mutex_unlock(&lease_table_lock);
			status = STATUS_INVALID_PARAMETER;
			goto unlock;
		}
		if (!l) {
			l = fresh;
			fresh = NULL;
			atomic_init(&l->refcount, 1);   /* the table's */
			memcpy(l->client_guid, c->client_guid, 16);
			memcpy(l->key, lr->lease.key, 16);
			l->version = lr->lease.version;
			l->has_parent = (lr->lease.flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET) != 0;
			memcpy(l->parent_key, lr->lease.parent_key, 16);
			inode_get(in);
			l->inode = in;
			l->is_dir = o->is_dir;
			l->state = req_state & allowed;
			/* 3.3.5.9.11: a new v2 lease starts at the client's
			 * epoch and counts the grant. */
			l->epoch = lr->lease.epoch;
			if (l->state) l->epoch++;
			list_add_tail(&l->table_link, &lease_table);
			l->published = true;
		} else if (!l->breaking) {
			/* Upgrades only (3.3.5.9.8): a request that covers the
			 * current state raises it, as far as the other opens
			 * allow (allowed); anything else keeps it (smbtorture
			 * smb2.lease.upgrade2 / upgrade3). */
			/* A directory never caches writes: W is not asked of it. */
			uint32_t up = req_state & (o->is_dir ? (LEASE_R | LEASE_H) : SMB2_LEASE_ALL);
			if (!(up & ~allowed) && (up & l->state) == l->state && up != l->state) {
				l->state = up;
				if (l->version == 2) l->epoch++;
			}
		}
		smb_mutex_unlock(&lease_table_lock);
		lease_get(l);                 /* the grant's */
		l->ngrants++;
		g->lease = l;
		g->level = SMB2_OPLOCK_LEVEL_LEASE;
		rsp->oplock_level = SMB2_OPLOCK_LEVEL_LEASE;
		rsp->has_lease = true;
		struct smb2_lease_ctx out = {
			.version = l->version,
			.state = l->state,
			.flags = (l->breaking ? SMB2_LEASE_FLAG_BREAK_IN_PROGRESS : 0) |
				 (l->version == 2 && l->has_parent ? SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET : 0),
			.epoch = l->epoch,
		};
		memcpy(out.key, l->key, 16);
		if (l->version == 2 && l->has_parent) memcpy(out.parent_key, l->parent_key, 16);
		rsp->ctx_len = smb2_lease_ctx_encode(rsp->ctx, &out);
		if (o->is_dir) log_debug("lease: directory lease 0x%x granted on '%s'", l->state, o->path ? o->path : "?");
	} else {
		uint8_t level = lr->oplock_level;
		if (level != SMB2_OPLOCK_LEVEL_II && level != SMB2_OPLOCK_LEVEL_EXCLUSIVE && level != SMB2_OPLOCK_LEVEL_BATCH)
			level = SMB2_OPLOCK_LEVEL_NONE;
		/* MS-FSA 2.1.5.17.1: exclusive and batch only for the only
		 * open; otherwise level II (3.3.5.9.8 retries with II). */
		if ((level == SMB2_OPLOCK_LEVEL_EXCLUSIVE || level == SMB2_OPLOCK_LEVEL_BATCH) && others)
			level = SMB2_OPLOCK_LEVEL_II;
		if (level == SMB2_OPLOCK_LEVEL_II && (other_writer_cache || other_handle_lease)) level = SMB2_OPLOCK_LEVEL_NONE;
		g->level = level;
		rsp->oplock_level = level;
		o->oplock_level = level;
		if (level == SMB2_OPLOCK_LEVEL_NONE) {
			free(g);
			g = NULL;
		}
	}
	if (g) {
		list_add_tail(&g->link, &in->oplock_grants);
		g = NULL;
	}
unlock:
	smb_mutex_unlock(&in->lock);
	send_notes(notes);
	if (!status && rsp->has_lease && o->is_dir) lease_dir_watch_add(o);
	lease_put(release);
	free(g);
	free(fresh);
	return status;
}

/* ------------------------------------------------------------ release */

void lease_open_closed(struct smbd_open *o)
{
	lease_post_wakeups(lease_open_closed_deferred(o));
}

void lease_post_wakeups(struct lease_waiter *woken)
{
	post_woken(woken);
}

struct lease_waiter *lease_open_closed_deferred(struct smbd_open *o)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return NULL;
	struct smbd_lease *drop = NULL, *unpublished = NULL;
	struct lease_waiter *woken = NULL;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct lease_grant *g = grant_of(in, o);
	/* Closing a handle that changed the data updates the file's write
	 * time, an attribute its directory's leases cache (Windows;
	 * smbtorture smb2.lease.v2_request). */
	bool wrote = g && g->wrote;
	bool have_parent = false;
	uint8_t parent_key[16], guid[16];
	if (wrote && g->lease && g->lease->has_parent) {
		have_parent = true;
		memcpy(parent_key, g->lease->parent_key, 16);
		memcpy(guid, g->lease->client_guid, 16);
	}
	if (g) {
		list_del(&g->link);
		bool was_breaking = g->breaking;
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			drop = l;
			if (--l->ngrants == 0) {
				/* Last open of the lease: it leaves the table
				 * (3.3.4.16 / 3.3.5.10), ending any break. */
				was_breaking = was_breaking || l->breaking;
				l->breaking = false;
				smb_mutex_lock(&lease_table_lock);
				if (l->published) {
					list_del(&l->table_link);
					l->published = false;
					unpublished = l;
				}
				smb_mutex_unlock(&lease_table_lock);
			}
		}
		if (was_breaking) wake_waiters_locked(in, &woken);
	}
	/* A waiter may be waiting for this open to go (sharing); wake it
	 * anyway when the last cached handle closes. */
	/* Not when o is the half-built open of the CREATE that just went to
	 * wait (smb2_create undoes it): that would wake the CREATE itself, which
	 * would wait again, in a loop, until the break ends. */
	bool own_undo = pending_undo == o;
	if (own_undo) pending_undo = NULL;
	if (!woken && !own_undo && !list_empty(&in->break_waiters)) wake_waiters_locked(in, &woken);
	smb_mutex_unlock(&in->lock);
	free(g);
	lease_put(drop);
	lease_put(unpublished);
	if (wrote && o->path) break_parent_of(o, o->path, have_parent ? guid : NULL, have_parent ? parent_key : NULL);
	return woken;
}

void lease_debug_dump_inode(struct smbd_inode *in, FILE *out)
{
	smb_mutex_lock(&in->lock);
	if (!in->break_waiters.next || list_empty(&in->break_waiters)) {
		smb_mutex_unlock(&in->lock);
		return;
	}
	uint64_t now = clock_monotonic_ms();
	unsigned nwait = 0;
	struct list_head *pos;
	list_for_each(pos, &in->break_waiters) nwait++;
	fprintf(out, "inode %llu: %u opens, %u CREATEs waiting\n", (unsigned long long)in->ino, in->nopens, nwait);
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		struct smbd_open *o = g->open;
		struct smbd_conn *c = o->session ? o->session->conn : o->conn;
		fprintf(out, "  open %s vid %llu conn %s%s: ", o->path ? o->path : "?",
			(unsigned long long)smb_id_load(&o->volatile_id), c ? c->peer_str : "(none)",
			o->durable_disconnected ? " (durable, disconnected)" : "");
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			fprintf(out, "lease %02x%02x.. state 0x%x%s to 0x%x requested 0x%x undelivered %d deadline in %lld ms, "
				"%u grants\n",
				l->key[0], l->key[1], l->state, l->breaking ? " breaking" : "", l->breaking_to, l->requested,
				l->break_undelivered, (long long)l->deadline_ms - (long long)now, l->ngrants);
		} else {
			fprintf(out, "oplock %u%s to %u undelivered %d deadline in %lld ms\n", g->level,
				g->breaking ? " breaking" : "", g->breaking_to, g->break_undelivered,
				(long long)g->deadline_ms - (long long)now);
		}
	}
	list_for_each(pos, &in->break_waiters) {
		struct lease_waiter *w = list_entry(pos, struct lease_waiter, link);
		fprintf(out, "  waiting: mid %llu conn %s async %s\n", (unsigned long long)w->hdr.message_id,
			w->conn ? w->conn->peer_str : "?", w->async ? "live" : "done");
	}
	smb_mutex_unlock(&in->lock);
}

/* ------------------------------------------------- other break triggers */

void lease_break_on_write(struct smbd_open *o)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return;
	pthread_once(&lease_once, lease_init);
	struct break_note *notes = NULL;
	bool arm = false;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct lease_grant *mine = grant_of(in, o);
	if (mine) mine->wrote = true;
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->lease) {
			/* MS-FSA 2.1.4.12 (write, byte-range lock, end of file):
			 * read-caching leases of other keys break to none; a
			 * held H goes with it, so the break wants an ack
			 * (smbtorture smb2.lease.complex1 / lock1). */
			if (g == mine || (mine && mine->lease == g->lease)) continue;
			if (g->lease->state & LEASE_R) arm |= lease_break_locked(in, g->lease, SMB2_LEASE_NONE, &notes);
		} else if (g->level == SMB2_OPLOCK_LEVEL_II) {
			/* Level II oplocks all break to none, the writer's own
			 * too (smbtorture smb2.oplock.batch1 / brl1 / levelii500). */
			oplock_break_locked(g, SMB2_OPLOCK_LEVEL_NONE, &notes);
		}
	}
	smb_mutex_unlock(&in->lock);
	send_notes(notes);
	if (arm) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);
}

/* Under in->lock: breaks the handle caching of every open of in but o (and
 * the opens sharing o's lease), as a rename or delete needs: leases of other
 * keys lose H, batch oplocks go to level II.  Returns whether a rename must
 * wait: a holder has to acknowledge (a break to ~H just sent, or one in
 * progress while H is still held). */
static bool handle_breaks_locked(struct smbd_inode *in, struct smbd_open *o, struct break_note **notes, bool *arm)
{
	bool must_wait = false;
	struct lease_grant *mine = grant_of(in, o);
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g == mine) continue;
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			if (mine && mine->lease == l) continue;
			if (!(l->state & LEASE_H)) continue;
			/* A break in progress (say RWH -> RH) records that H
			 * must go too; its acknowledgement continues to it. */
			bool sent = lease_break_locked(in, l, l->state & ~LEASE_H, notes);
			*arm |= sent;
			if (sent || l->breaking) must_wait = true;
		} else if (g->level == SMB2_OPLOCK_LEVEL_BATCH) {
			/* A batch oplock caches the handle (MS-FSA 2.1.4.12). */
			bool sent = oplock_break_locked(g, SMB2_OPLOCK_LEVEL_II, notes);
			*arm |= sent;
			if (sent || g->breaking) must_wait = true;
		}
	}
	return must_wait;
}

void lease_break_handle(struct smbd_open *o)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return;
	pthread_once(&lease_once, lease_init);
	struct break_note *notes = NULL;
	bool arm = false;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	(void)handle_breaks_locked(in, o, &notes, &arm);
	smb_mutex_unlock(&in->lock);
	send_notes(notes);
	if (arm) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);
}


/* MS-FSA 2.1.5.14.11 / 2.1.4.12: a rename breaks the handle caching of the
 * file's other opens, and the rename goes on only once the holders have
 * acknowledged (they close cached handles first), the break has timed out,
 * or they closed: Windows answers STATUS_PENDING meanwhile, and a CREATE of
 * the new name still finds nothing (smbtorture smb2.lease.rename_wait).
 * The waiting works like a CREATE's: the request is copied into a waiter
 * on the file's break_waiters, and whatever ends a break there runs it
 * again from the start through rerun, on its own loop thread. */
uint32_t lease_rename_breaks(struct smb2_request *req, struct smbd_open *o, uint32_t (*rerun)(struct smb2_request *req))
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return STATUS_SUCCESS;
	pthread_once(&lease_once, lease_init);
	bool resuming = lease_resuming(req);
	/* Waiting means running the request again on its own; one that
	 * names its file through an earlier request of a compound cannot be
	 * (and only the last of a chain may go async, 3.3.5.2.7). */
	bool may_wait = resuming || (req->last_in_chain && !(req->hdr.flags & SMB2_FLAGS_RELATED_OPERATIONS));

	/* Most renames find no caching open: look before copying the request. */
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	bool others = false;
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		if (list_entry(pos, struct lease_grant, link)->open != o) {
			others = true;
			break;
		}
	}
	smb_mutex_unlock(&in->lock);
	if (!others) return STATUS_SUCCESS;

	struct lease_waiter *w = NULL;
	if (resuming) w = resuming_waiter;
	else if (may_wait) w = waiter_new(req);
	if (w) w->run = rerun;

	struct break_note *notes = NULL;
	struct smbd_inode *old_inode = NULL;
	bool arm = false;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	bool must_wait = handle_breaks_locked(in, o, &notes, &arm);
	if (must_wait && w) old_inode = waiter_link_locked(w, in);
	smb_mutex_unlock(&in->lock);
	inode_put(old_inode);
	notes_inline = true;
	send_notes(notes);
	notes_inline = false;
	if (must_wait) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);

	if (!must_wait || !w) {
		if (w && w != resuming_waiter) waiter_put(w);
		return STATUS_SUCCESS;
	}
	if (w == resuming_waiter) return STATUS_PENDING;   /* the same async request waits on */
	/* The wait belongs to the open being renamed: closing it cancels. */
	return waiter_go_async(req, o, in, w, "a handle caching break");
}

/* lease_dir_watch.h: the directory's content changed. */
void lease_break_dir(dev_t dev, ino_t ino, const uint8_t *guid, const uint8_t *key)
{
	pthread_once(&lease_once, lease_init);
	/* Find the directory's entry without creating one: only a directory
	 * with opens (and so an inode entry) can hold leases.  The lease
	 * table knows them. */
	struct smbd_inode *in = NULL;
	smb_mutex_lock(&lease_table_lock);
	struct list_head *pos;
	list_for_each(pos, &lease_table) {
		struct smbd_lease *l = list_entry(pos, struct smbd_lease, table_link);
		if (l->is_dir && l->inode->dev == dev && l->inode->ino == ino) {
			in = l->inode;
			inode_get(in);
			break;
		}
	}
	smb_mutex_unlock(&lease_table_lock);
	if (!in) return;
	struct break_note *notes = NULL;
	bool arm = false;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		struct smbd_lease *l = g->lease;
		if (!l || !l->is_dir || !(l->state & LEASE_R)) continue;
		if (key && !memcmp(l->key, key, 16) && !memcmp(l->client_guid, guid, 16)) continue;
		/* The cached listing is stale: the lease breaks to none
		 * (Windows; smbtorture smb2.lease.v2_request). */
		arm |= lease_break_locked(in, l, SMB2_LEASE_NONE, &notes);
	}
	smb_mutex_unlock(&in->lock);
	send_notes(notes);
	if (arm) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);
	inode_put(in);
}

static void break_parent_of(struct smbd_open *o, const char *path, const uint8_t *guid, const uint8_t *key)
{
	if (!o || !o->tree || !o->tree->share || o->tree->share->root_fd < 0 || !path) return;
	pthread_once(&lease_once, lease_init);
	/* Cheap exit: no directory lease anywhere. */
	bool any = false;
	smb_mutex_lock(&lease_table_lock);
	struct list_head *pos;
	list_for_each(pos, &lease_table) {
		if (list_entry(pos, struct smbd_lease, table_link)->is_dir) {
			any = true;
			break;
		}
	}
	smb_mutex_unlock(&lease_table_lock);
	if (!any) return;
	const char *slash = strrchr(path, '/');
	char *parent = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (!parent) return;
	struct stat st;
	int r = fstatat(o->tree->share->root_fd, parent, &st, AT_SYMLINK_NOFOLLOW);
	free(parent);
	if (r < 0 || !S_ISDIR(st.st_mode)) return;
	lease_break_dir(st.st_dev, st.st_ino, guid, key);
}

void lease_break_parent(struct smbd_open *o, const char *path)
{
	/* The changing open's own lease names the directory's lease as its
	 * parent (2.2.13.2.10): that client's cache is kept up to date by
	 * the client itself. */
	const uint8_t *key = NULL;
	uint8_t parent_key[16], guid[16];
	struct smbd_inode *in = lease_inode(o);
	struct smbd_conn *c = o->session ? o->session->conn : NULL;
	if (in && c) {
		smb_mutex_lock(&in->lock);
		lists_ready(in);
		struct lease_grant *g = grant_of(in, o);
		if (g && g->lease && g->lease->has_parent) {
			memcpy(parent_key, g->lease->parent_key, 16);
			memcpy(guid, g->lease->client_guid, 16);
			key = parent_key;
		}
		smb_mutex_unlock(&in->lock);
	}
	break_parent_of(o, path, key ? guid : NULL, key);
}

/* ------------------------------------------------------------ parsing */

void lease_request_parse(const struct smbd_conn *c, uint8_t requested_oplock_level,
			 const struct smb2_create_context *ctx, struct lease_request *lr)
{
	memset(lr, 0, sizeof(*lr));
	lr->oplock_level = requested_oplock_level;
	if (requested_oplock_level != SMB2_OPLOCK_LEVEL_LEASE) return;
	/* Leases need 2.1; a malformed context is ignored (no lease). */
	if (!ctx || c->dialect < SMB2_DIALECT_210 || c->dialect == SMB2_DIALECT_WILDCARD) return;
	if (smb2_lease_ctx_decode(ctx->data, ctx->data_len, &lr->lease) != STATUS_SUCCESS) return;
	/* v2 contexts are an SMB 3.x feature (2.2.13.2.10). */
	if (lr->lease.version == 2 && c->dialect < SMB2_DIALECT_300) {
		lr->lease.version = 1;
		lr->lease.flags &= ~SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET;
	}
	lr->has_lease = true;
}
