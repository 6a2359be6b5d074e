/* Byte-range locks: the per-stream lock list (MS-FSA 2.1.1.6
 * Stream.ByteRangeLockList), conflict rules (MS-FSA 2.1.4.10), lock and
 * unlock (2.1.5.8, 2.1.5.9), the READ/WRITE check (2.1.5.2, 2.1.5.3),
 * blocked LOCK requests that wait for a range (MS-SMB2 3.3.5.14.2) and the
 * open's LockSequenceArray (MS-SMB2 3.3.1.10, 3.3.5.14).
 *
 * Where things live: every list is on the inode of the open's data stream
 * (o->stream_inode for a named stream, else o->inode) and is guarded by
 * that inode's lock (rank "inode" / "inode_stream").  Nothing here does I/O
 * or takes another lock while holding it; loop_post (rank loop_post, above)
 * is called after it is released.
 *
 * Blocked requests and threads.  A LOCK that must wait becomes an async
 * request (smbd_go_async) on the loop thread that owns its connection, and
 * a struct brl_waiter goes on the inode's waiter list.  The unlock or close
 * that frees the range may run on any loop thread: it grants the lock right
 * there, under the inode lock (so no other request can take the range in
 * between), marks the waiter GRANTED and posts the completion to the
 * waiter's loop (loop_post), because the async record and the connection's
 * send path belong to that thread.  The async record itself is only ever
 * touched on the owning thread: by the posted task (send SUCCESS) or by the
 * core's cancel path (CANCEL, close, tree disconnect, logoff, connection
 * teardown), whichever comes first; the other finds waiter->async NULL.
 * A cancel that arrives after the grant but before the posted task rolls
 * the granted lock back, so the client never holds a lock it was told it
 * did not get.
 *
 * Waiter references: the async record's arg (1, dropped by whoever clears
 * waiter->async), each posted task (1).  A waiter on the inode list always
 * has its async reference (the cancel path unlinks it before dropping it).
 * The waiter holds a reference on its open (which keeps the inode) and on
 * its connection (for the loop pointer and loop_post).
 */
#include <stdlib.h>
#include <string.h>

#include "server/brl.h"
#include "server/durable.h"
#include "server/loop.h"
#include "server/server.h"
#include "wire/lock.h"

struct brl_lock {
	struct list_head link;          /* inode->brl_locks */
	const struct smbd_open *owner;  /* not counted: removed by brl_close_open before the open goes */
	uint64_t offset, length;
	bool exclusive;
	/* The blocked request this entry was granted to, until its success
	 * is sent (then it is an ordinary lock of the open); a close or a
	 * cancel in between must know to reach it. */
	struct brl_waiter *grantee;
};

enum brl_waiter_state {
	BRL_WAIT_QUEUED,    /* on inode->brl_waiters */
	BRL_WAIT_GRANTED,   /* lock taken for it; completion posted, not yet sent */
	BRL_WAIT_DONE,      /* answered, cancelled or detached: nothing more to do */
};

struct brl_waiter {
	atomic_int refcount;
	struct list_head link;          /* inode->brl_waiters while QUEUED; then a local grant list */
	struct smbd_open *open;         /* owner: waiter (1) */
	struct smbd_conn *conn;         /* owner: waiter (1) */
	struct smbd_inode *in;          /* the lock inode; kept alive by open */
	uint64_t offset, length;
	bool exclusive;
	uint8_t seq_number; uint32_t seq_index;  /* recorded when granted (3.3.5.14) */
	bool seq_eligible;
	enum brl_waiter_state state;    /* guarded by in->lock */
	struct brl_lock *granted;       /* the entry granted to it; guarded by in->lock */
	struct smbd_async *async;       /* loop thread of conn only; NULL once answered */
};

/* Open.LockSequenceArray (MS-SMB2 3.3.1.10): 64 entries, index 1..64. */
#define BRL_SEQ_ENTRIES 64
struct brl_seq {
	struct list_head link;          /* inode->brl_seqs */
	const struct smbd_open *owner;  /* not counted: freed by brl_close_open */
	uint64_t valid;                 /* bit i-1: entry i is Valid */
	uint8_t number[BRL_SEQ_ENTRIES + 1];
};

/* ------------------------------------------------------------ pure rules */

bool brl_range_invalid(uint64_t off, uint64_t len)
{
	/* MS-FSA 2.1.5.8: ((FileOffset + Length - 1) < FileOffset) && Length != 0 */
	return len != 0 && off + len - 1 < off;
}

