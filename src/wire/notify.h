/* SMB2 CHANGE_NOTIFY request and response (MS-SMB2 2.2.35, 2.2.36) and the
 * FILE_NOTIFY_INFORMATION records of its output buffer (MS-FSCC 2.7.1).
 * Decoder conventions: see the top of wire/smb2.h. */
#ifndef SMBKIT_WIRE_NOTIFY_H
#define SMBKIT_WIRE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

#define SMB2_WATCH_TREE 0x0001u   /* Flags: watch the whole subtree */

struct smb2_notify_req {
	uint16_t flags;
	uint32_t output_buffer_length;
	uint64_t persistent_id, volatile_id;
	uint32_t completion_filter;
};

uint32_t smb2_notify_req_decode(const uint8_t *msg, size_t msg_len, struct smb2_notify_req *out);

/* Appends one FILE_NOTIFY_INFORMATION record for a UTF-8 name (already in
 * Windows form, '\\'-separated) to a list being built in w, which holds only
 * records.  *last_off is the offset of the previous record in w, or -1 for
 * none; it is updated.  Returns false (w unchanged in meaning) on invalid
 * UTF-8 or allocation failure. */
bool smb2_notify_info_append(struct wbuf *w, long *last_off, uint32_t action, const char *name);

/* Appends a CHANGE_NOTIFY response body (2.2.36) carrying records/len as
 * its output buffer; offsets relative to the SMB2 header before the body. */
void smb2_notify_rsp_encode(struct wbuf *w, const uint8_t *records, size_t len);

#endif
