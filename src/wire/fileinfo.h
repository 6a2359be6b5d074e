/* MS-FSCC information classes: pure encoders (struct in, bytes out) for
 * QUERY_INFO answers and decoders for SET_INFO input buffers.
 *
 * Encoders append the full, untruncated structure to a wbuf; the QUERY_INFO
 * handler decides afterwards whether the client's OutputBufferLength is
 * enough (MS-SMB2 3.3.5.20.1), so the encoders never need to know it.
 * Decoders follow the src/wire conventions: bounds-checked, they return
 * STATUS_SUCCESS, STATUS_INFO_LENGTH_MISMATCH (buffer shorter than the fixed
 * structure, MS-FSA 2.1.5.14) or STATUS_INVALID_PARAMETER, and point into the
 * input buffer without allocating.
 */
#ifndef SMBKIT_WIRE_FILEINFO_H
#define SMBKIT_WIRE_FILEINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* File information classes (MS-FSCC 2.4).  Prefixed so they cannot clash
 * with the directory-enumeration constants another header may define. */
#define FSCC_FILE_DIRECTORY_INFORMATION          1
#define FSCC_FILE_FULL_DIRECTORY_INFORMATION     2
#define FSCC_FILE_BOTH_DIRECTORY_INFORMATION     3
#define FSCC_FILE_BASIC_INFORMATION              4
#define FSCC_FILE_STANDARD_INFORMATION           5
#define FSCC_FILE_INTERNAL_INFORMATION           6
#define FSCC_FILE_EA_INFORMATION                 7
#define FSCC_FILE_ACCESS_INFORMATION             8
#define FSCC_FILE_NAME_INFORMATION               9
#define FSCC_FILE_RENAME_INFORMATION            10
#define FSCC_FILE_LINK_INFORMATION              11
#define FSCC_FILE_NAMES_INFORMATION             12
#define FSCC_FILE_DISPOSITION_INFORMATION       13
#define FSCC_FILE_POSITION_INFORMATION          14
#define FSCC_FILE_FULL_EA_INFORMATION           15
#define FSCC_FILE_MODE_INFORMATION              16
#define FSCC_FILE_ALIGNMENT_INFORMATION         17
#define FSCC_FILE_ALL_INFORMATION               18
#define FSCC_FILE_ALLOCATION_INFORMATION        19
#define FSCC_FILE_END_OF_FILE_INFORMATION       20
#define FSCC_FILE_ALTERNATE_NAME_INFORMATION    21
#define FSCC_FILE_STREAM_INFORMATION            22
#define FSCC_FILE_PIPE_INFORMATION              23
#define FSCC_FILE_COMPRESSION_INFORMATION       28
#define FSCC_FILE_NETWORK_OPEN_INFORMATION      34
#define FSCC_FILE_ATTRIBUTE_TAG_INFORMATION     35
#define FSCC_FILE_ID_BOTH_DIRECTORY_INFORMATION 37
#define FSCC_FILE_VALID_DATA_LENGTH_INFORMATION 39
#define FSCC_FILE_SHORT_NAME_INFORMATION        40
#define FSCC_FILE_NORMALIZED_NAME_INFORMATION   48
#define FSCC_FILE_ID_INFORMATION                59
#define FSCC_FILE_DISPOSITION_INFORMATION_EX    64
#define FSCC_FILE_RENAME_INFORMATION_EX         65

/* File system information classes (MS-FSCC 2.5). */
#define FSCC_FS_VOLUME_INFORMATION        1
#define FSCC_FS_LABEL_INFORMATION         2
#define FSCC_FS_SIZE_INFORMATION          3
#define FSCC_FS_DEVICE_INFORMATION        4
#define FSCC_FS_ATTRIBUTE_INFORMATION     5
#define FSCC_FS_CONTROL_INFORMATION       6
#define FSCC_FS_FULL_SIZE_INFORMATION     7
#define FSCC_FS_OBJECTID_INFORMATION      8
#define FSCC_FS_SECTOR_SIZE_INFORMATION  11

