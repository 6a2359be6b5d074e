/* Security descriptors of files (security_desc.c, on top of acl.c).
 *
 * A file's SD is the one stored whole in the xattr user.smbkit.sd (set by a
 * client with SET_INFO or the SecD create context, or inherited at create
 * from a parent that has a stored SD), or else one derived from the POSIX
 * owner, group and mode (S-1-22-1-<uid>, S-1-22-2-<gid>, Everyone).
 *
 * Enforcement: the kernel checks the Unix permissions (requests run with the
 * user's fsuid), and a stored DACL is checked on top at CREATE
 * (smbd_sd_access_allowed, smbd_sd_check_create): it can only take rights
 * away, never grant what the Unix permissions deny.  A file without a stored
 * SD is governed by its Unix permissions alone. */
#ifndef SMBKIT_SERVER_SECURITY_DESC_H
#define SMBKIT_SERVER_SECURITY_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct smbd_open;
struct smbd_session;

/* Appends the parts of the open file's SD that secinfo asks for
 * (OWNER/GROUP/DACL_SECURITY_INFORMATION; a SACL is never stored, so an
 * empty one), with the DACL's control flags (QUERY_INFO, MS-SMB2
 * 3.3.5.20.3). */
uint32_t smbd_sd_query(const struct smbd_open *o, uint32_t secinfo, struct wbuf *w);
/* Replaces the parts of the SD that secinfo names with those of sd
 * (SET_INFO, MS-SMB2 3.3.5.21.3; the SecD create context).  sd is
 * validated completely; a malformed one gets STATUS_INVALID_PARAMETER, an
 * owner that is not one of the caller's SIDs STATUS_INVALID_OWNER (unless
 * the caller is root, which holds SeRestorePrivilege). */
uint32_t smbd_sd_set(const struct smbd_open *o, const uint8_t *sd, size_t len, uint32_t secinfo);

/* ---- hooks for CREATE (MS-FSA 2.1.5.1) ---- */

/* The access the stored SDs allow session s on an existing file or
 * directory (MS-FSA 2.1.5.1.2.1): the file's DACL, plus DELETE when the
 * parent's DACL grants FILE_DELETE_CHILD and FILE_READ_ATTRIBUTES when it
 * grants FILE_LIST_DIRECTORY.  fd is an fd of the object (O_PATH is fine),
 * path its share-relative name ("" = share root), root_fd the share's
 * root.  Returns UINT32_MAX when the file has no stored SD (the Unix
 * permissions alone decide); the caller ANDs the result into the maximal
 * access it derived from the Unix permissions. */
uint32_t smbd_sd_access_allowed(const struct smbd_session *s, int root_fd, const char *path, int fd);
/* The access the object's own stored DACL grants session s, without what
 * the parent adds (access-based enumeration judges an entry by its own
 * DACL); UINT32_MAX when it has no stored SD. */
uint32_t smbd_sd_own_access(const struct smbd_session *s, int fd);

/* May session s create a file (FILE_ADD_FILE) or directory
 * (FILE_ADD_SUBDIRECTORY) in the directory parent_fd (O_PATH is fine)?
 * STATUS_SUCCESS when the parent has no stored SD, else per its DACL
 * (MS-FSA 2.1.5.1.1). */
uint32_t smbd_sd_check_create(const struct smbd_session *s, int parent_fd, bool is_dir);

/* Gives the file or directory just created as fd in parent_fd the SD it
 * inherits (MS-DTYP 2.5.3.4) when the parent has a stored SD; nothing
 * otherwise.  Returns an NTSTATUS; on failure the new file must not stay
 * (it would be less protected than its parent says). */
uint32_t smbd_sd_inherit(const struct smbd_session *s, int parent_fd, int fd, bool is_dir);

#endif
