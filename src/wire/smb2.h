/* SMB2 protocol constants and the 64-byte packet header (MS-SMB2 2.2.1).
 *
 * Conventions for every decoder/encoder in src/wire:
 *  - A request decoder is `uint32_t smb2_<cmd>_req_decode(const uint8_t *msg,
 *    size_t msg_len, struct smb2_<cmd>_req *out)`.  `msg` points at the SMB2
 *    header of this (possibly compounded) request; `msg_len` bounds it.  Offsets
 *    inside the request are relative to `msg`, as MS-SMB2 defines them.  The
 *    decoder validates StructureSize and every offset/length pair, returns
 *    STATUS_SUCCESS or STATUS_INVALID_PARAMETER, and fills `out` with values
 *    and with pointers *into msg* (no allocation).
 *  - A response encoder is `void smb2_<cmd>_rsp_encode(struct wbuf *w,
 *    size_t hdr_off, const struct smb2_<cmd>_rsp *r)`; it appends the body
 *    after a header that starts at w->p + hdr_off (offsets in the body are
 *    relative to that point).  Errors latch in w->err.
 */
#ifndef SMBKIT_WIRE_SMB2_H
#define SMBKIT_WIRE_SMB2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "wire/ntstatus.h"

#define SMB2_HDR_SIZE 64
#define SMB2_PROTOCOL_ID 0x424D53FEu   /* "\xfeSMB" little-endian */
#define SMB1_PROTOCOL_ID 0x424D53FFu   /* "\xffSMB" */
#define SMB2_TRANSFORM_ID 0x424D53FDu  /* "\xfdSMB" */
#define SMB2_COMPRESSION_ID 0x424D53FCu

/* Commands (2.2.1) */
enum smb2_command {
	SMB2_NEGOTIATE = 0x00,
	SMB2_SESSION_SETUP = 0x01,
	SMB2_LOGOFF = 0x02,
	SMB2_TREE_CONNECT = 0x03,
	SMB2_TREE_DISCONNECT = 0x04,
	SMB2_CREATE = 0x05,
	SMB2_CLOSE = 0x06,
	SMB2_FLUSH = 0x07,
	SMB2_READ = 0x08,
	SMB2_WRITE = 0x09,
	SMB2_LOCK = 0x0A,
	SMB2_IOCTL = 0x0B,
	SMB2_CANCEL = 0x0C,
	SMB2_ECHO = 0x0D,
	SMB2_QUERY_DIRECTORY = 0x0E,
	SMB2_CHANGE_NOTIFY = 0x0F,
	SMB2_QUERY_INFO = 0x10,
	SMB2_SET_INFO = 0x11,
	SMB2_OPLOCK_BREAK = 0x12,
	SMB2_COMMAND_COUNT
};

/* Header flags */
#define SMB2_FLAGS_SERVER_TO_REDIR   0x00000001u
#define SMB2_FLAGS_ASYNC_COMMAND     0x00000002u
#define SMB2_FLAGS_RELATED_OPERATIONS 0x00000004u
#define SMB2_FLAGS_SIGNED            0x00000008u
#define SMB2_FLAGS_PRIORITY_MASK     0x00000070u
#define SMB2_FLAGS_DFS_OPERATIONS    0x10000000u
#define SMB2_FLAGS_REPLAY_OPERATION  0x20000000u

/* Dialects */
#define SMB2_DIALECT_202   0x0202
#define SMB2_DIALECT_210   0x0210
#define SMB2_DIALECT_300   0x0300
#define SMB2_DIALECT_302   0x0302
#define SMB2_DIALECT_311   0x0311
#define SMB2_DIALECT_WILDCARD 0x02FF

/* Security mode */
#define SMB2_NEGOTIATE_SIGNING_ENABLED  0x0001
#define SMB2_NEGOTIATE_SIGNING_REQUIRED 0x0002

/* Capabilities */
#define SMB2_GLOBAL_CAP_DFS                0x00000001u
#define SMB2_GLOBAL_CAP_LEASING            0x00000002u
#define SMB2_GLOBAL_CAP_LARGE_MTU          0x00000004u
#define SMB2_GLOBAL_CAP_MULTI_CHANNEL      0x00000008u
#define SMB2_GLOBAL_CAP_PERSISTENT_HANDLES 0x00000010u
#define SMB2_GLOBAL_CAP_DIRECTORY_LEASING  0x00000020u
#define SMB2_GLOBAL_CAP_ENCRYPTION         0x00000040u