/* FileFsAttributeInformation flags (MS-FSCC 2.5.1). */
#define FILE_CASE_SENSITIVE_SEARCH  0x00000001u
#define FILE_CASE_PRESERVED_NAMES   0x00000002u
#define FILE_UNICODE_ON_DISK        0x00000004u
#define FILE_PERSISTENT_ACLS        0x00000008u
#define FILE_SUPPORTS_SPARSE_FILES  0x00000040u
#define FILE_NAMED_STREAMS          0x00040000u
#define FILE_SUPPORTS_EXTENDED_ATTRIBUTES 0x00800000u
#define FILE_SUPPORTS_OBJECT_IDS    0x00010000u
#define FILE_SUPPORTS_HARD_LINKS    0x00400000u

/* FileFsDeviceInformation (MS-FSCC 2.5.10). */
#define FILE_DEVICE_DISK            0x00000007u

/* FileDispositionInformationEx flags (MS-FSCC 2.4.12). */
#define FILE_DISPOSITION_DELETE                     0x00000001u
#define FILE_DISPOSITION_POSIX_SEMANTICS            0x00000002u
#define FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK  0x00000004u
#define FILE_DISPOSITION_ON_CLOSE                   0x00000008u
#define FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE  0x00000010u

/* Security information flags (MS-DTYP 2.4.7, AdditionalInformation). */
/* SECURITY_DESCRIPTOR.Control (MS-DTYP 2.4.6). */
#define SE_OWNER_DEFAULTED        0x0001u
#define SE_GROUP_DEFAULTED        0x0002u
#define SE_DACL_PRESENT           0x0004u
#define SE_DACL_DEFAULTED         0x0008u
#define SE_SACL_PRESENT           0x0010u
#define SE_DACL_AUTO_INHERIT_REQ  0x0100u
#define SE_DACL_AUTO_INHERITED    0x0400u
#define SE_DACL_PROTECTED         0x1000u
#define SE_SELF_RELATIVE          0x8000u

#define OWNER_SECURITY_INFORMATION     0x00000001u
#define GROUP_SECURITY_INFORMATION     0x00000002u
#define DACL_SECURITY_INFORMATION      0x00000004u
#define SACL_SECURITY_INFORMATION      0x00000008u
#define LABEL_SECURITY_INFORMATION     0x00000010u

/* Minimum OutputBufferLength Windows accepts for each class: the C struct
 * size including the one-character name array and its alignment padding
 * (MS-FSA 2.1.5.11 / 2.1.5.12: "If OutputBufferLength is smaller than
 * sizeof(...) the operation MUST fail with STATUS_INFO_LENGTH_MISMATCH").
 * Returns 0 for classes this module does not know. */
size_t fileinfo_min_size(uint8_t file_info_class);
size_t fsinfo_min_size(uint8_t fs_info_class);
/* True for classes whose answer has a variable part that may be truncated
 * with STATUS_BUFFER_OVERFLOW rather than refused. */
bool fileinfo_is_variable(uint8_t file_info_class);
bool fsinfo_is_variable(uint8_t fs_info_class);

/* Everything the file classes report, gathered by the server from
 * vfs_fstat and the open. */
struct fileinfo_stat {
	uint64_t creation_time, last_access_time, last_write_time, change_time;
	uint64_t allocation_size, end_of_file;
	uint32_t attributes;
	uint32_t nlink;
	bool delete_pending;
	bool is_dir;
	uint64_t file_id;
	uint32_t ea_size;
	uint32_t access_flags;      /* granted access */
	uint64_t position;
	uint32_t mode;
	uint32_t alignment;         /* FILE_BYTE_ALIGNMENT = 0 */
	const char *name;           /* UTF-8, for FileAllInformation/FileNameInformation */
};

