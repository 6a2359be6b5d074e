/* ECHO (MS-SMB2 3.3.5.17): no session needed; answers an empty body. */
#include "server/server.h"
#include "wire/session_setup.h"

uint32_t smb2_echo(struct smb2_request *req)
{
	smb2_empty4_encode(req->out);
	return STATUS_SUCCESS;
}