bool brl_range_conflict(uint64_t held_off, uint64_t held_len, bool held_exclusive, bool same_owner, uint64_t off,
			uint64_t len, bool exclusive, bool lock_intent)
{
	/* MS-FSA 2.1.4.10: the {0, 0} range overlaps nothing, whichever side
	 * it is on. */
	if (off == 0 && len == 0) return false;
	if (held_off == 0 && held_len == 0) return false;
	/* A zero-length range at X > 0 has "last byte" X - 1: it overlaps a
	 * range that contains both X - 1 and X, which is what Windows does
	 * (smbtorture smb2.lock.zerobytelength).  Neither sum overflows: lock
	 * ranges are validated by brl_range_invalid and I/O ranges are
	 * bounded by the callers. */
	uint64_t last = off + len - 1;
	uint64_t held_last = held_off + held_len - 1;
	if (!(off <= held_last && last >= held_off)) return false;
	if (held_exclusive) {
		/* The owner of an exclusive lock may read and write under it
		 * and stack shared locks on it, but not a second exclusive
		 * lock. */
		if (!same_owner) return true;
		return lock_intent && exclusive;
	}
	/* A shared lock lets everybody read and share-lock the range;
	 * nobody, not even its owner, may write it or lock it exclusively. */
	return exclusive;
}

/* ------------------------------------------------------------ lists */

static struct smbd_inode *lock_inode(const struct smbd_open *o)
{
	return o->stream_inode ? o->stream_inode : o->inode;
}

/* Called with in->lock held. */
static void lists_ready(struct smbd_inode *in)
{
	if (!in->brl_locks.next) {
		list_init(&in->brl_locks);
		list_init(&in->brl_waiters);
		list_init(&in->brl_seqs);
	}
}

/* Called with in->lock held. */
static bool conflicts_locked(struct smbd_inode *in, const struct smbd_open *o, uint64_t off, uint64_t len,
			     bool exclusive, bool lock_intent)
{
	struct list_head *pos;
	list_for_each(pos, &in->brl_locks) {
		struct brl_lock *l = list_entry(pos, struct brl_lock, link);
		if (brl_range_conflict(l->offset, l->length, l->exclusive, l->owner == o, off, len, exclusive,
				       lock_intent))
			return true;
	}
	return false;
}

uint32_t brl_check_io(struct smbd_open *o, uint64_t off, uint64_t len, bool write)
{
	struct smbd_inode *in = lock_inode(o);
	if (!in || len == 0) return STATUS_SUCCESS;
	/* The callers bound off and len to 63 bits each; clamp the end anyway
	 * so the overlap arithmetic never wraps. */
	if (off + len - 1 < off) len = UINT64_MAX - off + 1;
	smb_mutex_lock(&in->lock);
	bool conflict = false;
	if (in->brl_locks.next) conflict = conflicts_locked(in, o, off, len, write, false);
	smb_mutex_unlock(&in->lock);
	return conflict ? STATUS_FILE_LOCK_CONFLICT : STATUS_SUCCESS;
}

/* ------------------------------------------------------------ sequence */

/* MS-SMB2 3.3.5.14: the array is used on dialects above 2.0.2 for opens that
 * are resilient, durable or persistent, or when the server offers
 * multichannel.  Windows (<314>) checks only resilient and persistent
 * opens; smbtorture's smb2.lock.replay_broken_windows accepts either on a
 * plain handle but needs the check once FSCTL_LMR_REQUEST_RESILIENCY made
 * the open resilient, and replay_smb3_specification_durable needs it for a
 * durable one, as the specification says. */
static bool seq_eligible(const struct smbd_open *o, const struct smb2_lock_req *r)
{
	if (!o->conn || o->conn->dialect == SMB2_DIALECT_202) return false;
	if (r->lock_sequence_index == 0 || r->lock_sequence_index > BRL_SEQ_ENTRIES) return false;
	/* 3.3.5.14: resilient, durable or persistent opens, or multichannel. */
	return atomic_load(&o->resiliency_timeout_ms) != 0 || o->durable || o->is_persistent ||
	       (o->conn->server_capabilities & SMB2_GLOBAL_CAP_MULTI_CHANNEL) != 0;
}

/* Called with in->lock held. */
static struct brl_seq *seq_find(struct smbd_inode *in, const struct smbd_open *o)
{
	struct list_head *pos;
	list_for_each(pos, &in->brl_seqs) {
		struct brl_seq *s = list_entry(pos, struct brl_seq, link);
		if (s->owner == o) return s;
	}
	return NULL;
}

