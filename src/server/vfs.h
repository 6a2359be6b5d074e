/* POSIX file-system backend (vfs_posix.c).
 *
 * Every path a client sends is resolved beneath the share's root fd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), component by component
 * when the share is case-insensitive, so no "..", absolute path or symlink
 * can leave the share.  What POSIX cannot store (DOS attributes, creation
 * time) lives in extended attributes:
 *   user.smbkit.dosattrib  u32 LE   FILE_ATTRIBUTE_* bits that POSIX lacks
 *   user.smbkit.btime      u64 LE   creation time, NT time
 *   user.smbkit.ea.<NAME>  u8 flags + value   one extended attribute (below)
 *   user.smbkit.streams    16 bytes  id of the file's stream directory (below)
 *
 * Extended attributes (MS-FSCC 2.4.15): each EA is one xattr named
 * "user.smbkit.ea." followed by the EA name exactly as the client set it;
 * EA names are case-insensitive, so lookups scan the file's xattr list and
 * compare case-insensitively, and setting "Foo" replaces "FOO".  The name is
 * validated (vfs_ea_name_valid) before it is ever used: it can only extend
 * the fixed "user.smbkit.ea." prefix, so no EA can read or overwrite another
 * xattr (user.smbkit.sd, security.*, trusted.*).  Values are limited by the
 * file system (ext4: all xattrs of a file share one block): a value that does
 * not fit gives STATUS_EA_TOO_LARGE / STATUS_DISK_FULL.
 *
 * Named streams (MS-FSCC 2.1.4): xattr values are far too small on ext4
 * (one 4 KiB block per inode), so a stream's data is a regular file in a
 * hidden directory inside the share:
 *     <share>/.smbkit-streams/<32 hex digits>/s_<stream name>
 * The 32 hex digits are a random id kept in the base file's xattr
 * user.smbkit.streams, so streams follow the inode through renames and hard
 * links, and a recycled inode number never inherits another file's streams.
 * A stream name is validated (no '/', '\\', ':' or NUL, at most 250 bytes)
 * and prefixed with "s_", so it is always exactly one
 * path component that cannot be "." or ".."; every open goes through
 * openat2(RESOLVE_BENEATH) from the share root as well.  The directory
 * ".smbkit-streams" is reserved: vfs_normalize_path refuses any component
 * with that name (case-insensitively) and enumeration hides it.  A stream
 * open's fd is the stream's data file, so READ/WRITE/FLUSH/EOF work
 * unchanged; times, attributes and names come from the base file.
 */
#ifndef SMBKIT_SERVER_VFS_H
#define SMBKIT_SERVER_VFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/smb2.h"

struct smbd_share;

/* What SMB wants to know about a file, in SMB units. */
/* CREATE made the new name base in the directory open at parent_fd (after
 * vfs_resolve found no case-insensitive match for it): the name cache of
 * large directories learns it instead of reading the directory again on
 * the next miss (server/name_cache.h). */
void vfs_note_created_at(int parent_fd, const char *base);

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
	bool may_have_eas;          /* false only when the file is known to carry no extended attributes */
};

/* The CREATE/CLOSE response block for a file (MS-SMB2 2.2.14, 2.2.16). */
static inline struct smb2_file_basics smb_file_basics(const struct smb_file_stat *st)
{
	struct smb2_file_basics b = {
		.creation_time = st->creation_time,
		.last_access_time = st->last_access_time,
		.last_write_time = st->last_write_time,
		.change_time = st->change_time,
		.allocation_size = st->allocation_size,
		.end_of_file = st->end_of_file,
		.file_attributes = st->attributes,
	};
	return b;
}

/* What a named stream reports: the file's times and attributes, the
 * stream's own sizes, and never FILE_ATTRIBUTE_DIRECTORY: a named stream
 * of a directory is a data stream (MS-FSA 2.1.5.12.21, FileNetworkOpen-
 * Information: only a DirectoryStream sets it).  Clients go by that bit:
 * smbclient refuses to write "dir:stream" when the CREATE reports it. */
static inline void smb_file_stat_as_stream(struct smb_file_stat *file, const struct smb_file_stat *stream)
{
	file->end_of_file = stream->end_of_file;
	file->allocation_size = stream->allocation_size;
	if (file->is_dir) {
		file->is_dir = false;
		file->attributes &= ~(uint32_t)FILE_ATTRIBUTE_DIRECTORY;
		if (!file->attributes) file->attributes = FILE_ATTRIBUTE_NORMAL;
	}
}

