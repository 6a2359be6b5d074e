/* SMB2 OPLOCK_BREAK acknowledgements (MS-SMB2 3.3.5.22): an oplock ack
 * (StructureSize 24, 3.3.5.22.1) names an open by FileId; a lease ack
 * (StructureSize 36, 3.3.5.22.2) names a lease by its key.  The state
 * changes are in lease_ack.c. */
#include "common/log.h"
#include "server/lease.h"
#include "server/server.h"
#include "wire/lease.h"
#include "wire/ntstatus.h"

uint32_t smb2_oplock_break(struct smb2_request *req)
{
	struct smb2_oplock_break_req r;
	uint32_t status = smb2_oplock_break_req_decode(req->msg, req->msg_len, &r);
	if (status) return status;
	if (r.is_lease) {
		/* Leases exist from 2.1 on; a 2.0.2 client cannot have one. */
		if (req->conn->dialect < SMB2_DIALECT_210) return STATUS_INVALID_PARAMETER;
		uint32_t new_state = 0;
		status = lease_ack_lease(req->conn, r.lease_key, r.lease_state, &new_state);
		log_debug("%s: lease break ack (key %02x%02x.., state 0x%x): %s 0x%08x", req->conn->peer_str, r.lease_key[0],
			  r.lease_key[1], r.lease_state, ntstatus_name(status), status);
		if (status) return status;
		smb2_lease_break_rsp_encode(req->out, r.lease_key, new_state);
		return STATUS_SUCCESS;
	}
	struct smbd_open *o = smb2_req_open(req, r.persistent_id, r.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	uint8_t new_level = SMB2_OPLOCK_LEVEL_NONE;
	status = lease_ack_oplock(o, r.oplock_level, &new_level);
	log_debug("%s: oplock break ack of %s (level %u): %s 0x%08x", req->conn->peer_str, o->path ? o->path : "?",
		  r.oplock_level, ntstatus_name(status), status);
	if (!status) smb2_oplock_break_rsp_encode(req->out, new_level, o->persistent_id, o->volatile_id);
	open_put(o);
	return status;
}