/* Called with in->lock held: records a successful LOCK (3.3.5.14.1/2). */
static void seq_record(struct smbd_inode *in, const struct smbd_open *o, uint32_t index, uint8_t number)
{
	struct brl_seq *s = seq_find(in, o);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) return;   /* losing replay detection is harmless */
		s->owner = o;
		list_add_tail(&s->link, &in->brl_seqs);
	}
	s->valid |= 1ull << (index - 1);
	s->number[index] = number;
}

/* ------------------------------------------------------------ waiters */

static void waiter_put(struct brl_waiter *w)
{
	if (atomic_fetch_sub(&w->refcount, 1) != 1) return;
	open_put(w->open);
	conn_put(w->conn);
	free(w);
}

/* Runs on the waiter's loop thread: sends the final SUCCESS of a granted
 * blocking lock, unless the request was ended meanwhile. */
static void waiter_complete_task(void *arg)
{
	struct brl_waiter *w = arg;
	struct smbd_inode *in = w->in;
	smb_mutex_lock(&in->lock);
	bool granted = w->state == BRL_WAIT_GRANTED;
	if (granted) {
		w->state = BRL_WAIT_DONE;
		if (w->granted) w->granted->grantee = NULL;   /* an ordinary lock of the open now */
		w->granted = NULL;
		if (w->seq_eligible) seq_record(in, w->open, w->seq_index, w->seq_number);
	}
	smb_mutex_unlock(&in->lock);
	if (granted && w->async) {
		struct smbd_async *a = w->async;
		w->async = NULL;
		uint8_t body[4] = { 4, 0, 0, 0 };   /* SMB2 LOCK response (2.2.27) */
		smbd_async_complete(a, STATUS_SUCCESS, body, sizeof(body));
		waiter_put(w);   /* the async record's reference */
	}
	if (granted) durable_locks_changed(w->open);
	waiter_put(w);   /* this task's reference */
}

/* Called with in->lock held: grants every queued waiter whose range is
 * now free, in arrival order, and moves them to *granted (each with a new
 * reference for its posted task). */
static void grant_waiters_locked(struct smbd_inode *in, struct list_head *granted)
{
	struct list_head *pos, *n;
	list_for_each_safe(pos, n, &in->brl_waiters) {
		struct brl_waiter *w = list_entry(pos, struct brl_waiter, link);
		if (conflicts_locked(in, w->open, w->offset, w->length, w->exclusive, true)) continue;
		struct brl_lock *l = calloc(1, sizeof(*l));
		if (!l) continue;   /* stays queued; a later release retries */
		l->owner = w->open;
		l->offset = w->offset;
		l->length = w->length;
		l->exclusive = w->exclusive;
		list_add_tail(&l->link, &in->brl_locks);
		list_del(&w->link);
		w->state = BRL_WAIT_GRANTED;
		w->granted = l;
		l->grantee = w;
		atomic_fetch_add(&w->refcount, 1);
		list_add_tail(&w->link, granted);
	}
}

/* After releasing in->lock: hands each granted waiter to its loop. */
static void post_granted(struct list_head *granted)
{
	struct list_head *pos, *n;
	list_for_each_safe(pos, n, granted) {
		struct brl_waiter *w = list_entry(pos, struct brl_waiter, link);
		list_del(&w->link);
		log_debug("brl: blocked lock of %s granted (%s)", w->conn->peer_str,
			  loop_self() == w->conn->loop ? "same loop" : "posted to its loop");
		if (loop_post(w->conn->loop, waiter_complete_task, w) == 0) continue;
		if (loop_self() == w->conn->loop) {
			waiter_complete_task(w);
			continue;
		}
		/* Out of memory: the lock stays granted but the client is not
		 * told until the request is cancelled or its handle closed,
		 * which then rolls it back. */
		log_error("brl: could not post a lock completion");
		waiter_put(w);
	}
}

static void retry_waiters(struct smbd_inode *in)
{
	struct list_head granted;
	list_init(&granted);
	smb_mutex_lock(&in->lock);
	if (in->brl_waiters.next) grant_waiters_locked(in, &granted);
	smb_mutex_unlock(&in->lock);
	post_granted(&granted);
}