/* Negotiate context types (2.2.3.1) */
#define SMB2_PREAUTH_INTEGRITY_CAPABILITIES 0x0001
#define SMB2_ENCRYPTION_CAPABILITIES        0x0002
#define SMB2_COMPRESSION_CAPABILITIES       0x0003
#define SMB2_NETNAME_NEGOTIATE_CONTEXT_ID   0x0005
#define SMB2_TRANSPORT_CAPABILITIES         0x0006
#define SMB2_RDMA_TRANSFORM_CAPABILITIES    0x0007
#define SMB2_SIGNING_CAPABILITIES           0x0008
#define SMB2_PREAUTH_INTEGRITY_SHA512 0x0001

/* Ciphers and signing algorithms */
#define SMB2_ENCRYPTION_AES128_CCM 0x0001
#define SMB2_ENCRYPTION_AES128_GCM 0x0002
#define SMB2_ENCRYPTION_AES256_CCM 0x0003
#define SMB2_ENCRYPTION_AES256_GCM 0x0004
#define SMB2_SIGNING_HMAC_SHA256 0x0000
#define SMB2_SIGNING_AES_CMAC    0x0001
#define SMB2_SIGNING_AES_GMAC    0x0002

/* Session setup */
#define SMB2_SESSION_FLAG_BINDING       0x01
#define SMB2_SESSION_FLAG_IS_GUEST      0x0001
#define SMB2_SESSION_FLAG_IS_NULL       0x0002
#define SMB2_SESSION_FLAG_ENCRYPT_DATA  0x0004

/* Tree connect */
#define SMB2_SHARE_TYPE_DISK  0x01
#define SMB2_SHARE_TYPE_PIPE  0x02
#define SMB2_SHARE_TYPE_PRINT 0x03
#define SMB2_SHAREFLAG_MANUAL_CACHING   0x00000000u
#define SMB2_SHAREFLAG_NO_CACHING       0x00000030u
#define SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM 0x00000800u
#define SMB2_SHAREFLAG_ENCRYPT_DATA     0x00008000u
#define SMB2_SHARE_CAP_DFS              0x00000008u
#define SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY 0x00000010u

/* Access mask (MS-SMB2 2.2.13.1) */
#define FILE_READ_DATA         0x00000001u
#define FILE_LIST_DIRECTORY    0x00000001u
#define FILE_WRITE_DATA        0x00000002u
#define FILE_ADD_FILE          0x00000002u
#define FILE_APPEND_DATA       0x00000004u
#define FILE_ADD_SUBDIRECTORY  0x00000004u
#define FILE_READ_EA           0x00000008u
#define FILE_WRITE_EA          0x00000010u
#define FILE_EXECUTE           0x00000020u
#define FILE_TRAVERSE          0x00000020u
#define FILE_DELETE_CHILD      0x00000040u
#define FILE_READ_ATTRIBUTES   0x00000080u
#define FILE_WRITE_ATTRIBUTES  0x00000100u
#define DELETE                 0x00010000u
#define READ_CONTROL           0x00020000u
#define WRITE_DAC              0x00040000u
#define WRITE_OWNER            0x00080000u
#define SYNCHRONIZE            0x00100000u
#define ACCESS_SYSTEM_SECURITY 0x01000000u
#define MAXIMUM_ALLOWED        0x02000000u
#define GENERIC_ALL            0x10000000u
#define GENERIC_EXECUTE        0x20000000u
#define GENERIC_WRITE          0x40000000u
#define GENERIC_READ           0x80000000u
#define FILE_ALL_ACCESS        0x001F01FFu
#define FILE_GENERIC_READ      0x00120089u
#define FILE_GENERIC_WRITE     0x00120116u
#define FILE_GENERIC_EXECUTE   0x001200A0u

/* Share access */
#define FILE_SHARE_READ   0x1u
#define FILE_SHARE_WRITE  0x2u
#define FILE_SHARE_DELETE 0x4u
#define FILE_SHARE_VALID  0x7u

