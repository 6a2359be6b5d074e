/* SMB2 LOCK (MS-SMB2 3.3.5.14): decode, find the open, then the lock work
 * in brl.c (conflicts, all-or-nothing, blocking locks, lock sequences). */
#include "server/lease.h"
#include "server/server.h"
#include "wire/lock.h"

uint32_t brl_lock_request(struct smb2_request *req, struct smbd_open *o, const struct smb2_lock_req *r);

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