/* The async core ends a blocked lock (on the waiter's loop thread). */
static uint32_t waiter_cancel(struct smbd_async *a, enum smbd_async_reason why, void *arg)
{
	(void)a;
	struct brl_waiter *w = arg;
	struct smbd_inode *in = w->in;
	bool released = false;
	smb_mutex_lock(&in->lock);
	if (w->state == BRL_WAIT_QUEUED) {
		list_del(&w->link);
	} else if (w->state == BRL_WAIT_GRANTED && w->granted) {
		/* Granted, but the client has not been told: roll it back so
		 * the range is not held by a request answered with an error. */
		list_del(&w->granted->link);
		free(w->granted);
		w->granted = NULL;
		released = true;
	}
	w->state = BRL_WAIT_DONE;
	smb_mutex_unlock(&in->lock);
	w->async = NULL;
	waiter_put(w);   /* the async record's reference */
	if (released) retry_waiters(in);
	/* MS-SMB2 3.3.5.16: CANCEL answers STATUS_CANCELLED.  Windows ends a
	 * blocked lock whose handle, tree or session goes away with
	 * STATUS_RANGE_NOT_LOCKED (smbtorture smb2.lock.cancel, cancel-tdis,
	 * cancel-logoff). */
	return why == SMBD_ASYNC_CANCELLED ? STATUS_CANCELLED : STATUS_RANGE_NOT_LOCKED;
}

/* ------------------------------------------------------------ LOCK */

static bool lock_flags_valid(uint32_t f)
{
	/* MS-SMB2 2.2.26.1: the only lock combinations. */
	return f == SMB2_LOCKFLAG_SHARED_LOCK || f == SMB2_LOCKFLAG_EXCLUSIVE_LOCK ||
	       f == (SMB2_LOCKFLAG_SHARED_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY) ||
	       f == (SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY);
}