void fileinfo_basic_encode(struct wbuf *w, const struct fileinfo_stat *s);         /* 2.4.7, 40 */
void fileinfo_standard_encode(struct wbuf *w, const struct fileinfo_stat *s);      /* 2.4.41, 24 */
void fileinfo_internal_encode(struct wbuf *w, const struct fileinfo_stat *s);      /* 2.4.22, 8 */
void fileinfo_ea_encode(struct wbuf *w, const struct fileinfo_stat *s);            /* 2.4.13, 4 */
void fileinfo_access_encode(struct wbuf *w, const struct fileinfo_stat *s);        /* 2.4.1, 4 */
void fileinfo_position_encode(struct wbuf *w, const struct fileinfo_stat *s);      /* 2.4.35, 8 */
void fileinfo_mode_encode(struct wbuf *w, const struct fileinfo_stat *s);          /* 2.4.26, 4 */
void fileinfo_alignment_encode(struct wbuf *w, const struct fileinfo_stat *s);     /* 2.4.3, 4 */
/* FILE_NAME_INFORMATION (2.4.27): also used for alternate and normalized
 * names.  Returns -1 on invalid UTF-8. */
int fileinfo_name_encode(struct wbuf *w, const char *utf8_name);
int fileinfo_all_encode(struct wbuf *w, const struct fileinfo_stat *s);            /* 2.4.2, 100+name */
void fileinfo_network_open_encode(struct wbuf *w, const struct fileinfo_stat *s);  /* 2.4.29, 56 */
void fileinfo_attribute_tag_encode(struct wbuf *w, const struct fileinfo_stat *s); /* 2.4.6, 8 */
/* FILE_STREAM_INFORMATION (2.4.43): one "::$DATA" entry for files, none for
 * directories (they have no unnamed data stream). */
void fileinfo_stream_encode(struct wbuf *w, const struct fileinfo_stat *s);
void fileinfo_compression_encode(struct wbuf *w, const struct fileinfo_stat *s);   /* 2.4.9, 16 */

/* Builds a DOS 8.3 alternate name for a long name (the last path component).
 * Names that are already valid 8.3 are returned upper-cased; others become
 * "XXXXXX~N.EXT" with a stable hash-derived N, as Windows' short-name
 * generation does in spirit.  out must hold 13 bytes. */
void fileinfo_short_name(const char *name, char out[13]);

/* File system classes. */
struct fsinfo_stat {
	uint64_t volume_creation_time;
	uint32_t volume_serial;
	const char *volume_label;     /* UTF-8 */
	uint64_t total_units, caller_avail_units, actual_avail_units;
	uint32_t sectors_per_unit, bytes_per_sector;
	uint32_t fs_attributes;
	uint32_t max_component_len;
	const char *fs_name;          /* "NTFS" */
	uint8_t object_id[16];
};

int fsinfo_volume_encode(struct wbuf *w, const struct fsinfo_stat *f);         /* 2.5.9, 18+label */
void fsinfo_size_encode(struct wbuf *w, const struct fsinfo_stat *f);          /* 2.5.8, 24 */
void fsinfo_device_encode(struct wbuf *w, const struct fsinfo_stat *f);        /* 2.5.10, 8 */
int fsinfo_attribute_encode(struct wbuf *w, const struct fsinfo_stat *f);      /* 2.5.1, 12+name */
void fsinfo_control_encode(struct wbuf *w, const struct fsinfo_stat *f);       /* 2.5.2, 48 */
void fsinfo_full_size_encode(struct wbuf *w, const struct fsinfo_stat *f);     /* 2.5.4, 32 */
void fsinfo_objectid_encode(struct wbuf *w, const struct fsinfo_stat *f);      /* 2.5.6, 64 */
void fsinfo_sector_size_encode(struct wbuf *w, const struct fsinfo_stat *f);   /* 2.5.7, 28 */

/* One named stream for FileStreamInformation. */
struct fileinfo_stream {
	const char *name;           /* UTF-8 as the client sees it: "::$DATA", ":x:$DATA" */
	uint64_t size, alloc;
};
/* FILE_STREAM_INFORMATION list (2.4.43): entries 8-byte aligned, the last
 * one unpadded.  Returns -1 on invalid UTF-8. */
int fileinfo_streams_encode(struct wbuf *w, const struct fileinfo_stream *s, size_t n);

/* ---- extended attributes (2.4.15, 2.4.15.1) ---- */