/* Converts a client path (UTF-8, '\' or '/' separators, leading ones
 * dropped; the stream already split off by vfs_split_stream) to a
 * share-relative path with '/' separators.  ".." collapses lexically (it
 * removes the component before it: the result never holds one); a ".."
 * that would climb above the share root is STATUS_OBJECT_PATH_SYNTAX_BAD.
 * STATUS_OBJECT_NAME_INVALID for what Windows rejects: "." components,
 * wildcards, control characters, '"<>|:', empty inner components.  "" is
 * the share root.  On success *out is malloc'd. */
uint32_t vfs_normalize_path(const char *in, char **out);

/* openat2(dirfd, path) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS and
 * O_CLOEXEC ("" opens dirfd's directory itself).  Returns an fd or -errno;
 * a path that tries to leave dirfd gives -EACCES. */
int vfs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Opens the parent directory of path (share-relative, normalized) beneath
 * root_fd as O_PATH and points *base at path's last component.  Returns an
 * fd or -errno. */
int vfs_open_parent(int root_fd, const char *path, const char **base);

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

/* vfs_resolve for a caller whose own open of rel (exact spelling, beneath
 * the share) has just failed with ENOENT: the exact lookup is not repeated.
 * Case-sensitive shares: -ENOENT with *actual = rel.  Otherwise the
 * case-insensitive walk, with vfs_resolve's results. */
int vfs_resolve_after_miss(const struct smbd_share *sh, const char *rel, char **actual);
/* Opens the inode fd refers to again (O_PATH fds too) with new open(2)
 * flags, through /proc/self/fd: the same file whatever happened to its name
 * meanwhile, with the kernel's permission check for the new mode.  Returns
 * an fd or -errno. */
int vfs_reopen(int fd, int flags);

/* Removes rel (resolved, share-relative; flags 0 or AT_REMOVEDIR) through
 * its parent directory opened beneath the share.  Returns 0 or -errno. */
int vfs_unlink(const struct smbd_share *sh, const char *rel, int flags);
/* stat of dir/name (share-relative) following symlinks only while they stay
 * beneath the share.  Returns 0 or -errno (-EACCES for a link leading out). */
struct stat;
int vfs_stat_beneath(const struct smbd_share *sh, const char *dir, const char *name, struct stat *sb);

/* One xattr of any fd, O_PATH ones included (the f*xattr calls refuse
 * those; they are reached through /proc/self/fd, vfs_posix.c).  get:
 * bytes, or -1 with errno, like fgetxattr; set: 0 or -errno. */
ssize_t vfs_fd_getxattr(int fd, const char *attr, void *val, size_t len);
int vfs_fd_setxattr(int fd, const char *attr, const void *val, size_t len);

/* Stats an open fd and fills st from stat + xattrs. Returns 0 or -errno. */
int vfs_fstat(int fd, struct smb_file_stat *st);
/* A number that tells the file open at fd from a later file given the same
 * inode number after it is gone (ext4 reuses a free inode number at once,
 * with the same coarse birth time): a hash of the kernel's file handle
 * (name_to_handle_at, which holds the inode's generation), else the birth
 * time, else 0.  The inode table keys on it with (dev, ino). */
uint64_t vfs_file_generation(int fd);
/* vfs_fstat that also says whether fd carries xattrs vfs_fstat does not
 * interpret (DOS attributes, times and EAs are its own): a stored security
 * descriptor is one, so false proves the file has none.  true when the
 * name list could not be read whole. */
int vfs_fstat_ex(int fd, struct smb_file_stat *st, bool *foreign_xattrs);
/* Stats name relative to dirfd without following a final symlink. */
int vfs_fstatat(int dirfd, const char *name, struct smb_file_stat *st);
/* Stores DOS attributes (READONLY/HIDDEN/SYSTEM/ARCHIVE...) in the xattr. */
int vfs_set_dos_attributes(int fd, uint32_t attrs);
/* Sets times (NT time; 0 = leave, (uint64_t)-1 = leave) incl. creation time xattr. */
int vfs_set_times(int fd, uint64_t creation, uint64_t access, uint64_t write, uint64_t change);

/* Sets the DOS attributes while keeping FILE_ATTRIBUTE_SPARSE_FILE as it is
 * (SET_INFO basic cannot change the sparse bit, MS-FSA 2.1.5.14.2). */
int vfs_set_dos_attributes_keep_sparse(int fd, uint32_t attrs);

/* ------------------------------------------------------------ streams */

/* The reserved directory holding stream data (see the top of this file). */
#define VFS_STREAM_DIR ".smbkit-streams"