uint32_t brl_lock_request(struct smb2_request *req, struct smbd_open *o, const struct smb2_lock_req *r)
{
	struct smbd_inode *in = lock_inode(o);
	struct smb2_lock_element e0;
	smb2_lock_req_element(r, 0, &e0);
	bool unlocking = (e0.flags & SMB2_LOCKFLAG_UNLOCK) != 0;
	bool eligible = seq_eligible(o, r);
	uint32_t status = STATUS_SUCCESS;

	/* MS-SMB2 3.3.5.14.2: several locks in one request must all fail
	 * immediately; only a single lock may block. */
	if (!unlocking && r->lock_count > 1) {
		for (unsigned i = 0; i < r->lock_count; i++) {
			struct smb2_lock_element e;
			smb2_lock_req_element(r, i, &e);
			if (!(e.flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY)) return STATUS_INVALID_PARAMETER;
		}
	}

	/* Entries allocated before taking the lock (no allocation under it
	 * matters for correctness, but keep the critical section short). */
	struct brl_lock **taken = NULL;
	if (!unlocking) {
		taken = calloc(r->lock_count, sizeof(*taken));
		if (!taken) return STATUS_INSUFFICIENT_RESOURCES;
		for (unsigned i = 0; i < r->lock_count; i++) {
			taken[i] = calloc(1, sizeof(**taken));
			if (!taken[i]) {
				for (unsigned j = 0; j < i; j++) free(taken[j]);
				free(taken);
				return STATUS_INSUFFICIENT_RESOURCES;
			}
		}
	}

	unsigned ngranted = 0;
	bool released = false;
	bool must_wait = false;
	struct smb2_lock_element wait_el = { 0 };

	smb_mutex_lock(&in->lock);
	lists_ready(in);

	/* 3.3.5.14: a replayed LockSequenceNumber is answered with success
	 * without doing anything; a different one invalidates the entry. */
	if (eligible) {
		struct brl_seq *s = seq_find(in, o);
		uint64_t bit = 1ull << (r->lock_sequence_index - 1);
		if (s && (s->valid & bit)) {
			if (s->number[r->lock_sequence_index] == r->lock_sequence_number) {
				smb_mutex_unlock(&in->lock);
				if (taken) {
					for (unsigned i = 0; i < r->lock_count; i++) free(taken[i]);
					free(taken);
				}
				return STATUS_SUCCESS;
			}
			s->valid &= ~bit;
		}
	}

	for (unsigned i = 0; i < r->lock_count; i++) {
		struct smb2_lock_element e;
		smb2_lock_req_element(r, i, &e);
		if (unlocking) {
			/* 3.3.5.14.1: every element must be a plain unlock;
			 * unlocks already done stay done. */
			if (e.flags != SMB2_LOCKFLAG_UNLOCK) {
				status = STATUS_INVALID_PARAMETER;
				break;
			}
			if (brl_range_invalid(e.offset, e.length)) {
				status = STATUS_INVALID_LOCK_RANGE;
				break;
			}
			/* MS-FSA 2.1.5.9: the same open, offset and length;
			 * an exclusive match is removed before shared ones. */
			struct brl_lock *victim = NULL;
			struct list_head *pos;
			list_for_each(pos, &in->brl_locks) {
				struct brl_lock *l = list_entry(pos, struct brl_lock, link);
				if (l->owner != o || l->offset != e.offset || l->length != e.length) continue;
				victim = l;
				if (l->exclusive) break;
			}
			if (!victim) {
				status = STATUS_RANGE_NOT_LOCKED;
				break;
			}
			list_del(&victim->link);
			free(victim);
			released = true;
			continue;
		}
		/* 3.3.5.14.2: locking; an unlock among locks, or any other
		 * flag combination, is invalid. */
		if (!lock_flags_valid(e.flags)) {
			status = STATUS_INVALID_PARAMETER;
			break;
		}
		if (brl_range_invalid(e.offset, e.length)) {
			status = STATUS_INVALID_LOCK_RANGE;
			break;
		}
		bool exclusive = (e.flags & SMB2_LOCKFLAG_EXCLUSIVE_LOCK) != 0;
		if (conflicts_locked(in, o, e.offset, e.length, exclusive, true)) {
			if (!(e.flags & SMB2_LOCKFLAG_FAIL_IMMEDIATELY) && r->lock_count == 1) {
				must_wait = true;
				wait_el = e;
			} else {
				status = STATUS_LOCK_NOT_GRANTED;
			}
			break;
		}
		/* taken[i] now belongs to the list; the slot remembers it
		 * for a roll-back. */
		struct brl_lock *l = taken[i];
		l->owner = o;
		l->offset = e.offset;
		l->length = e.length;
		l->exclusive = exclusive;
		list_add_tail(&l->link, &in->brl_locks);
		ngranted = i + 1;
	}
	if (status && !unlocking) {
		/* All or nothing (3.3.5.14.2): a failed element releases the
		 * locks this request took before it. */
		for (unsigned i = 0; i < ngranted; i++) {
			list_del(&taken[i]->link);
			free(taken[i]);
			taken[i] = NULL;
		}
		if (ngranted) released = true;
		ngranted = 0;
	} else if (!status && !must_wait && eligible) {
		seq_record(in, o, r->lock_sequence_index, r->lock_sequence_number);
	}
	smb_mutex_unlock(&in->lock);

	if (taken) {
		/* Granted entries belong to the list; free the unused ones. */
		for (unsigned i = ngranted; i < r->lock_count; i++) free(taken[i]);
		free(taken);
	}
	if (released) retry_waiters(in);
	if (!must_wait) {
		if (status == STATUS_SUCCESS && (released || ngranted)) durable_locks_changed(o);
		return status;
	}

	/* A single blocking lock that conflicts: wait asynchronously
	 * (MS-SMB2 3.3.4.2, 3.3.5.14.2). */
	struct brl_waiter *w = calloc(1, sizeof(*w));
	if (!w) return STATUS_INSUFFICIENT_RESOURCES;
	atomic_init(&w->refcount, 1);   /* the async record's */
	open_get(o);
	w->open = o;
	conn_get(req->conn);
	w->conn = req->conn;
	w->in = in;
	w->offset = wait_el.offset;
	w->length = wait_el.length;
	w->exclusive = (wait_el.flags & SMB2_LOCKFLAG_EXCLUSIVE_LOCK) != 0;
	w->seq_eligible = eligible;
	w->seq_index = r->lock_sequence_index;
	w->seq_number = r->lock_sequence_number;
	struct smbd_async *a;
	status = smbd_go_async(req, o, waiter_cancel, w, &a);
	if (status != STATUS_PENDING) {
		waiter_put(w);
		return status;
	}
	w->async = a;
	/* The range may have been freed between the check above and now:
	 * queue and re-check under one hold of the lock, so no release can
	 * slip between them. */
	struct list_head granted;
	list_init(&granted);
	smb_mutex_lock(&in->lock);
	w->state = BRL_WAIT_QUEUED;
	list_add_tail(&w->link, &in->brl_waiters);
	grant_waiters_locked(in, &granted);
	smb_mutex_unlock(&in->lock);
	post_granted(&granted);
	return STATUS_PENDING;
}

