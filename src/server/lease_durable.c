/* Oplocks and leases of durable handles (durable.c): what caching an open
 * holds, to keep with a persistent handle; giving it back to an open
 * restored at start-up; whether a break of it waits for an
 * acknowledgement; and sending, once a durable reconnect has published the
 * open again, a break that began while no connection could carry it
 * (MS-SMB2 3.3.4.6 / 3.3.4.7, 3.3.5.9.7 / 3.3.5.9.12).  The locks and
 * references are described at the top of lease.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/lease.h"
#include "server/lease_internal.h"
#include "server/server.h"

bool lease_of_open(struct smbd_open *o, uint8_t *oplock_level, struct smb2_lease_ctx *lease)
{
	struct smbd_inode *in = lease_inode(o);
	*oplock_level = SMB2_OPLOCK_LEVEL_NONE;
	memset(lease, 0, sizeof(*lease));
	if (!in) return false;
	bool found = false;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct lease_grant *g = grant_of(in, o);
	if (g) {
		found = true;
		*oplock_level = g->lease ? SMB2_OPLOCK_LEVEL_LEASE : g->level;
		if (g->lease) {
			struct smbd_lease *l = g->lease;
			lease->version = l->version;
			memcpy(lease->key, l->key, 16);
			lease->state = l->state;
			lease->epoch = l->epoch;
			if (l->breaking) lease->flags |= SMB2_LEASE_FLAG_BREAK_IN_PROGRESS;
			if (l->version == 2 && l->has_parent) {
				lease->flags |= SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET;
				memcpy(lease->parent_key, l->parent_key, 16);
			}
		}
	}
	smb_mutex_unlock(&in->lock);
	return found;
}

void lease_restore(struct smbd_open *o, uint8_t oplock_level, const struct smb2_lease_ctx *lease)
{
	pthread_once(&lease_once, lease_init);
	struct smbd_inode *in = lease_inode(o);
	if (!in || oplock_level == SMB2_OPLOCK_LEVEL_NONE) return;
	struct lease_grant *g = calloc(1, sizeof(*g));
	struct smbd_lease *fresh = calloc(1, sizeof(*fresh));
	if (!g || !fresh) {
		free(g);
		free(fresh);
		return;
	}
	g->open = o;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	if (oplock_level == SMB2_OPLOCK_LEVEL_LEASE) {
		smb_mutex_lock(&lease_table_lock);
		struct smbd_lease *l = lease_table_find(o->client_guid, lease->key);
		if (l && l->inode != in) {
			smb_mutex_unlock(&lease_table_lock);
			smb_mutex_unlock(&in->lock);
			free(g);
			free(fresh);
			return;
		}
		if (!l) {
			l = fresh;
			fresh = NULL;
			atomic_init(&l->refcount, 1);   /* the table's */
			memcpy(l->client_guid, o->client_guid, 16);
			memcpy(l->key, lease->key, 16);
			l->version = lease->version ? lease->version : 1;
			l->has_parent = (lease->flags & SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET) != 0;
			memcpy(l->parent_key, lease->parent_key, 16);
			inode_get(in);
			l->inode = in;
			l->is_dir = o->is_dir;
			l->state = normalize_lease_state(lease->state);
			l->epoch = lease->epoch;
			list_add_tail(&l->table_link, &lease_table);
			l->published = true;
		}
		smb_mutex_unlock(&lease_table_lock);
		lease_get(l);
		l->ngrants++;
		g->lease = l;
		g->level = SMB2_OPLOCK_LEVEL_LEASE;
	} else {
		g->level = oplock_level;
		o->oplock_level = oplock_level;
	}
	list_add_tail(&g->link, &in->oplock_grants);
	smb_mutex_unlock(&in->lock);
	free(fresh);
}

bool lease_open_breaking_locked(struct smbd_open *o)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return false;
	lists_ready(in);
	struct lease_grant *g = grant_of(in, o);
	if (!g) return false;
	return g->lease ? g->lease->breaking : g->breaking;
}

void lease_open_published(struct smbd_open *o, bool answer_is_current)
{
	struct smbd_inode *in = lease_inode(o);
	if (!in) return;
	struct break_note *notes = NULL;
	uint64_t deadline = 0;
	smb_mutex_lock(&in->lock);
	lists_ready(in);
	struct lease_grant *g = grant_of(in, o);
	/* Only a break that reached nobody: one that reached another
	 * connection of this client is already being answered. */
	if (g && g->lease && g->lease->break_undelivered) {
		struct smbd_lease *l = g->lease;
		if (l->breaking) {
			if (note_add(&notes, o, true, 0, l, SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED, l->state,
				     l->breaking_to)) {
				l->break_undelivered = false;
				/* 3.3.2.5: the client gets the whole
				 * acknowledgement time from now on. */
				l->deadline_ms = deadline = clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u;
			}
		} else if (answer_is_current || l->undelivered_from == l->state ||
			   note_add(&notes, o, true, 0, l, 0, l->undelivered_from, l->state)) {
			/* A break that needed no ack (read caching only):
			 * the client still hears that its cache went, unless
			 * the answer it gets already says so. */
			l->break_undelivered = false;
		}
	} else if (g && !g->lease && g->break_undelivered) {
		if (g->breaking) {
			if (note_add(&notes, o, false, g->breaking_to, NULL, 0, 0, 0)) {
				g->break_undelivered = false;
				g->deadline_ms = deadline = clock_monotonic_ms() + (uint64_t)break_wait_seconds * 1000u;
			}
		} else if (answer_is_current || note_add(&notes, o, false, g->level, NULL, 0, 0, 0)) {
			/* Level II to none: told, no ack (3.3.4.6). */
			g->break_undelivered = false;
		}
	}
	smb_mutex_unlock(&in->lock);
	if (!notes) return;
	/* send_notes posts the note to o's connection's loop: it leaves after
	 * the CREATE response this publication belongs to, which the loop
	 * sends first, so the client knows the handle before its break. */
	log_debug("lease: break that reached no connection sent on publication of %s", o->path ? o->path : "?");
	send_notes(notes);
	if (deadline) timer_add(in, deadline + 10);
}
