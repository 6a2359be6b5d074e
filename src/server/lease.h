/* Oplocks and leases (MS-SMB2 3.3.1.4 lease table, 3.3.1.13 lease, 3.3.4.6
 * / 3.3.4.7 break notifications, 3.3.5.9.8 / 3.3.5.9.11 granting, 3.3.5.22
 * acknowledgements; MS-FSA 2.1.5.17 / 2.1.5.18 oplock request and break).
 *
 * State:
 *  - Every open that holds an oplock or uses a lease has one grant record on
 *    its file's inode (the stream inode for a stream open), in
 *    in->oplock_grants, guarded by in->lock.  A grant is removed by
 *    lease_open_closed() before the open leaves the inode, so a grant's
 *    open pointer is valid whenever the inode lock is held.
 *  - Leases live in a server-wide table keyed by (ClientGuid, LeaseKey),
 *    guarded by the "lease_table" lock; a lease's state (LeaseState,
 *    BreakToLeaseState, Breaking, Epoch) is guarded by the lock of the inode
 *    it belongs to (a lease covers exactly one file).
 *  - A CREATE that must wait for a break goes asynchronous (STATUS_PENDING)
 *    and waits on in->break_waiters; when any break on that file ends (ack,
 *    timeout, or the holder's open closing) the waiters are posted back to
 *    their own loop threads and the CREATE runs again from the start.
 *
 * Threads: break notifications are queued to the holder's connection with
 * loop_post(); nothing here calls conn_send from a foreign thread. */
#ifndef SMBKIT_SERVER_LEASE_H
#define SMBKIT_SERVER_LEASE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "server/server.h"
#include "wire/create.h"
#include "wire/lease.h"

/* What a CREATE asks for (decoded once by smb2_create). */
struct lease_request {
	uint8_t oplock_level;          /* RequestedOplockLevel */
	bool has_lease;                /* level LEASE with a valid RqLs context */
	struct smb2_lease_ctx lease;
};

/* The oplock/lease part of a CREATE response. */
struct lease_response {
	uint8_t oplock_level;
	bool has_lease;                /* a RqLs response context goes out */
	uint8_t ctx[SMB2_LEASE_V2_SIZE];
	size_t ctx_len;
};

/* Seconds a CREATE waits for a break acknowledgement (Windows: 35).
 * SMBKIT_OPLOCK_BREAK_WAIT in the environment overrides it (tests). */
void lease_set_break_wait(unsigned seconds);

/* Fills lr from the request; ctx is the RqLs context or NULL.  Leasing
 * needs SMB 2.1 or later (MS-SMB2 3.3.5.9.8). */
void lease_request_parse(const struct smbd_conn *c, uint8_t requested_oplock_level,
			 const struct smb2_create_context *ctx, struct lease_request *lr);

/* Before a CREATE proceeds on an existing file, breaks what the new open
 * conflicts with (MS-FSA 2.1.5.1.2: handle caching on a sharing violation,
 * write caching / exclusive oplocks otherwise; read caching too when the
 * open overwrites).  o is built (access, share_access, inode set);
 * attached tells whether the share check passed (o is linked).  Returns
 * STATUS_SUCCESS to go on, or STATUS_PENDING when req went asynchronous to
 * wait for acknowledgements (the caller undoes o and returns PENDING; the
 * request runs again later). */
uint32_t lease_create_breaks(struct smb2_request *req, struct smbd_open *o, const struct lease_request *lr,
			     bool sharing_violation, bool truncate, bool may_wait);

/* Grants what can be granted to the attached open o and fills rsp.  Fails
 * with STATUS_INVALID_PARAMETER when the lease key is in use on another
 * file (MS-SMB2 3.3.5.9.8). */
uint32_t lease_grant(struct smbd_open *o, const struct lease_request *lr, struct lease_response *rsp);

/* o is closing: drops its grant (and its lease when it was the last open
 * using it), ending a break in progress.  Call before inode_detach_open. */
void lease_open_closed(struct smbd_open *o);
/* Debug aid (smbd_debug_dump_waits): writes in's grants and waiting
 * CREATEs to out (a memory stream: no I/O under the lock) when any CREATE
 * waits on it.  Takes in->lock. */
