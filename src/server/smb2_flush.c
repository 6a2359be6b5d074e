/* SMB2 FLUSH (MS-SMB2 3.3.5.11). */
#include <errno.h>
#include <unistd.h>

#include "server/server.h"
#include "wire/flush.h"

uint32_t smb2_flush(struct smb2_request *req)
{
	struct smb2_flush_req fr;
	uint32_t status = smb2_flush_req_decode(req->msg, req->msg_len, &fr);
	if (status) return status;
	struct smbd_open *o = smb2_req_open(req, fr.persistent_id, fr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	if (o->pipe) {
		/* Nothing is buffered on our side of a pipe. */
		status = STATUS_SUCCESS;
	} else if (!(o->access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) {
		/* 3.3.5.11: flushing needs write or append access (for a
		 * directory these are ADD_FILE / ADD_SUBDIRECTORY). */
		status = STATUS_ACCESS_DENIED;
	} else if (o->fd >= 0 && fsync(o->fd) < 0 && errno != EBADF && errno != EINVAL) {
		/* EBADF: O_PATH handle, EINVAL: fs without fsync: nothing to do. */
		status = ntstatus_from_errno(errno);
	}
	open_put(o);
	if (status == STATUS_SUCCESS) smb2_flush_rsp_encode(req->out, req->out_hdr_off);
	return status;
}