/* Create disposition */
#define FILE_SUPERSEDE    0
#define FILE_OPEN         1
#define FILE_CREATE       2
#define FILE_OPEN_IF      3
#define FILE_OVERWRITE    4
#define FILE_OVERWRITE_IF 5

/* Create action */
#define FILE_SUPERSEDED  0
#define FILE_OPENED      1
#define FILE_CREATED     2
#define FILE_OVERWRITTEN 3

/* Create options */
#define FILE_DIRECTORY_FILE            0x00000001u
#define FILE_WRITE_THROUGH             0x00000002u
#define FILE_SEQUENTIAL_ONLY           0x00000004u
#define FILE_NO_INTERMEDIATE_BUFFERING 0x00000008u
#define FILE_SYNCHRONOUS_IO_ALERT      0x00000010u
#define FILE_SYNCHRONOUS_IO_NONALERT   0x00000020u
#define FILE_NON_DIRECTORY_FILE        0x00000040u
#define FILE_COMPLETE_IF_OPLOCKED      0x00000100u
#define FILE_NO_EA_KNOWLEDGE           0x00000200u
#define FILE_RANDOM_ACCESS             0x00000800u
#define FILE_DELETE_ON_CLOSE           0x00001000u
#define FILE_OPEN_BY_FILE_ID           0x00002000u
#define FILE_OPEN_FOR_BACKUP_INTENT    0x00004000u
#define FILE_NO_COMPRESSION            0x00008000u
#define FILE_OPEN_REMOTE_INSTANCE      0x00000400u
#define FILE_OPEN_REQUIRING_OPLOCK     0x00010000u
#define FILE_DISALLOW_EXCLUSIVE        0x00020000u
#define FILE_RESERVE_OPFILTER          0x00100000u
#define FILE_OPEN_REPARSE_POINT        0x00200000u
#define FILE_OPEN_NO_RECALL            0x00400000u
#define FILE_OPEN_FOR_FREE_SPACE_QUERY 0x00800000u

/* File attributes (MS-FSCC 2.6) */
#define FILE_ATTRIBUTE_READONLY            0x00000001u
#define FILE_ATTRIBUTE_HIDDEN              0x00000002u
#define FILE_ATTRIBUTE_SYSTEM              0x00000004u
#define FILE_ATTRIBUTE_DIRECTORY           0x00000010u
#define FILE_ATTRIBUTE_ARCHIVE             0x00000020u
#define FILE_ATTRIBUTE_NORMAL              0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY           0x00000100u
#define FILE_ATTRIBUTE_SPARSE_FILE         0x00000200u
#define FILE_ATTRIBUTE_REPARSE_POINT       0x00000400u
#define FILE_ATTRIBUTE_COMPRESSED          0x00000800u
#define FILE_ATTRIBUTE_OFFLINE             0x00001000u
#define FILE_ATTRIBUTE_NOT_CONTENT_INDEXED 0x00002000u
#define FILE_ATTRIBUTE_ENCRYPTED           0x00004000u
#define FILE_ATTRIBUTE_INTEGRITY_STREAM    0x00008000u
#define FILE_ATTRIBUTE_NO_SCRUB_DATA       0x00020000u

/* Oplock levels */
#define SMB2_OPLOCK_LEVEL_NONE      0x00
#define SMB2_OPLOCK_LEVEL_II        0x01
#define SMB2_OPLOCK_LEVEL_EXCLUSIVE 0x08
#define SMB2_OPLOCK_LEVEL_BATCH     0x09
#define SMB2_OPLOCK_LEVEL_LEASE     0xFF

/* Close flags */
#define SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB 0x0001

/* Query info types */
#define SMB2_0_INFO_FILE       0x01
#define SMB2_0_INFO_FILESYSTEM 0x02
#define SMB2_0_INFO_SECURITY   0x03
#define SMB2_0_INFO_QUOTA      0x04

