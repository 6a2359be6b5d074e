/* Oplocks and leases, inside: what lease.c shares with lease_ack.c (break
 * acknowledgements) and lease_durable.c (the caching state of durable
 * handles).  PRIVATE to those three files: everything else goes through
 * server/lease.h.
 *
 * The locks, and who holds a reference on what, are described at the top
 * of lease.c; every field below says which lock guards it. */
#ifndef SMBKIT_SERVER_LEASE_INTERNAL_H
#define SMBKIT_SERVER_LEASE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/list.h"
#include "common/lock.h"
#include "server/lease.h"
#include "server/server.h"

#define LEASE_R SMB2_LEASE_READ_CACHING
#define LEASE_H SMB2_LEASE_HANDLE_CACHING
#define LEASE_W SMB2_LEASE_WRITE_CACHING

struct smbd_lease {
	atomic_int refcount;          /* see the top of lease.c */
	struct list_head table_link;  /* lease table, under lease_table_lock */
	bool published;               /* under lease_table_lock */
	uint8_t client_guid[16];
	uint8_t key[16];
	uint8_t parent_key[16];
	bool has_parent;
	uint8_t version;              /* 1 or 2 */
	struct smbd_inode *inode;     /* owner: lease (1); the file (or stream) it covers */
	bool is_dir;
	/* Under inode->lock: */
	uint32_t state;               /* Lease.LeaseState */
	uint32_t breaking_to;         /* Lease.BreakToLeaseState, while breaking */
	/* While breaking: the lowest state asked for since the break began
	 * (a later conflicting request lowers it).  What the ack leaves above
	 * it is broken again right after the ack. */
	uint32_t requested;
	bool breaking;                /* Lease.Breaking: an ack is awaited */
	/* The last break reached no connection: the lease's only open was
	 * not published yet (a CREATE between granting the lease and
	 * answering, or a durable reconnect between re-attaching the open
	 * and publishing it).  lease_open_published sends it. */
	bool break_undelivered;
	/* While break_undelivered and no ack is awaited: the state the
	 * client was last told of (the break it did not get went from it). */
	uint32_t undelivered_from;
	uint64_t deadline_ms;         /* when a break not acknowledged ends by itself */
	uint16_t epoch;               /* Lease.Epoch (v2) */
	unsigned ngrants;             /* grants (opens) using it */
};

/* Every field under in->lock of the inode whose oplock_grants holds it. */
struct lease_grant {
	struct list_head link;        /* in->oplock_grants, under in->lock */
	struct smbd_open *open;       /* not counted, see the top of lease.c */
	struct smbd_lease *lease;     /* owner: grant (1), or NULL for an oplock */
	uint8_t level;                /* oplock level (not for leases) */
	bool breaking;                /* oplock break sent, ack awaited */
	bool break_undelivered;       /* as for leases above */
	uint8_t breaking_to;
	uint64_t deadline_ms;
	bool wrote;                   /* the open changed the file's data */
};

/* A break notification (or the close of a disconnected durable open) on
 * its way out; built under an inode lock, sent by send_notes after it. */
struct break_note;

/* --------------------------------------------------------- set-up */

/* lease_init runs once, through pthread_once(&lease_once, lease_init),
 * before anything uses the lease table or the break timer. */
extern pthread_once_t lease_once;
void lease_init(void);

/* Seconds a break waits for its acknowledgement (lease_set_break_wait). */
extern unsigned break_wait_seconds;

/* ---------------------------------------------------- lease table */

extern struct smb_mutex lease_table_lock;   /* rank lease_table */
extern struct list_head lease_table;        /* struct smbd_lease, under lease_table_lock */

/* Under lease_table_lock: the lease (ClientGuid, LeaseKey), not counted. */
struct smbd_lease *lease_table_find(const uint8_t guid[16], const uint8_t key[16]);
void lease_get(struct smbd_lease *l);
/* Holds no lock: the final put drops the inode reference. */
void lease_put(struct smbd_lease *l);
/* A requested LeaseState as it can be granted (R, RH, RW, RWH or none). */
uint32_t normalize_lease_state(uint32_t s);

/* ------------------------------------------------ grants, inodes */

/* The inode that carries o's oplock/lease state (the stream's for a
 * stream open). */
struct smbd_inode *lease_inode(const struct smbd_open *o);
/* Under in->lock: the inode's grant and waiter lists are initialised. */
void lists_ready(struct smbd_inode *in);
/* Under in->lock: o's grant, or NULL. */
struct lease_grant *grant_of(struct smbd_inode *in, const struct smbd_open *o);

/* ------------------------------------------------------- breaking */

/* Under the inode lock: queues on *notes a break notification for o (a
 * lease break of l from cur_state to new_state, or an oplock break to
 * level).  Returns whether one was queued. */
bool note_add(struct break_note **notes, const struct smbd_open *o, bool lease, uint8_t level,
	      const struct smbd_lease *l, uint32_t flags, uint32_t cur_state, uint32_t new_state);
/* Holding no lock: sends (and frees) what note_add and the breaks queued. */
void send_notes(struct break_note *notes);
/* Holding no lock: arms a check of in's breaks at deadline (ms, clock_monotonic_ms). */
void timer_add(struct smbd_inode *in, uint64_t deadline);
/* Under in->lock: starts breaking lease l to target.  Returns true when the
 * holder must acknowledge (the break is then in progress). */
bool lease_break_locked(struct smbd_inode *in, struct smbd_lease *l, uint32_t target, struct break_note **notes);
/* Set (loop thread, under the inode lock) while lease_ack_lease starts the
 * break that follows an acknowledgement: lease_break_locked then keeps the
 * epoch. */
extern __thread bool continuing_break;

/* --------------------------------------------------------- waiters */

/* Under in->lock: unlinks every CREATE waiting on in and chains it on
 * *woken; post_woken (holding no lock) runs them again. */
void wake_waiters_locked(struct smbd_inode *in, struct lease_waiter **woken);
void post_woken(struct lease_waiter *woken);

#endif