void lease_debug_dump_inode(struct smbd_inode *in, FILE *out);
/* The same, but the CREATEs waiting on the file are returned rather than
 * resumed: the caller resumes them with lease_post_wakeups once o has left
 * the inode (inode_detach_open), or a resumed CREATE could still find o in
 * its share check and fail with a sharing violation. */
struct lease_waiter;
struct lease_waiter *lease_open_closed_deferred(struct smbd_open *o);
void lease_post_wakeups(struct lease_waiter *woken);

/* The data of o's file changed (WRITE, truncation, SET_INFO end-of-file):
 * read caching of every other open goes (level II / R -> none). */
void lease_break_on_write(struct smbd_open *o);
/* o's file is being deleted: handle caching of other opens goes (a rename
 * uses lease_rename_breaks, which also waits). */
void lease_break_handle(struct smbd_open *o);
/* SET_INFO FileRenameInformation of o (smb2_set_info.c): breaks the handle
 * caching of the file's other opens (leases of other keys lose H, batch
 * oplocks go to level II).  STATUS_SUCCESS: rename now (nothing to wait
 * for, or the request cannot wait).  STATUS_PENDING: req went async; when
 * the breaks end (acknowledgement, timeout, close) rerun(req) runs the
 * whole request again on its loop thread, and its status becomes the final
 * response.  While it runs again the wait is already over unless another
 * break is in progress. */
uint32_t lease_rename_breaks(struct smb2_request *req, struct smbd_open *o, uint32_t (*rerun)(struct smb2_request *req));
/* An entry of a directory changed through SMB: path is the share-relative
 * name of the entry; the leases on its parent directory break, except the
 * one whose key is the parent lease key the changing open named. */
void lease_break_parent(struct smbd_open *o, const char *path);

/* smb2_create (AppInstanceId, app_instance.c): the CREATE of o must wait
 * for another open of the same file to close.  Links a waiter on o's file,
 * calls start_close(arg), and goes async (STATUS_PENDING: the caller undoes
 * o, as for a break); the close of any open of the file runs the CREATE
 * again.  STATUS_SUCCESS: it cannot wait (or already waited once), and
 * start_close has been called all the same. */
/* Loop thread: is a CREATE of req's session and tree with this DH2Q
 * CreateGuid waiting for an oplock or lease break (not a sharing
 * violation)?  A replay of it is then refused (durable_replay). */
bool lease_create_replay_pending(struct smb2_request *req, const uint8_t create_guid[16]);
uint32_t lease_create_wait_close(struct smb2_request *req, struct smbd_open *o, void (*start_close)(void *arg),
				 void *arg);

/* OPLOCK_BREAK acknowledgement (smb2_oplock_break.c). */
uint32_t lease_ack_oplock(struct smbd_open *o, uint8_t level, uint8_t *new_level);
uint32_t lease_ack_lease(struct smbd_conn *c, const uint8_t key[16], uint32_t state, uint32_t *new_state);

/* Resuming a waiting CREATE runs smb2_create again; while it runs this is
 * true (the CREATE reuses its async record). */
bool lease_resuming(const struct smb2_request *req);

/* Durable handles (durable.c).  Reports the caching o holds: *oplock_level
 * is SMB2_OPLOCK_LEVEL_LEASE when it uses a lease (then *lease holds its
 * key, version, state, epoch, flags).  False when o holds nothing. */
bool lease_of_open(struct smbd_open *o, uint8_t *oplock_level, struct smb2_lease_ctx *lease);
/* Gives a persistent open restored at start-up (o attached to its inode,
 * o->client_guid set) the oplock or lease it held before the restart. */
void lease_restore(struct smbd_open *o, uint8_t oplock_level, const struct smb2_lease_ctx *lease);
/* True while a break of o's oplock/lease waits for an acknowledgement.
 * The caller holds the lock of o's lease inode (o->stream_inode, else
 * o->inode), so the answer holds until it lets go. */
bool lease_open_breaking_locked(struct smbd_open *o);
/* o was published (smb2_create.c finish, or a durable reconnect in
 * durable.c): a break that began between granting o its oplock or lease and
 * publishing it reached no connection; it is sent now (after the CREATE
 * response), and the acknowledgement time starts again.  A break that
 * needed no ack is sent too, unless answer_is_current: the CREATE's answer
 * was built after it (a reconnect reports the state as it is now). */
void lease_open_published(struct smbd_open *o, bool answer_is_current);

#endif
