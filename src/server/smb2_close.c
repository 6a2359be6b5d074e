/* SMB2 CLOSE (MS-SMB2 3.3.5.10). */
#include "server/server.h"
#include "server/vfs.h"
#include "wire/close.h"

uint32_t smb2_close(struct smb2_request *req)
{
	struct smb2_close_req cr;
	uint32_t status = smb2_close_req_decode(req->msg, req->msg_len, &cr);
	if (status) return status;
	struct smbd_open *o = smb2_req_open(req, cr.persistent_id, cr.volatile_id);
	if (!o) return STATUS_FILE_CLOSED;

	struct smb2_close_rsp rsp = { 0 };
	/* Attributes are taken before the close so that a delete-on-close
	 * file still reports what it was (Windows does the same). */
	if ((cr.flags & SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB) && o->fd >= 0) {
		struct smb_file_stat st;
		if (open_fstat(o, &st) == 0) {
			rsp.flags = SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB;
			rsp.basics = smb_file_basics(&st);
		}
	}
	/* A concurrent close (another channel, or logoff) may have won. */
	if (!open_table_remove(o)) {
		open_put(o);
		return STATUS_FILE_CLOSED;
	}
	open_close_file(o);
	open_put(o);
	smb2_close_rsp_encode(req->out, req->out_hdr_off, &rsp);
	return STATUS_SUCCESS;
}