#ifndef STATUS_EA_LIST_INCONSISTENT
#define STATUS_EA_LIST_INCONSISTENT 0x80000014u
#endif
#ifndef STATUS_NO_MORE_EAS
#define STATUS_NO_MORE_EAS 0x80000012u
#endif
#define FILE_NEED_EA 0x80u

struct fileinfo_ea {
	uint8_t flags;
	const char *name;           /* into the buffer; NOT NUL-terminated for
	                               the encoder's callers, see name_len */
	uint8_t name_len;
	const uint8_t *value;
	uint16_t value_len;
};
/* Parses a FILE_FULL_EA_INFORMATION list.  Every entry must lie inside the
 * buffer, NextEntryOffset must be 0 (last) or at least the entry's size,
 * and each name must be NUL-terminated where EaNameLength says
 * (IoCheckEaBufferValidity, MS-FSA 2.1.5.1.2.1): otherwise
 * STATUS_EA_LIST_INCONSISTENT.  With out NULL only counts.  More than max
 * entries: STATUS_EA_LIST_INCONSISTENT. */
uint32_t fileinfo_full_ea_decode(const uint8_t *p, size_t len, struct fileinfo_ea *out, size_t max, size_t *n);
/* Parses a FILE_GET_EA_INFORMATION list (2.4.15.1): names only. */
uint32_t fileinfo_get_ea_decode(const uint8_t *p, size_t len, struct fileinfo_ea *out, size_t max, size_t *n);
/* Size of one FILE_FULL_EA_INFORMATION entry without padding. */
size_t fileinfo_full_ea_entry_size(const struct fileinfo_ea *e);
/* Appends whole entries of e[0..n) while they fit in max_bytes; entries are
 * 4-byte aligned and linked, the last has NextEntryOffset 0.  Returns how
 * many entries were written. */
size_t fileinfo_full_ea_encode(struct wbuf *w, const struct fileinfo_ea *e, size_t n, size_t max_bytes);

/* ---- SET_INFO input decoders ---- */

struct fileinfo_basic_set {
	uint64_t creation_time, last_access_time, last_write_time, change_time;
	uint32_t attributes;
};
uint32_t fileinfo_basic_decode(const uint8_t *p, size_t len, struct fileinfo_basic_set *out);

/* FILE_RENAME_INFORMATION_TYPE_2 (2.4.37.2), also the layout of
 * FILE_LINK_INFORMATION_TYPE_2 (2.4.24.2). */
struct fileinfo_rename_set {
	bool replace_if_exists;
	uint64_t root_directory;
	const uint8_t *name;          /* UTF-16LE, into the input buffer */
	uint32_t name_len;            /* bytes */
};
uint32_t fileinfo_rename_decode(const uint8_t *p, size_t len, struct fileinfo_rename_set *out);

/* Single-value classes: disposition (1 byte), disposition ex (u32),
 * end of file / allocation / position (u64), mode (u32). */
uint32_t fileinfo_u8_decode(const uint8_t *p, size_t len, uint8_t *out);
uint32_t fileinfo_u32_decode(const uint8_t *p, size_t len, uint32_t *out);
uint32_t fileinfo_u64_decode(const uint8_t *p, size_t len, uint64_t *out);

/* ---- security descriptors (MS-DTYP 2.4.6) ---- */

/* What a POSIX file's security looks like in Windows terms: owner SID
 * S-1-22-1-<uid>, group S-1-22-2-<gid> (the "Unix User"/"Unix Group"
 * authorities Samba uses), and a DACL with ACEs for owner, group and
 * Everyone derived from the mode bits. */
struct posix_sd_input {
	uint32_t uid, gid;
	uint32_t mode;        /* st_mode */
	bool is_dir;
};
/* Appends a self-relative security descriptor holding what `secinfo`
 * (OWNER/GROUP/DACL_SECURITY_INFORMATION) asks for. */
void security_desc_encode(struct wbuf *w, const struct posix_sd_input *in, uint32_t secinfo);
/* Self-relative SDs from the network are parsed and validated by acl_sd_parse
 * (server/acl.h). */

#endif