/* IOCTL */
#define SMB2_0_IOCTL_IS_FSCTL 0x00000001u
#define FSCTL_DFS_GET_REFERRALS           0x00060194u
#define FSCTL_PIPE_PEEK                   0x0011400Cu
#define FSCTL_PIPE_WAIT                   0x00110018u
#define FSCTL_PIPE_TRANSCEIVE             0x0011C017u
#define FSCTL_SRV_COPYCHUNK               0x001440F2u
#define FSCTL_SRV_ENUMERATE_SNAPSHOTS     0x00144064u
#define FSCTL_SRV_REQUEST_RESUME_KEY      0x00140078u
#define FSCTL_SRV_READ_HASH               0x001441BBu
#define FSCTL_SRV_COPYCHUNK_WRITE         0x001480F2u
#define FSCTL_LMR_REQUEST_RESILIENCY      0x001401D4u
#define FSCTL_QUERY_NETWORK_INTERFACE_INFO 0x001401FCu
#define FSCTL_SET_REPARSE_POINT           0x000900A4u
#define FSCTL_GET_REPARSE_POINT           0x000900A8u
#define FSCTL_DFS_GET_REFERRALS_EX        0x000601B0u
#define FSCTL_FILE_LEVEL_TRIM             0x00098208u
#define FSCTL_VALIDATE_NEGOTIATE_INFO     0x00140204u
#define FSCTL_CREATE_OR_GET_OBJECT_ID     0x000900C0u
#define FSCTL_GET_OBJECT_ID               0x0009009Cu
#define FSCTL_SET_SPARSE                  0x000900C4u
#define FSCTL_SET_ZERO_DATA               0x000980C8u
#define FSCTL_QUERY_ALLOCATED_RANGES      0x000940CFu
#define FSCTL_GET_COMPRESSION             0x0009003Cu
#define FSCTL_SET_COMPRESSION             0x0009C040u
#define FSCTL_GET_INTEGRITY_INFORMATION   0x0009027Cu
#define FSCTL_DUPLICATE_EXTENTS_TO_FILE   0x00098344u

/* Query directory flags */
#define SMB2_RESTART_SCANS       0x01
#define SMB2_RETURN_SINGLE_ENTRY 0x02
#define SMB2_INDEX_SPECIFIED     0x04
#define SMB2_REOPEN              0x10

/* Read/write */
#define SMB2_CHANNEL_NONE 0
#define SMB2_READFLAG_READ_UNBUFFERED 0x01
#define SMB2_WRITEFLAG_WRITE_THROUGH  0x01

/* The decoded SMB2 sync/async header (2.2.1.1 / 2.2.1.2). */
struct smb2_hdr {
	uint16_t credit_charge;
	uint32_t status;        /* ChannelSequence/Reserved in requests */
	uint16_t command;
	uint16_t credit;        /* CreditRequest / CreditResponse */
	uint32_t flags;
	uint32_t next_command;
	uint64_t message_id;
	uint64_t async_id;      /* valid when flags & SMB2_FLAGS_ASYNC_COMMAND */
	uint32_t tree_id;       /* valid when not async */
	uint64_t session_id;
	uint8_t signature[16];
};

/* Decodes the 64-byte header at msg; returns false if msg_len < 64, the
 * protocol id is not 0xFE 'SMB' or StructureSize is not 64. */
bool smb2_hdr_decode(const uint8_t *msg, size_t msg_len, struct smb2_hdr *h);
/* Writes a 64-byte header at out. */
void smb2_hdr_encode(uint8_t *out, const struct smb2_hdr *h);

/* The times, sizes and attributes that CREATE and CLOSE responses both
 * carry, in the same order (MS-SMB2 2.2.14, 2.2.16). */
struct smb2_file_basics {
	uint64_t creation_time, last_access_time, last_write_time, change_time;  /* NT time */
	uint64_t allocation_size, end_of_file;
	uint32_t file_attributes;
};
/* Appends the 52 bytes: four times, AllocationSize, EndofFile, FileAttributes. */
void smb2_file_basics_encode(struct wbuf *w, const struct smb2_file_basics *b);

/* The error response body (2.2.2): StructureSize 9, no error data. */
void smb2_error_rsp_encode(struct wbuf *w);

/* Time: NT time is 100ns units since 1601-01-01. */
#define NT_EPOCH_DELTA 11644473600ULL
uint64_t nt_time_from_timespec(int64_t sec, long nsec);
void nt_time_to_timespec(uint64_t nt, int64_t *sec, long *nsec);
uint64_t nt_time_now(void);

const char *smb2_command_name(uint16_t cmd);

#endif