/* ------------------------------------------------------------ close */

void brl_close_open(struct smbd_open *o)
{
	struct smbd_inode *in = lock_inode(o);
	if (!in) return;
	struct list_head dead;
	list_init(&dead);
	bool released = false;
	struct list_head *pos, *n;
	smb_mutex_lock(&in->lock);
	if (!in->brl_locks.next) {
		smb_mutex_unlock(&in->lock);
		return;
	}
	/* MS-FSA 2.1.5.4: closing the open releases its byte-range locks. */
	list_for_each_safe(pos, n, &in->brl_locks) {
		struct brl_lock *l = list_entry(pos, struct brl_lock, link);
		if (l->owner != o) continue;
		if (l->grantee) {
			/* Granted to a blocked request of o whose success is
			 * not sent yet: it now ends like any request of a
			 * closed handle. */
			l->grantee->granted = NULL;
			l->grantee->state = BRL_WAIT_DONE;
			l->grantee = NULL;
		}
		list_del(&l->link);
		list_add_tail(&l->link, &dead);
		released = true;
	}
	/* Its blocked requests stop waiting; the async core answers them
	 * (STATUS_RANGE_NOT_LOCKED) once the close is done, see
	 * waiter_cancel.  A granted one whose completion is still queued
	 * lost its lock with the others above. */
	list_for_each_safe(pos, n, &in->brl_waiters) {
		struct brl_waiter *w = list_entry(pos, struct brl_waiter, link);
		if (w->open != o) continue;
		list_del(&w->link);
		w->state = BRL_WAIT_DONE;
	}
	list_for_each(pos, &in->brl_seqs) {
		struct brl_seq *s = list_entry(pos, struct brl_seq, link);
		if (s->owner != o) continue;
		list_del(&s->link);
		free(s);
		break;
	}
	smb_mutex_unlock(&in->lock);
	list_for_each_safe(pos, n, &dead) {
		struct brl_lock *l = list_entry(pos, struct brl_lock, link);
		list_del(&l->link);
		free(l);
	}
	if (released) retry_waiters(in);
}

/* ------------------------------------------------------------ persistence */

size_t brl_open_state(const struct smbd_open *o, struct brl_range **out, uint64_t *seq_valid, uint8_t seq[65])
{
	struct smbd_inode *in = lock_inode(o);
	*out = NULL;
	*seq_valid = 0;
	memset(seq, 0, 65);
	if (!in) return 0;
	size_t n = 0, cap = 0;
	struct brl_range *v = NULL;
	smb_mutex_lock(&in->lock);
	if (in->brl_locks.next) {
		struct list_head *pos;
		list_for_each(pos, &in->brl_locks) {
			struct brl_lock *l = list_entry(pos, struct brl_lock, link);
			/* A lock granted to a blocked request whose success is not
			 * sent yet is recorded when that success goes out. */
			if (l->owner != o || l->grantee) continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				struct brl_range *nv = realloc(v, ncap * sizeof(*v));
				if (!nv) break;   /* record what fits; the record stays valid */
				v = nv;
				cap = ncap;
			}
			v[n++] = (struct brl_range){ l->offset, l->length, l->exclusive };
		}
		struct brl_seq *s = seq_find(in, o);
		if (s) {
			*seq_valid = s->valid;
			memcpy(seq, s->number, 65);
		}
	}
	smb_mutex_unlock(&in->lock);
	*out = v;
	return n;
}

int brl_restore_state(struct smbd_open *o, const struct brl_range *r, size_t n, uint64_t seq_valid,
		      const uint8_t seq[65])
{
	struct smbd_inode *in = lock_inode(o);
	if (!in) return -1;
	int rc = 0;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	for (size_t i = 0; i < n; i++) {
		if (brl_range_invalid(r[i].offset, r[i].length)) continue;
		struct brl_lock *l = calloc(1, sizeof(*l));
		if (!l) {
			rc = -1;
			break;
		}
		l->owner = o;
		l->offset = r[i].offset;
		l->length = r[i].length;
		l->exclusive = r[i].exclusive;
		list_add_tail(&l->link, &in->brl_locks);
	}
	for (unsigned idx = 1; idx <= BRL_SEQ_ENTRIES; idx++)
		if (seq_valid & (1ull << (idx - 1))) seq_record(in, o, idx, seq[idx]);
	smb_mutex_unlock(&in->lock);
	return rc;
}
