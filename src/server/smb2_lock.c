/* SMB2 LOCK (MS-SMB2 3.3.5.14): decode, find the open, then the lock work
 * in brl.c (conflicts, all-or-nothing, blocking locks, lock sequences).
 * Also FSCTL_LMR_REQUEST_RESILIENCY (3.3.5.15.9), whose effect on a live
 * connection is on LOCK: a resilient open gets lock sequence verification. */
#include "common/buf.h"
#include "server/brl.h"
#include "server/durable.h"
#include "server/lease.h"
#include "server/server.h"
#include "wire/lock.h"

uint32_t smb2_lock(struct smb2_request *req)
{
	struct smb2_lock_req lr;
	uint32_t status = smb2_lock_req_decode(req->msg, req->msg_len, &lr);
	if (status) return status;
	struct smbd_open *o = smb2_req_open(req, lr.persistent_id, lr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	if (o->pipe || !o->inode) {
		/* Named pipes have no byte ranges. */
		status = STATUS_INVALID_DEVICE_REQUEST;
	} else if (o->is_dir) {
		/* MS-FSA 2.1.5.8 / 2.1.5.9: not permitted on directories. */
		status = STATUS_INVALID_PARAMETER;
	} else if (!(o->access & (FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_EXECUTE))) {
		/* Windows requires data access to lock (NtLockFile needs
		 * FILE_READ_DATA or FILE_WRITE_DATA on the handle). */
		status = STATUS_ACCESS_DENIED;
	} else {
		/* MS-FSA 2.1.5.7: taking a byte-range lock is an oplock break
		 * operation like a write: read caching of other leases and
		 * every level II oplock (the locker's own too) end. */
		struct smb2_lock_element el;
		smb2_lock_req_element(&lr, 0, &el);
		if (!(el.flags & SMB2_LOCKFLAG_UNLOCK)) lease_break_on_write(o);
		status = brl_lock_request(req, o, &lr);
	}
	open_put(o);
	if (status == STATUS_SUCCESS) smb2_lock_rsp_encode(req->out, req->out_hdr_off);
	return status;
}

/* NETWORK_RESILIENCY_REQUEST (2.2.31.3): Timeout (4, milliseconds) and
 * Reserved (4, ignored). */
#define NETWORK_RESILIENCY_REQUEST_SIZE 8

uint32_t smb2_fsctl_request_resiliency(struct smb2_request *req, struct smbd_open *o, const uint8_t *input,
				       uint32_t input_count)
{
	/* 3.3.5.15.9: SMB 2.0.2 has no resilient handles; Windows fails the
	 * request with STATUS_INVALID_DEVICE_REQUEST there (<388>). */
	if (req->conn->dialect == SMB2_DIALECT_202) return STATUS_INVALID_DEVICE_REQUEST;
	struct rbuf in = rbuf_make(input, input_count);
	if (!rbuf_has(&in, NETWORK_RESILIENCY_REQUEST_SIZE)) return STATUS_INVALID_PARAMETER;
	uint32_t timeout_ms = rbuf_u32(&in);
	/* "greater than MaxResiliencyTimeout in seconds": compared in whole
	 * seconds, so 300999 ms still fits a 300 s cap. */
	if (timeout_ms / 1000 > BRL_MAX_RESILIENCY_TIMEOUT_MS / 1000) return STATUS_INVALID_PARAMETER;
	if (timeout_ms == 0) timeout_ms = BRL_DEFAULT_RESILIENCY_TIMEOUT_MS;
	/* Open.IsResilient = TRUE, Open.ResiliencyTimeout = Timeout.  From
	 * the next LOCK on, brl.c verifies lock sequence numbers for it
	 * (3.3.5.14), and a lost connection keeps it for ResiliencyTimeout
	 * (3.3.7.1, durable.c).  "Open.IsDurable MUST be set to FALSE" is not
	 * done: a durable open stays durable (other threads read the field
	 * without a lock), which only matters for which timeout applies. */
	durable_set_resilient(o, timeout_ms);
	return STATUS_SUCCESS;
}
