/* Mutexes with a rank, and the one table of every lock in smbkit.
 *
 * Locks must be taken in increasing rank order.  Debug builds (without
 * NDEBUG) keep a per-thread list of held locks and abort with both names when
 * a thread takes a lock whose rank is not above every lock it already holds.
 *
 * Lock-order table (outermost first).  Adding a lock means adding it here.
 *
 *   rank  name                 protects
 *   ----  -------------------  ------------------------------------------
 *   10    config               server->cfg pointer swap on SIGHUP reload
 *   20    conn_table           server list of connections (count, limits)
 *   30    session_table        global session id -> session map
 *   40    session              one session's tree list and auth state
 *   50    open_table           global volatile/persistent file id map
 *   55    durable_table        server-wide table of disconnected durable and
 *                              persistent opens keyed by persistent id, their
 *                              expiry deadlines, and the persistent-handle
 *                              store's id epoch (server/durable.c).  Taken
 *                              alone or before an inode lock (reconnect checks
 *                              the lease of the open it found); never inside
 *                              an inode lock: lease breaks that must close a
 *                              disconnected open hand it over after unlocking
 *   60    inode_table          inode hash table membership and each inode's
 *                              refcount transitions to and from zero (inode.c)
 *   65    inode                one file's state (struct smbd_inode): its list of
 *                              opens, delete_pending, the paths of its opens,
 *                              and what later parts add (byte-range locks,
 *                              leases/oplocks).  Share-mode checks and the
 *                              publication of an open into the list happen
 *                              under it, so two CREATEs cannot both pass.
 *   66    inode_stream         the same, for the inode of a named stream's data
 *                              file; nests inside its base file's "inode" lock
 *                              (base first, then stream), never the other way
 *   67    notify_watch         the inotify watcher's tables (notify_watch.c);
 *                              its callbacks run under it
 *   68    notify               CHANGE_NOTIFY state of the watched opens
 *                              (smb2_notify.c): collected changes, pending count
 *   69    lease_table          server-wide lease table keyed by (ClientGuid,
 *                              LeaseKey) (server/lease.c, MS-SMB2 3.3.1.4);
 *                              taken alone or inside an inode lock.  A lease's
 *                              state is guarded by its file's inode lock.
 *   70    conn_send            a connection's outgoing queue
 *   75    loop_post            a loop's queue of tasks posted from other threads
 *   77    lease_timer          deadlines of unacknowledged oplock/lease breaks
 *                              (server/lease.c); a leaf, nothing nests inside
 *   78    lease_watch          directories watched with fanotify for local
 *                              changes (server/lease.c); a leaf
 *   80    io_pool              the I/O worker pool's job queue and counters
 *                              (server/io_pool.c); a leaf: workers take it only
 *                              to dequeue, the dispatcher only to enqueue
 *   85    login_backoff        failed-login counters per client address (access.c);
 *                              a leaf: nothing is taken or called under it
 *   86    name_cache           case-insensitive name sets of large directories
 *                              (server/name_cache.c); a leaf, no system call
 *                              is made under it
 *   90    log                  (not a ranked lock: stdio's own)
 *
 * No blocking call (file I/O, network, sleeping allocation) is made while
 * holding any of these; they only guard table membership and small fields.
 */
#ifndef SMBKIT_COMMON_LOCK_H
#define SMBKIT_COMMON_LOCK_H

#include <pthread.h>

enum lock_rank {
	LOCK_RANK_CONFIG = 10,
	LOCK_RANK_CONN_TABLE = 20,
	LOCK_RANK_SESSION_TABLE = 30,
	LOCK_RANK_SESSION = 40,
	LOCK_RANK_OPEN_TABLE = 50,
	LOCK_RANK_DURABLE_TABLE = 55,
	LOCK_RANK_INODE_TABLE = 60,
	LOCK_RANK_INODE = 65,
	LOCK_RANK_INODE_STREAM = 66,
	LOCK_RANK_NOTIFY_WATCH = 67,
	LOCK_RANK_NOTIFY = 68,
	LOCK_RANK_LEASE_TABLE = 69,
	LOCK_RANK_CONN_SEND = 70,
	LOCK_RANK_LOOP_POST = 75,
	LOCK_RANK_LEASE_TIMER = 77,
	LOCK_RANK_LEASE_WATCH = 78,
	LOCK_RANK_IO_POOL = 80,
	LOCK_RANK_LOGIN_BACKOFF = 85,
	LOCK_RANK_NAME_CACHE = 86,
};

struct smb_mutex {
	pthread_mutex_t m;
	int rank;
	const char *name;
};

void smb_mutex_init(struct smb_mutex *l, enum lock_rank rank, const char *name);
void smb_mutex_destroy(struct smb_mutex *l);
void smb_mutex_lock(struct smb_mutex *l);
void smb_mutex_unlock(struct smb_mutex *l);

#endif
