/* Access-based directory enumeration (access_enum.c; the share option is
 * parsed in config.c).
 *
 * A share with "access based enumeration = yes" (Samba's "hide unreadable"
 * is accepted as the same option) announces
 * SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM at TREE_CONNECT (MS-SMB2
 * 2.2.10) and QUERY_DIRECTORY (MS-SMB2 3.3.5.18) leaves out the entries
 * the user could not open for reading.  The protocol only carries the flag;
 * which rights make an entry visible is the server's policy (Windows:
 * "read (or equivalent)" access), here ACCESS_ENUM_NEEDED, as
 * smb2.acls.ACCESSBASED expects.  Hiding is only cosmetic: opening a
 * hidden name is still decided by CREATE's checks. */
#ifndef SMBKIT_SERVER_ACCESS_ENUM_H
#define SMBKIT_SERVER_ACCESS_ENUM_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/smb2.h"

struct smbd_session;
struct smbd_share;

/* The rights an entry must grant the user to be listed: the specific
 * rights of FILE_GENERIC_READ (MS-SMB2 2.2.13.1.1), i.e. the user could
 * open it for reading.  SYNCHRONIZE is left out as everywhere in the
 * server's access checks.  smb2.acls.ACCESSBASED hides a file whose DACL
 * lacks any one of FILE_READ_DATA, FILE_READ_ATTRIBUTES or FILE_READ_EA. */
#define ACCESS_ENUM_NEEDED (FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL)

/* Does the share have "access based enumeration" on?  (config.c; false for
 * IPC$ and command-line shares.) */
bool config_share_access_based_enum(const struct smbd_share *sh);

/* Given the rights the Unix permissions allow (unix_readable: read
 * permission on the object) and those the object's stored DACL grants
 * (UINT32_MAX when it has none), is the entry listed? */
bool access_enum_rights_visible(bool unix_readable, uint32_t dacl_granted);

/* May session s see the entry `name` of the directory open as dirfd, whose
 * share-relative path is dir_path ("" = root), in share sh?  Run
 * impersonated, like the QUERY_DIRECTORY that asks.  Symbolic links are
 * judged by their target while it stays in the share; an entry that cannot
 * be opened at all (gone, dangling link, link out of the share) is hidden. */
bool access_enum_entry_visible(const struct smbd_session *s, const struct smbd_share *sh, int dirfd,
			       const char *dir_path, const char *name);

#endif
