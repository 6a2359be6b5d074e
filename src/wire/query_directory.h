/* SMB2 QUERY_DIRECTORY (MS-SMB2 2.2.33 request, 2.2.34 response) and the
 * directory information classes of MS-FSCC 2.4. */
#ifndef SMBKIT_WIRE_QUERY_DIRECTORY_H
#define SMBKIT_WIRE_QUERY_DIRECTORY_H

#include "wire/smb2.h"

/* FileInformationClass values used in directory enumeration (MS-FSCC 2.4). */
#define FILE_DIRECTORY_INFORMATION          0x01
#define FILE_FULL_DIRECTORY_INFORMATION     0x02
#define FILE_BOTH_DIRECTORY_INFORMATION     0x03
#define FILE_NAMES_INFORMATION              0x0C
#define FILE_ID_BOTH_DIRECTORY_INFORMATION  0x25
#define FILE_ID_FULL_DIRECTORY_INFORMATION  0x26
#define FILE_ID_EXTD_DIRECTORY_INFORMATION  0x3C

struct smb2_query_directory_req {
	uint8_t info_class;
	uint8_t flags;
	uint32_t file_index;
	uint64_t persistent_id, volatile_id;
	const uint8_t *pattern;       /* UTF-16LE into msg, or NULL */
	uint16_t pattern_len;         /* bytes */
	uint32_t output_buffer_length;
};

/* What one directory entry says about a file, in SMB units. */
struct smb2_dirent {
	const char *name;             /* UTF-8 */
	const char *short_name;       /* 8.3 name (ASCII, up to 12 chars) or NULL/"" */
	uint32_t file_index;
	uint64_t creation_time, last_access_time, last_write_time, change_time;
	uint64_t end_of_file, allocation_size;
	uint32_t attributes;
	uint32_t ea_size;
	uint32_t reparse_tag;
	uint64_t file_id;
	uint64_t volume_id;           /* upper half of the 128-bit id in FileIdExtd */
};

uint32_t smb2_query_directory_req_decode(const uint8_t *msg, size_t msg_len,
					 struct smb2_query_directory_req *out);

/* True for the information classes smb2_dirent_encode knows. */
bool smb2_dirent_class_supported(uint8_t info_class);
/* Bytes of an entry of this class before FileName (FieldOffset(FileName)). */
size_t smb2_dirent_fixed_size(uint8_t info_class);

/* Appends one entry of info_class at w->len, which the caller has aligned
 * to 8 relative to the start of the output buffer.  The entry's
 * NextEntryOffset is left 0; the caller patches the previous entry's.  If
 * the whole entry would not fit below `limit` (an absolute length of w),
 * nothing is written and 1 is returned; -1 for an invalid name; 0 on
 * success. */
int smb2_dirent_encode(struct wbuf *w, size_t limit, uint8_t info_class, const struct smb2_dirent *e);

/* Response: StructureSize 9, OutputBufferOffset, OutputBufferLength; the
 * entries follow at offset 72 from the header.  The caller writes the
 * fixed part with this, appends entries, then patches the length with
 * smb2_query_directory_rsp_set_length. */
size_t smb2_query_directory_rsp_begin(struct wbuf *w, size_t hdr_off);
void smb2_query_directory_rsp_set_length(struct wbuf *w, size_t fixed_pos, uint32_t len);

#endif