/* Splits a client name "path[:stream[:$DATA]]" (MS-FSCC 2.1.5) into the
 * file part (still to be normalized) and the stream name.  *stream is NULL
 * for a plain name ("file") and "" for the default stream named explicitly
 * ("file::$DATA").  Only the last path
 * component may carry a stream.  Returns STATUS_OBJECT_NAME_INVALID for
 * empty names with a type ("file:"), names with '/', '\', control
 * characters or wildcards, and for stream types other than $DATA.  On
 * success *file and *stream are malloc'd. */
uint32_t vfs_split_stream(const char *in, char **file, char **stream);
/* True for a valid stream name (what follows "s_" in the stream directory). */
bool vfs_stream_name_valid(const char *name);

/* Opens the stream `name` of the file open as base_fd.  With O_CREAT the
 * stream directory is created on demand.  Returns an fd or -errno. */
int vfs_stream_open(const struct smbd_share *sh, int base_fd, const char *name, int flags, char **actual_name);
/* Removes one stream (-ENOENT if it does not exist). */
int vfs_stream_unlink(const struct smbd_share *sh, int base_fd, const char *name);
/* Removes every stream of the file (called when its last name goes). */
void vfs_streams_remove_all(const struct smbd_share *sh, int base_fd);

struct vfs_stream_info {
	char *name;               /* as created */
	uint64_t size, alloc;
};
/* Lists the named streams of a file.  *out is malloc'd (free with
 * vfs_stream_list_free); 0 streams gives *out NULL. Returns 0 or -errno. */
int vfs_stream_list(const struct smbd_share *sh, int base_fd, struct vfs_stream_info **out, size_t *n);
void vfs_stream_list_free(struct vfs_stream_info *s, size_t n);

/* ------------------------------------------------------------ EAs */

/* Longest EA name we store: the xattr name limit (255) minus the prefix. */
#define VFS_EA_NAME_MAX 240
/* MS-FSA 2.1.5.1.2 / FsRtlIsEaNameValid: 1..255 ASCII bytes, no control
 * characters and none of  " * + , / : ; < = > ? [ \ ] |  */
bool vfs_ea_name_valid(const char *name, size_t len);

struct vfs_ea {
	char *name;               /* as set */
	uint8_t flags;            /* FILE_NEED_EA (0x80) */
	uint8_t *value;
	size_t value_len;
};
/* All EAs of the file, in xattr order.  Returns 0 or -errno. */
int vfs_ea_list(int fd, struct vfs_ea **out, size_t *n);
/* Same, for name relative to dirfd (directory listings). */
int vfs_ea_list_at(int dirfd, const char *name, struct vfs_ea **out, size_t *n);
void vfs_ea_free(struct vfs_ea *e, size_t n);
/* Sets (value_len > 0) or deletes (value_len == 0) one EA; name must be
 * valid.  Deleting a missing EA succeeds.  Returns 0 or -errno. */
int vfs_ea_set(int fd, const char *name, uint8_t flags, const uint8_t *value, size_t value_len);
/* FileEaInformation.EaSize: the size of the FILE_FULL_EA_INFORMATION list
 * the file's EAs make, each entry 4-byte aligned (MS-FSCC 2.4.13). */
uint32_t vfs_ea_size(const struct vfs_ea *e, size_t n);

/* smb2_create.c: validates a FILE_FULL_EA_INFORMATION list (all names
 * first) and stores it on fd; a zero-length value deletes that EA.
 * Returns an NTSTATUS. */
uint32_t smbd_apply_ea_list(int fd, const uint8_t *buf, size_t len);

/* ------------------------------------------------- stream opens (open.c) */

struct smbd_open;
/* A stream open's o->path is "file:stream" (":" never occurs in a file
 * name): returns the stream name, or NULL for a file/directory open. */
const char *open_stream_name(const struct smbd_open *o);
/* Opens (O_PATH) the base file of a stream open, or dups o->fd for other
 * opens.  Returns an fd or -errno. */
int open_base_fd(const struct smbd_open *o);
/* The open's file as a client sees it through this open: a plain open's
 * fstat, or for a stream open the base file's with the stream's sizes
 * (smb_file_stat_as_stream).  Returns 0 or -errno. */
int open_fstat(const struct smbd_open *o, struct smb_file_stat *st);
/* The same, given the open's base fd (open_base_fd, or o->fd for a plain
 * open), for a caller that goes on using it. */
int open_fstat_at(const struct smbd_open *o, int bfd, struct smb_file_stat *st);

#endif
