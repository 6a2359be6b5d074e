/* CHANGE_NOTIFY (MS-SMB2 3.3.5.19), first step: the request is validated
 * and goes asynchronous (interim response, 3.3.4.2), then waits until the
 * client cancels it (STATUS_CANCELLED) or its handle, tree or session goes
 * away (STATUS_NOTIFY_CLEANUP).  No file system change is reported yet:
 * watching (inotify) arrives with the change-notify issue, which completes
 * the pending request through smbd_async_complete() with the
 * FILE_NOTIFY_INFORMATION records.  A server that sees no change leaves a
 * notify pending exactly like this, so clients behave correctly meanwhile. */
#include "server/server.h"
#include "wire/notify.h"

#ifndef STATUS_NOTIFY_CLEANUP
#define STATUS_NOTIFY_CLEANUP 0x0000010Bu
#endif

static uint32_t notify_cancel(struct smbd_async *a, enum smbd_async_reason why, void *arg)
{
	(void)a;
	(void)arg;
	/* 3.3.5.16: a cancelled request completes with STATUS_CANCELLED; a
	 * notify whose handle is closed completes with STATUS_NOTIFY_CLEANUP
	 * (MS-FSA 2.1.5.4 close processing), as does one whose tree or session
	 * is torn down. */
	return why == SMBD_ASYNC_CANCELLED ? STATUS_CANCELLED : STATUS_NOTIFY_CLEANUP;
}

uint32_t smb2_change_notify(struct smb2_request *req)
{
	struct smb2_notify_req nr;
	uint32_t status = smb2_notify_req_decode(req->msg, req->msg_len, &nr);
	if (status) return status;
	/* 3.3.5.19: OutputBufferLength above MaxTransactSize is invalid. */
	if (nr.output_buffer_length > req->conn->cfg->max_io_size) return STATUS_INVALID_PARAMETER;
	struct smbd_open *o = smb2_req_open(req, nr.persistent_id, nr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;
	if (!o->is_dir || o->pipe) {
		status = STATUS_INVALID_PARAMETER;      /* only directories can be watched */
	} else if (!(o->access & FILE_LIST_DIRECTORY)) {
		status = STATUS_ACCESS_DENIED;
	} else {
		struct smbd_async *a;
		status = smbd_go_async(req, o, notify_cancel, NULL, &a);
	}
	open_put(o);
	return status;
}
