/* File-system change watcher (notify_watch.c): one inotify instance served
 * by a dedicated thread, shared by everything that wants to hear about local
 * changes to a directory (CHANGE_NOTIFY, later directory-lease breaks).
 *
 * A caller registers a directory (by an open fd) with notify_watch_add and
 * gets events for names inside it, and with tree=true for names anywhere
 * below it: subdirectories present at registration and created or moved in
 * later are watched too.  Events name the changed entry relative to the
 * registered directory, '/'-separated UTF-8.  smbkit's own stream store
 * (VFS_STREAM_DIR) and everything under it is never reported, nor is the
 * metadata a CREATE writes into the entry it has just made (Windows reports
 * only FILE_ACTION_ADDED for a creation; see nw_fresh_* in notify_watch.c).
 *
 * Threads and locks: fn runs on the watcher thread with the "notify_watch"
 * lock held (rank LOCK_RANK_NOTIFY_WATCH): it must not block and may take
 * only locks ranked above it (e.g. its own state lock, loop_post).  After
 * notify_watch_remove() returns, fn is never called again for that watch, so
 * fn's arg may be released then.  notify_watch_add/remove are called with no
 * ranked lock held; they do small system calls (inotify_add_watch, readdir of
 * the tree being registered) outside the lock where they can.
 */
#ifndef SMBKIT_SERVER_NOTIFY_WATCH_H
#define SMBKIT_SERVER_NOTIFY_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* What a callback is told. */
enum notify_watch_kind {
	NOTIFY_WATCH_CHANGE,     /* action/filter/name are set */
	NOTIFY_WATCH_OVERFLOW,   /* changes were lost (queue overflow, or a
	                            subdirectory could not be watched): the
	                            consumer should tell its client to re-read */
	NOTIFY_WATCH_BATCH_END,  /* end of a group of changes read together:
	                            a good time to deliver what was collected */
	NOTIFY_WATCH_ROOT_GONE,  /* the registered directory was deleted */
};

struct notify_watch_event {
	enum notify_watch_kind kind;
	uint32_t action;         /* FILE_ACTION_* (MS-FSCC 2.7.1) */
	uint32_t filter;         /* FILE_NOTIFY_CHANGE_* bits the change matches (MS-SMB2 2.2.35) */
	const char *name;        /* relative to the registered directory; valid during the call */
	bool is_dir;
};

typedef void (*notify_watch_fn)(void *arg, const struct notify_watch_event *ev);

struct notify_watch;

/* Watches the directory open as dirfd (the fd is not kept: the watcher
 * duplicates it).  Returns the watch, or NULL with errno set (ENOSPC when the
 * inotify watch limit, /proc/sys/fs/inotify/max_user_watches, is reached).
 * Subdirectories that cannot be watched are reported as NOTIFY_WATCH_OVERFLOW
 * once. */
struct notify_watch *notify_watch_add(int dirfd, bool tree, notify_watch_fn fn, void *arg);
/* Stops the watch and frees it; no callback runs for it once this returns. */
void notify_watch_remove(struct notify_watch *w);
/* Stops the watcher thread (server shutdown, after every watch is removed). */
void notify_watch_shutdown(void);

/* Reports a change that inotify does not show: name (one component) in the
 * directory whose inode is (dir_dev, dir_ino) changed as action/filter.
 * Watches covering that directory get it like an inotify change, in order:
 * after every inotify event queued before the call (it is handed to the
 * watcher thread, which reads what inotify holds first).  Called with no
 * ranked lock held; does nothing when nothing is watched. */
void notify_watch_report(uint64_t dir_dev, uint64_t dir_ino, const char *name, uint32_t action, uint32_t filter,
			 bool is_dir);

/* smb2_notify.c: a rename through o has succeeded (smb2_set_info.c).  See
 * notify_file_renamed there for what is reported, and when. */
struct smbd_open;
void notify_file_renamed(struct smbd_open *o);

/* FILE_ACTION_* values (MS-FSCC 2.7.1) */
#define FILE_ACTION_ADDED            0x00000001u
#define FILE_ACTION_REMOVED          0x00000002u
#define FILE_ACTION_MODIFIED         0x00000003u
#define FILE_ACTION_RENAMED_OLD_NAME 0x00000004u
#define FILE_ACTION_RENAMED_NEW_NAME 0x00000005u

/* CompletionFilter bits (MS-SMB2 2.2.35) */
#define FILE_NOTIFY_CHANGE_FILE_NAME    0x00000001u
#define FILE_NOTIFY_CHANGE_DIR_NAME     0x00000002u
#define FILE_NOTIFY_CHANGE_ATTRIBUTES   0x00000004u
#define FILE_NOTIFY_CHANGE_SIZE         0x00000008u
#define FILE_NOTIFY_CHANGE_LAST_WRITE   0x00000010u
#define FILE_NOTIFY_CHANGE_LAST_ACCESS  0x00000020u
#define FILE_NOTIFY_CHANGE_CREATION     0x00000040u
#define FILE_NOTIFY_CHANGE_EA           0x00000080u
#define FILE_NOTIFY_CHANGE_SECURITY     0x00000100u
#define FILE_NOTIFY_CHANGE_STREAM_NAME  0x00000200u
#define FILE_NOTIFY_CHANGE_STREAM_SIZE  0x00000400u
#define FILE_NOTIFY_CHANGE_STREAM_WRITE 0x00000800u

#endif
