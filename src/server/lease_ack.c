/* OPLOCK_BREAK acknowledgements (MS-SMB2 3.3.5.22): an oplock's
 * (3.3.5.22.1) and a lease's (3.3.5.22.2).  An acknowledgement ends the
 * break in progress, may start the next one (what requests made during the
 * break still need), and runs again the CREATEs that waited for it.  The
 * request decoding and the response are in smb2_oplock_break.c; the locks
 * and references are described at the top of lease.c. */
#include <pthread.h>

#include "server/lease.h"
#include "server/lease_internal.h"
#include "server/server.h"

uint32_t lease_ack_oplock(struct smbd_open *o, uint8_t level, uint8_t *new_level)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return STATUS_INVALID_OPLOCK_PROTOCOL;
	/* 3.3.5.22.1: an acknowledgement ends the open's replay eligibility. */
	if (!o->is_persistent) atomic_store(&o->replay_eligible, false);
	if (level == SMB2_OPLOCK_LEVEL_LEASE) return STATUS_INVALID_PARAMETER;
	uint32_t status = STATUS_SUCCESS;
	struct lease_waiter *woken = NULL;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct lease_grant *g = grant_of(in, o);
	if (!g || g->lease || !g->breaking) {
		status = STATUS_INVALID_OPLOCK_PROTOCOL;
	} else if (level != SMB2_OPLOCK_LEVEL_NONE && level != SMB2_OPLOCK_LEVEL_II) {
		status = STATUS_INVALID_OPLOCK_PROTOCOL;
	} else if (level == SMB2_OPLOCK_LEVEL_II && g->breaking_to == SMB2_OPLOCK_LEVEL_NONE) {
		/* Acknowledging more than the break allows: the oplock is
		 * gone (3.3.5.22.1). */
		g->level = SMB2_OPLOCK_LEVEL_NONE;
		g->breaking = false;
		o->oplock_level = SMB2_OPLOCK_LEVEL_NONE;
		status = STATUS_INVALID_OPLOCK_PROTOCOL;
		wake_waiters_locked(in, &woken);
	} else {
		g->level = level;
		g->breaking = false;
		o->oplock_level = level;
		*new_level = level;
		wake_waiters_locked(in, &woken);
	}
	smb_mutex_unlock(&in->lock);
	post_woken(woken);
	return status;
}

uint32_t lease_ack_lease(struct smbd_conn *c, const uint8_t key[16], uint32_t state, uint32_t *new_state)
{
	pthread_once(&lease_once, lease_init);
	smb_mutex_lock(&lease_table_lock);
	struct smbd_lease *l = lease_table_find(c->client_guid, key);
	if (l) lease_get(l);
	smb_mutex_unlock(&lease_table_lock);
	/* 3.3.5.22.2: an unknown lease is STATUS_OBJECT_NAME_NOT_FOUND. */
	if (!l) return STATUS_OBJECT_NAME_NOT_FOUND;
	struct smbd_inode *in = l->inode;
	uint32_t status = STATUS_SUCCESS;
	struct lease_waiter *woken = NULL;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct break_note *notes = NULL;
	bool arm = false;
	/* 3.3.5.22.2: an acknowledgement ends the replay eligibility of the
	 * lease's opens that are not persistent. */
	struct list_head *pos;
	list_for_each(pos, &in->oplock_grants) {
		struct lease_grant *g = list_entry(pos, struct lease_grant, link);
		if (g->lease == l && !g->open->is_persistent) atomic_store(&g->open->replay_eligible, false);
	}
	if (!l->breaking) {
		status = STATUS_UNSUCCESSFUL;
	} else if ((state & ~l->breaking_to) != 0) {
		/* 3.3.5.22.2: more than the break leaves is refused; the
		 * break goes on (smbtorture smb2.lease.breaking2). */
		status = STATUS_REQUEST_NOT_ACCEPTED;
	} else {
		l->state = state;
		l->breaking = false;
		*new_state = state;
		/* Requests that came while the break ran may need less than
		 * the client kept: break again at once.  Losing H and R
		 * together goes through R first, so the client can close
		 * its cached handles before it loses read caching (Windows;
		 * smbtorture smb2.lease.breaking3). */
		uint32_t wanted = l->requested & state;
		if (wanted != state) {
			uint32_t next = wanted;
			if ((state & LEASE_H) && !(next & LEASE_H) && (state & LEASE_R)) next |= LEASE_R;
			continuing_break = true;
			arm = lease_break_locked(in, l, next, &notes);
			continuing_break = false;
			l->requested = wanted;
		}
		/* The waiting CREATEs run again once nothing is left to ack. */
		if (!l->breaking) wake_waiters_locked(in, &woken);
	}
	smb_mutex_unlock(&in->lock);
	send_notes(notes);
	if (arm) timer_add(in, clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u + 10);
	post_woken(woken);
	lease_put(l);
	return status;
}
