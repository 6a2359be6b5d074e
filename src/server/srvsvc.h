/* The server service (MS-SRVS) behind the \PIPE\srvsvc named pipe: the
 * share and server enumeration calls that smbclient -L, rpcclient and the
 * Windows Explorer make.  Stub data in, stub data out; the DCE/RPC framing
 * lives in pipe.c. */
#ifndef SMBKIT_SERVER_SRVSVC_H
#define SMBKIT_SERVER_SRVSVC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct smbd_config;

/* Opnums (MS-SRVS 3.1.4) */
#define SRVSVC_OPNUM_NETR_SHARE_ENUM 15
#define SRVSVC_OPNUM_NETR_SHARE_GET_INFO 16
#define SRVSVC_OPNUM_NETR_SERVER_GET_INFO 21
#define SRVSVC_OPNUM_NETR_SHARE_ENUM_STICKY 36

/* WERROR values (MS-ERREF 2.2) used by srvsvc. */
#define WERR_OK 0u
#define WERR_ACCESS_DENIED 5u
#define WERR_INVALID_PARAMETER 87u
#define WERR_INVALID_LEVEL 124u
#define WERR_MORE_DATA 234u
#define WERR_NET_NAME_NOT_FOUND 0x906u

/* Share types (MS-SRVS 2.2.2.4) */
#define STYPE_DISKTREE 0x00000000u
#define STYPE_IPC 0x00000003u
#define STYPE_SPECIAL 0x80000000u

/* Runs one srvsvc call.  Appends the response stub to out and returns 0, or
 * returns a DCE/RPC fault status (nca_s_op_rng_error for an unknown opnum,
 * nca_s_fault_ndr for a stub that does not decode) and appends nothing. */
uint32_t srvsvc_call(const struct smbd_config *cfg, uint16_t opnum, const uint8_t *stub, size_t stub_len,
		     struct wbuf *out);

#endif
