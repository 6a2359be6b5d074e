/* TREE_CONNECT (MS-SMB2 2.2.9/2.2.10). */
#ifndef SMBKIT_WIRE_TREE_CONNECT_H
#define SMBKIT_WIRE_TREE_CONNECT_H

#include "wire/smb2.h"

struct smb2_tree_connect_req {
	uint16_t flags;
	const uint8_t *path;     /* UTF-16LE "\\server\share" */
	size_t path_len;         /* bytes */
};

struct smb2_tree_connect_rsp {
	uint8_t share_type;
	uint32_t share_flags;
	uint32_t capabilities;
	uint32_t maximal_access;
};

uint32_t smb2_tree_connect_req_decode(const uint8_t *msg, size_t len, struct smb2_tree_connect_req *r);
void smb2_tree_connect_rsp_encode(struct wbuf *w, const struct smb2_tree_connect_rsp *r);

#endif
