/* POSIX file-system backend (vfs_posix.c).
 *
 * Every path a client sends is resolved beneath the share's root fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), component by component
 * when the share is case-insensitive, so no "..", absolute path or symlink
 * can leave the share.  What POSIX cannot store (DOS attributes, creation
 * time) lives in extended attributes:
 *   user.smbkit.dosattrib  u32 LE   FILE_ATTRIBUTE_* bits that POSIX lacks
 *   user.smbkit.btime      u64 LE   creation time, NT time
 */
#ifndef SMBKIT_SERVER_VFS_H
#define SMBKIT_SERVER_VFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct smbd_share;

/* What SMB wants to know about a file, in SMB units. */
struct smb_file_stat {
	uint64_t creation_time;     /* NT time */
	uint64_t last_access_time;
	uint64_t last_write_time;
	uint64_t change_time;
	uint64_t end_of_file;
	uint64_t allocation_size;
	uint32_t attributes;        /* FILE_ATTRIBUTE_*; DIRECTORY set for dirs; NORMAL when none */
	uint32_t nlink;
	uint64_t file_id;           /* inode number: stable for the file's life */
	uint64_t dev;
	bool is_dir;
	uint32_t mode;              /* st_mode */
};

/* Converts a client path (UTF-8, '\' or '/' separators, no leading
 * separator) to a share-relative path with '/' separators.  Rejects
 * (STATUS_OBJECT_NAME_INVALID) names Windows rejects: wildcards,
 * control characters, '"<>|', ':' (streams are not supported yet), and
 * returns STATUS_OBJECT_PATH_SYNTAX_BAD / OBJECT_NAME_INVALID for ".." and
 * "." components.  On success *out is malloc'd. */
uint32_t vfs_normalize_path(const char *in, char **out);

/* Opens rel (share-relative, normalized) under the share.  flags are
 * open(2) flags (O_CREAT etc. allowed).  For case-insensitive shares the
 * last existing components are matched case-insensitively, and the actual
 * on-disk path is returned in *actual (malloc'd) if actual != NULL.
 * Returns an fd or -errno. */
int vfs_open(const struct smbd_share *sh, const char *rel, int flags, mode_t mode, char **actual);
/* Resolves rel to its on-disk spelling without opening it (-ENOENT if a
 * component is missing; then *actual holds the resolved parent + the
 * remaining components as given). */
int vfs_resolve(const struct smbd_share *sh, const char *rel, char **actual);

/* Stats an open fd and fills st from stat + xattrs. Returns 0 or -errno. */
int vfs_fstat(int fd, struct smb_file_stat *st);
/* Stats name relative to dirfd without following a final symlink. */
int vfs_fstatat(int dirfd, const char *name, struct smb_file_stat *st);
/* Stores DOS attributes (READONLY/HIDDEN/SYSTEM/ARCHIVE...) in the xattr. */
int vfs_set_dos_attributes(int fd, uint32_t attrs);
/* Sets times (NT time; 0 = leave, (uint64_t)-1 = leave) incl. creation time xattr. */
int vfs_set_times(int fd, uint64_t creation, uint64_t access, uint64_t write, uint64_t change);

#endif
