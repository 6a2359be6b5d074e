/* Byte-range locks and the lock side of resilient handles: the entry points
 * of brl.c and smb2_lock.c that other handler files call.  The lock rules
 * the READ/WRITE path and durable.c use are declared in server.h. */
#ifndef SMBKIT_SERVER_BRL_H
#define SMBKIT_SERVER_BRL_H

#include <stdint.h>

#include "server/server.h"
#include "wire/lock.h"

/* The LOCK work of MS-SMB2 3.3.5.14 once the open is found and allowed to
 * lock (smb2_lock.c): lock sequence replay check, all-or-nothing locks,
 * unlocks, and blocking locks that go async.  Returns the status to send
 * (STATUS_PENDING handling is internal). */
uint32_t brl_lock_request(struct smb2_request *req, struct smbd_open *o, const struct smb2_lock_req *r);

/* Resilient handles (MS-SMB2 3.3.5.15.9).  A Timeout of 0 gets the
 * default (120 s, what recent Windows servers grant); a Timeout above
 * MaxResiliencyTimeout is refused.  Our MaxResiliencyTimeout is the cap
 * durable handles have (DURABLE_MAX_TIMEOUT_MS). */
#define BRL_DEFAULT_RESILIENCY_TIMEOUT_MS 120000u
#define BRL_MAX_RESILIENCY_TIMEOUT_MS 300000u

/* FSCTL_LMR_REQUEST_RESILIENCY on the file open o, with the IOCTL's input
 * buffer (NETWORK_RESILIENCY_REQUEST, 2.2.31.3).  Marks the open resilient
 * (o->resiliency_timeout_ms), which turns on LOCK sequence verification for
 * it (3.3.5.14).  The response has no output. */
uint32_t smb2_fsctl_request_resiliency(struct smb2_request *req, struct smbd_open *o, const uint8_t *input,
				       uint32_t input_count);

#endif
