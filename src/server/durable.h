/* Durable (MS-SMB2 3.3.5.9.6/.7, v2 3.3.5.9.10/.12) and persistent handles,
 * the durable table of disconnected opens, its scavenger, and the on-disk
 * store of persistent opens.  See durable.c for the model and the locking
 * argument. */
#ifndef SMBKIT_SERVER_DURABLE_H
#define SMBKIT_SERVER_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "server/lease.h"
#include "server/server.h"
#include "wire/create.h"

/* Durable v2 flag (2.2.13.2.11). */
#define SMB2_DHANDLE_FLAG_PERSISTENT 0x00000002u
/* Timeouts (ms): used when the client asks for 0, and the most we grant. */
#define DURABLE_DEFAULT_TIMEOUT_MS 60000u
#define DURABLE_MAX_TIMEOUT_MS 300000u

/* The durable contexts of one CREATE, decoded. */
struct durable_request {
	uint8_t request;             /* 0, 1 (DHnQ) or 2 (DH2Q) */
	uint8_t reconnect;           /* 0, 1 (DHnC) or 2 (DH2C) */
	uint32_t timeout_ms;         /* DH2Q Timeout */
	uint32_t flags;              /* DH2Q / DH2C Flags */
	uint8_t create_guid[16];     /* DH2Q / DH2C CreateGuid */
	uint64_t persistent_id;      /* DHnC / DH2C FileId.Persistent */
	uint64_t volatile_id;
	bool replay;                 /* SMB2_FLAGS_REPLAY_OPERATION on the request (3.x) */
	uint8_t dh2q_rsp[8];         /* response context body, filled by durable_grant */
	uint8_t dhnq_rsp[8];
};

/* Start-up, before the loops run: reads/bumps the file-id epoch in the
 * state directory (when any share is continuously available), loads the
 * persistent store into the durable table, starts the scavenger. */
void durable_startup(struct smbd_config *cfg);
/* Persistent handles can be granted (a CA share and a usable store). */
bool durable_persistent_available(void);
/* Shutdown, after the loops stopped: closes every open left in the durable
 * table; persistent ones keep their on-disk records (for the next start). */
void durable_shutdown(void);

/* Decodes the DHnQ/DHnC/DH2Q/DH2C contexts of cr (STATUS_INVALID_PARAMETER
 * for bad lengths or forbidden combinations, MS-SMB2 3.3.5.9.6/7/10/12). */
uint32_t durable_parse(const struct smb2_request *req, const struct smb2_create_req *cr, struct durable_request *dr);

/* DHnC / DH2C: finds the disconnected open, checks the requester, attaches
 * it to req's session and tree with a new volatile id, and writes the
 * CREATE response.  Returns the CREATE's status. */
uint32_t durable_reconnect(struct smb2_request *req, const struct smb2_create_req *cr,
			   const struct durable_request *dr, const struct lease_request *lr);

/* DH2Q with SMB2_FLAGS_REPLAY_OPERATION: when the CreateGuid names an open
 * of this client that still exists and is replay eligible, answers with it
 * (3.3.5.9.10); when it names a CREATE still waiting for a break, refuses
 * the replay.  Either way returns true with *status set; false: go on with
 * a normal CREATE.  lr: what the replay asks for. */
bool durable_replay(struct smb2_request *req, const struct durable_request *dr, const struct lease_request *lr,
		    uint32_t *status);

/* After lease_grant: decides whether o becomes durable / persistent and,
 * when so, appends the response context to ctx[*n]. */
void durable_grant(struct smb2_request *req, struct smbd_open *o, struct durable_request *dr,
		   const struct lease_response *lrsp, struct smb2_create_context *ctx, unsigned *n);

/* Called right after o got its ids (open_table_insert): remembers the
 * persistent id and writes a persistent open's record. */
void durable_published(struct smbd_open *o);

/* open_table_close_tree, for an open just unpublished: when o is durable
 * and its connection is gone, moves it (with the caller's table reference)
 * into the durable table and returns true; false: close it as usual. */
bool durable_disconnect(struct smbd_open *o);

/* Closes every disconnected durable open for which match(o, arg) holds
 * (under the durable table's lock: it must only compare fixed fields).
 * Returns how many.  Holding no lock. */
unsigned durable_close_matching(bool (*match)(const struct smbd_open *o, const void *arg), const void *arg);

/* FSCTL_LMR_REQUEST_RESILIENCY (smb2_lock.c, MS-SMB2 3.3.5.15.9), on the
 * open's own loop thread: o becomes resilient for timeout_ms, so a lost
 * connection keeps it for that long, reclaimable with DHnC (3.3.5.9.7) like
 * a durable open.  IsDurable stays as it was: other threads read it. */
void durable_set_resilient(struct smbd_open *o, uint32_t timeout_ms);

/* brl.c, after o's byte-range locks changed (a LOCK or an unlock
 * succeeded): a persistent open's record is written again so the locks
 * survive a restart.  Does nothing for other opens. */
void durable_locks_changed(struct smbd_open *o);

/* open_close_file: o is being closed for good (removes its record). */
void durable_open_closed(struct smbd_open *o);

/* A lease/oplock break took the handle caching of disconnected durable open
 * o: have the scavenger close it now (if it is still in the table). */
void durable_close_disconnected(struct smbd_open *o);

#endif
