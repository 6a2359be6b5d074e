/* smbkitd object model: server -> connection -> session -> tree -> open.
 *
 * Ownership is written next to every counted pointer.  The rules (see
 * ../shared/DESIGN.md and docs/ARCHITECTURE.md):
 *  - A lookup returns its object with a reference; the caller puts it.
 *  - Unpublish first (remove from every table under that table's lock), then
 *    tear down outside the lock.
 *  - A half-built object is never published.
 *  - Ids handed to clients are cleared when the object is unpublished.
 *
 * Threads: a fixed set of event-loop threads own the connections.  A request
 * is processed start to finish on the loop thread that owns its connection,
 * so per-connection fields (marked "loop") are touched by that thread only.
 * Fields shared across threads are guarded by the lock named beside them;
 * every lock appears in the table in common/lock.h.
 */
#ifndef SMBKIT_SERVER_SERVER_H
#define SMBKIT_SERVER_SERVER_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/list.h"
#include "common/lock.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "wire/smb2.h"

struct smbd_conn;
struct smbd_session;
struct smbd_tree;
struct smbd_open;
struct smbd_pipe;
struct ntlmssp_server;

/* ------------------------------------------------------------------ config */

/* "server smb encrypt" / "smb encrypt" levels, Samba's meaning
 * (docs/configuration.md): */
enum smbd_encrypt {
	SMBD_ENCRYPT_OFF,          /* global: encryption is not negotiated at all */
	SMBD_ENCRYPT_IF_REQUIRED,  /* default: negotiated, used when the client asks */
	SMBD_ENCRYPT_DESIRED,      /* sessions (global) / tree connects (share) are told to encrypt */
	SMBD_ENCRYPT_REQUIRED,     /* as desired, and clients that cannot encrypt are refused */
};

struct smbd_share {
	atomic_int refcount;   /* owners: the config that lists it (1); each tree connect (1) */
	char *name;            /* as configured; matched case-insensitively */
	char *path;            /* absolute path; NULL for IPC$ */
	char *comment;
	int root_fd;           /* O_PATH|O_DIRECTORY fd of path, opened at load; -1 for IPC$ */
	bool ipc;              /* the IPC$ share (named pipes) */
	bool read_only;
	bool guest_ok;
	bool browseable;
	bool case_sensitive;   /* false: names are looked up case-insensitively */
	char **valid_users;    /* NULL-terminated; NULL = everyone */
	enum smbd_encrypt encrypt;  /* "smb encrypt" of this share (only desired/required act) */
	bool continuously_available; /* "continuously available": persistent handles (durable.c) */
};

struct smbd_user {
	char *name;            /* SMB user name */
	char *unix_name;       /* mapped Unix account */
	uint8_t nt_hash[16];   /* MD4(UTF-16LE(password)) */
};

struct smbd_config {
	atomic_int refcount;   /* owners: server->cfg (1); each connection's snapshot (1) */
	char *source;          /* config file path, or NULL when built from the command line */
	char *netbios_name;    /* server name, upper case */
	char *workgroup;
	char *server_string;
	struct smbd_share **shares; size_t nshares;  /* includes IPC$ */
	struct smbd_user *users; size_t nusers;
	char *users_file;
	bool map_guest;        /* --guest: unknown users and anonymous become guest */
	char *guest_account;   /* Unix account for guests (default "nobody") */
	/* Kerberos (docs/configuration.md): "kerberos keytab" (default
	 * /etc/krb5.keytab) and "realm"; krb5_enabled is set by finalize when
	 * a realm is configured and the keytab is readable. */
	char *krb5_keytab;
	char *realm;
	bool krb5_enabled;
	bool signing_required;
	enum smbd_encrypt encrypt;   /* "server smb encrypt" in [global] */
	/* "server smb3 encryption algorithms": SMB2_ENCRYPTION_* ids in server
	 * preference order (3.1.1 negotiation); 3.0/3.0.2 need AES-128-CCM in it. */
	uint16_t ciphers[4]; unsigned nciphers;
	unsigned max_connections;
	unsigned max_sessions_per_conn;
	unsigned max_opens_per_conn;
	unsigned max_io_size;  /* MaxRead/MaxWrite/MaxTransact we advertise (8 MiB) */
	unsigned busy_poll_us; /* "busy poll": longest adaptive poll window of a loop (loop.c); 0 = off */
	char **listen;         /* "ADDR:PORT" strings; NULL-terminated */
	int log_level;
	bool foreground;
	char *state_dir;       /* "state directory": persistent-handle store and file-id epoch (durable.c) */
};

/* config.c */
/* Loads an smb.conf-style file.  On error returns NULL and writes a message
 * naming the file and line into err. */
struct smbd_config *config_load_file(const char *path, char *err, size_t errlen);
struct smbd_config *config_new_default(void);
/* Adds a share from "NAME=PATH" (command line). */
int config_add_share_arg(struct smbd_config *c, const char *arg, char *err, size_t errlen);
/* Opens root fds, adds IPC$, loads users_file.  Returns 0 or -1 with err. */
int config_finalize(struct smbd_config *c, char *err, size_t errlen);
void config_get(struct smbd_config *c);
void config_put(struct smbd_config *c);
void share_get(struct smbd_share *s);
void share_put(struct smbd_share *s);
/* Both return a reference (share_put/ nothing for users, which live as long as the config). */
struct smbd_share *config_find_share(struct smbd_config *c, const char *name);
const struct smbd_user *config_find_user(const struct smbd_config *c, const char *name);

/* users.c: the user database file written by smbkit-passwd.
 * Format, one user a line:  name:unix_name:32-hex-digit-NT-hash  */
int userdb_load(const char *path, struct smbd_user **users, size_t *n, char *err, size_t errlen);
int userdb_save(const char *path, const struct smbd_user *users, size_t n, char *err, size_t errlen);
void userdb_free(struct smbd_user *users, size_t n);
void nt_hash_password(const char *password_utf8, uint8_t out[16]);

/* ------------------------------------------------------------------ server */

struct smbd_server {
	struct smb_mutex config_lock;    /* rank config: guards cfg pointer */
	struct smbd_config *cfg;         /* owner: server (1 reference) */
	uint8_t guid[16];
	uint64_t start_time;             /* NT time */
	struct smb_mutex conn_lock;      /* rank conn_table */
	struct list_head conns;          /* guarded by conn_lock */
	unsigned nconns;                 /* guarded by conn_lock */
	struct smb_mutex session_lock;   /* rank session_table */
	struct list_head sessions;       /* all sessions, guarded by session_lock */
	atomic_uint_fast64_t next_session_id;
	struct smb_mutex open_lock;      /* rank open_table */
	struct list_head opens;          /* all published opens, guarded by open_lock */
	atomic_uint_fast64_t next_file_id;
	atomic_int stopping;              /* set once by loops_stop, read by every loop */
};

extern struct smbd_server g_server;

/* Returns the current config with a reference. */
struct smbd_config *server_config_get(void);

/* -------------------------------------------------------------- connection */

enum smbd_conn_state { CONN_NEW, CONN_NEGOTIATED, CONN_DEAD };

struct smbd_conn {
	atomic_int refcount;     /* owners: its loop thread while connected (1); each session (1) */
	struct list_head link;   /* in g_server.conns, guarded by conn_lock */
	int fd;
	struct sockaddr_storage peer;
	char peer_str[64];       /* "addr:port" for logs */
	struct smbd_loop *loop;  /* owning event loop */
	struct smbd_config *cfg; /* owner: conn (1 reference), snapshot taken at accept */
	enum smbd_conn_state state;          /* loop */

	/* negotiated state (loop) */
	uint16_t dialect;
	uint16_t client_security_mode;
	uint32_t client_capabilities;
	uint8_t client_guid[16];
	uint16_t client_dialects[16]; unsigned nclient_dialects;   /* for VALIDATE_NEGOTIATE */
	uint32_t server_capabilities;
	uint16_t server_security_mode;
	uint16_t cipher;                     /* SMB2_ENCRYPTION_*; 0 = no encryption on this connection
	                                        (3.0/3.0.2 with CAP_ENCRYPTION: AES-128-CCM) */
	uint16_t signing_algo;               /* SMB2_SIGNING_* */
	uint8_t preauth_hash[64];            /* 3.1.1 connection preauth integrity hash */
	bool signing_required;

	/* credits / sequence window (MS-SMB2 3.3.1.1), loop */
	uint64_t seq_low;                    /* lowest message id not yet used */
	uint32_t seq_range;                  /* number of ids granted starting at seq_low */
	uint8_t *seq_bitmap;                 /* used-id bitmap, SEQ_WINDOW_MAX bits */

	/* sessions of this connection (loop) */
	struct list_head sessions;
	unsigned nsessions;
	atomic_uint nopens;                  /* opens created through this connection */

	/* receive buffer (loop) */
	uint8_t *rbuf; size_t rlen, rcap;
	/* send queue: guarded by send_lock (rank conn_send) since other threads
	 * may queue oplock/lease breaks in later issues */
	struct smb_mutex send_lock;
	struct list_head sendq;
	uint64_t async_id_next;
	struct list_head async_list;         /* pending async requests (loop), async.c */
	unsigned nasync;                     /* loop */
};

#define SEQ_WINDOW_MAX 8192u

void conn_get(struct smbd_conn *c);
void conn_put(struct smbd_conn *c);
/* Queues a whole SMB2 message (without the 4-byte transport header) for
 * sending; takes ownership of buf (malloc'd).  conn_send, conn_disconnect and
 * everything that touches a connection's loop-owned fields run on the
 * connection's own loop thread; another thread hands work over with
 * loop_post(c->loop, fn, arg) (server/loop.h), holding a conn reference. */
void conn_send(struct smbd_conn *c, uint8_t *buf, size_t len);
/* Like conn_send, but wraps the message in an SMB2 TRANSFORM_HEADER,
 * encrypted with s's keys.encrypt and c->cipher (MS-SMB2 3.1.4.3).  Frees
 * buf.  On failure the connection is dropped (nothing unencrypted goes out). */
void conn_send_encrypted(struct smbd_conn *c, struct smbd_session *s, uint8_t *buf, size_t len);
/* Marks the connection for disconnect after pending output is flushed. */
void conn_disconnect(struct smbd_conn *c, const char *why);

/* ----------------------------------------------------------------- session */

enum smbd_session_state { SESSION_IN_PROGRESS, SESSION_VALID, SESSION_EXPIRED };

struct smbd_session {
	atomic_int refcount;       /* owners: session table (1 while published); each request using it (1) */
	struct list_head global_link; /* g_server.sessions, guarded by session_lock */
	struct list_head conn_link;   /* conn->sessions, loop */
	uint64_t id;               /* 0 after unpublish */
	struct smbd_conn *conn;    /* owner: session (1 reference) */
	struct smb_mutex lock;     /* rank session: trees list, state */
	enum smbd_session_state state;
	struct ntlmssp_server *auth;  /* in-progress authentication, owned */
	uint8_t preauth_hash[64];  /* 3.1.1 session preauth hash */

	/* identity */
	char *user;                /* SMB user name, NULL for anonymous */
	char *domain;
	bool is_guest, is_anonymous;
	uid_t uid; gid_t gid;
	gid_t *groups; int ngroups;

	/* keys */
	uint8_t session_key[16];
	struct smb_session_keys keys;
	bool signing_required;     /* sign every message of this session */
	bool keyed;                /* keys derived at the first authentication (not anonymous/guest);
	                              kept across re-authentication, even an anonymous one */
	bool encrypt_data;         /* Session.EncryptData: SESSION_FLAG_ENCRYPT_DATA was sent; every
	                              response but NEGOTIATE/SESSION_SETUP goes encrypted */
	bool encrypt_required;     /* global "required": unencrypted requests get ACCESS_DENIED */
	/* Nonce source for messages this server encrypts with keys.encrypt:
	 * a counter that only grows, so a nonce never repeats under one key
	 * (each session has its own keys, see conn_send_encrypted). */
	atomic_uint_fast64_t encrypt_nonce;

	bool torn_down;            /* loop (of conn): session_destroy ran */
	struct list_head trees;    /* guarded by lock */
	uint32_t next_tree_id;     /* guarded by lock */
	unsigned ntrees;
};

void session_get(struct smbd_session *s);
void session_put(struct smbd_session *s);
/* Looks up a published session by id; returns it with a reference or NULL. */
struct smbd_session *session_lookup(uint64_t id);
/* Unpublishes the session (if still published) and, once, tears it down:
 * closes its trees and opens and ends its pending requests.  Runs on the
 * loop thread that owns s->conn. */
void session_destroy(struct smbd_session *s);
/* Removes s from the global session table (any thread); true if this call did. */
bool session_unpublish(struct smbd_session *s);
/* MS-SMB2 3.3.5.5.3: after a successful login that names a PreviousSessionId
 * of the same user, that session ends (its durable opens become
 * reconnectable).  The old session may belong to another connection and loop:
 * it is unpublished at once and torn down on its own loop thread. */
void session_expire_previous(struct smbd_session *s, uint64_t previous_id);
/* Switches this thread's fsuid/fsgid/groups to the session's user (when
 * running as root); smbd_unimpersonate() switches back. */
void smbd_impersonate(const struct smbd_session *s);
void smbd_unimpersonate(void);
/* Identity caching (session.c, "identity"): inside a lazy scope
 * smbd_unimpersonate leaves the user's identity in effect for the next
 * request; smbd_become_root() switches back where code other than such
 * requests starts.  smbd_identity_lazy sets the scope and returns the
 * previous setting. */
void smbd_become_root(void);
bool smbd_identity_lazy(bool on);

/* -------------------------------------------------------------------- tree */

struct smbd_tree {
	atomic_int refcount;       /* owners: session's tree list (1 while published); each request (1) */
	struct list_head link;     /* session->trees, guarded by session->lock */
	uint32_t id;               /* 0 after unpublish */
	struct smbd_session *session; /* back pointer, valid while the tree is referenced:
	                                  the session outlives its trees (teardown order) */
	struct smbd_share *share;  /* owner: tree (1 reference) */
	bool read_only;
	uint32_t maximal_access;
	bool encrypt_data;         /* TreeConnect/Share.EncryptData: SHAREFLAG_ENCRYPT_DATA was sent */
	bool encrypt_required;     /* share "required": unencrypted requests get ACCESS_DENIED */
};

void tree_get(struct smbd_tree *t);
void tree_put(struct smbd_tree *t);
struct smbd_tree *tree_lookup(struct smbd_session *s, uint32_t id);
/* Unpublishes the tree and closes every open on it. */
void tree_destroy(struct smbd_tree *t);

/* -------------------------------------------------------------------- open */

struct smbd_dir_enum;   /* directory enumeration state, owned by the open (query_dir.c) */

struct smbd_open {
	atomic_int refcount;       /* owners: open table (1 while published); each request (1) */
	struct list_head link;     /* g_server.opens, guarded by open_lock */
	uint64_t persistent_id;    /* 0 after unpublish */
	uint64_t volatile_id;      /* 0 after unpublish */
	struct smbd_tree *tree;    /* owner: open (1 reference) */
	struct smbd_session *session; /* owner: open (1 reference) */
	struct smbd_conn *conn;    /* not counted: cleared with the session */
	bool ready;                /* false until CREATE finished; lookups skip it */

	int fd;                    /* file or directory fd; -1 for pipes */
	char *path;                /* share-relative UTF-8, '/' separated, "" = share root */
	bool is_dir;
	dev_t dev; ino_t ino;
	uint32_t access;           /* granted access mask */
	uint32_t share_access;
	uint32_t create_options;
	uint8_t oplock_level;
	bool delete_on_close;
	uint64_t position;         /* FilePositionInformation */
	uint32_t mode;             /* FileModeInformation */
	struct smbd_dir_enum *dir; /* owned */
	struct smbd_pipe *pipe;    /* owned; non-NULL for IPC$ opens */

	/* Per-file state (inode.c).  inode is the file's (for a stream open:
	 * the base file's) inode, stream_inode the stream data file's (stream
	 * opens only).  Both are set before the open is attached and stay
	 * until the open is freed. */
	struct smbd_inode *inode;        /* owner: open (1 reference); NULL for pipes */
	struct smbd_inode *stream_inode; /* owner: open (1 reference); NULL unless a stream open */
	struct list_head inode_link;     /* inode->opens (MS-FSA File.OpenList), guarded by inode->lock */
	struct list_head stream_link;    /* stream_inode->opens, guarded by stream_inode->lock */
	bool inode_attached;             /* linked in the lists above; guarded by inode->lock */
	/* Earlier values of path replaced by a rename through another handle:
	 * the loop thread that owns this open may still be reading one, so they
	 * live until the open is freed.  Guarded by inode->lock. */
	char **retired_paths; unsigned nretired_paths;

	/* Durable and persistent handles (durable.c, MS-SMB2 3.3.1.10).  Set
	 * while CREATE builds the open (before publication), then fixed,
	 * except durable_disconnected and durable_doomed (guarded by the lease inode's lock:
	 * o->stream_inode, else o->inode) and durable_link/durable_expire_ms
	 * (guarded by the durable_table lock). */
	uint8_t durable;              /* 0, 1 (DHnQ) or 2 (DH2Q): Open.IsDurable */
	bool is_persistent;           /* Open.IsPersistent: recorded in the state directory */
	atomic_uint resiliency_timeout_ms; /* Open.ResiliencyTimeout, nonzero iff Open.IsResilient (FSCTL_LMR_REQUEST_RESILIENCY, smb2_lock.c) */
	bool durable_disconnected;    /* its connection is gone; it waits in the durable table */
	/* A break reached it while disconnected, so it is being closed
	 * (lease.c); a reconnect that races that close must fail.  Guarded
	 * like durable_disconnected. */
	bool durable_doomed;
	uint8_t create_guid[16];      /* Open.CreateGuid (v2) */
	/* Open.CreateGuid was set by a DH2Q, whether or not durability was
	 * granted: a CREATE replayed with the same guid gets this open back
	 * (MS-SMB2 3.3.5.9.10).  Fixed before publication. */
	bool has_create_guid;
	/* Open.IsReplayEligible: cleared (any thread) when the client
	 * acknowledges a break of its oplock or lease (3.3.5.22.1/.2). */
	atomic_bool replay_eligible;
	/* Renamed through this handle since it was opened: its close reports
	 * FILE_ACTION_MODIFIED to change-notify watchers (smb2_notify.c,
	 * notify_file_renamed).  Set by the rename, read by the close. */
	atomic_bool renamed_unreported;
	uint8_t create_action;        /* CreateAction of the CREATE that made it: a replay answers with it */
	uint8_t client_guid[16];      /* Open.ClientGuid */
	/* Open.AppInstanceId (MS-SMB2 3.3.5.9.13, app_instance.c): a later
	 * open of the same file by another client naming it closes this one. */
	bool has_app_instance;
	uint8_t app_instance_id[16];
	uint32_t durable_timeout_ms;  /* Open.DurableOpenTimeout */
	uint64_t durable_expire_ms;   /* CLOCK_MONOTONIC ms at which the scavenger closes it */
	uint64_t durable_id_saved;    /* its persistent id, kept while unpublished (ids are cleared) */
	struct list_head durable_link;/* the durable table, guarded by its lock */

	/* I/O pool jobs on this open (io_pool.h) and its close, which waits
	 * for them (open_io_pin, open_close_file): a pwrite of a connection
	 * that is gone must not land after another client has opened the
	 * file (say with OVERWRITE) because the close let it in.  Atomics,
	 * no lock: pins are taken on the loop that dispatches the job and
	 * dropped on the loop that ends it; the close may run anywhere. */
	atomic_uint io_jobs;          /* jobs holding a pin */
	atomic_bool close_requested;  /* open_close_file was called */
	atomic_bool file_closed;      /* the close ran (claimed exactly once) */
};

/* Client-visible ids (open volatile/persistent ids, session ids) are written
 * under their table's lock but also read by code that holds another lock
 * (a lease or oplock break is built under the inode lock and names the
 * open's ids and session id).  Both ends use these relaxed atomic accesses:
 * a reader sees either the old or the new id, never a torn or racy value. */
static inline uint64_t smb_id_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void smb_id_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

void open_get(struct smbd_open *o);
void open_put(struct smbd_open *o);
/* Allocates ids and publishes a fully built open.  Returns 0, or -1 when the
 * per-connection limit is reached. */
int open_table_insert(struct smbd_open *o);
/* Finds a ready open by volatile id that belongs to tree t; checks the
 * persistent id too.  Returns it with a reference, or NULL. */
struct smbd_open *open_table_lookup(struct smbd_tree *t, uint64_t persistent_id, uint64_t volatile_id);
/* Unpublishes o (clears its ids) and drops the table's reference.  Returns
 * false if someone else already removed it. */
bool open_table_remove(struct smbd_open *o);
/* Publishes a reconnected durable open again (durable.c): the same
 * persistent id, a new volatile id; takes its own table reference.
 * Returns 0, or -1 when the per-connection limit is reached. */
int open_table_reinsert(struct smbd_open *o, uint64_t persistent_id);
/* Closes the open's file: byte-range locks, oplock or lease, its place
 * in the inode (share modes), delete-on-close, fd close.  Called once,
 * after removal, outside every lock.  When I/O pool jobs still hold the
 * open (open_io_pin) the close runs when the last of them ends, on that
 * job's loop thread, so that no data of the open lands after it; the
 * callers' references stay valid either way (each job holds one). */
void open_close_file(struct smbd_open *o);
/* An I/O pool job starts on o (dispatch.c): false when its close was
 * already requested (the request then fails as on a closed FileId). */
bool open_io_pin(struct smbd_open *o);
/* The job ended (conn.c, loop thread): runs the close if it waited for
 * this job.  The caller still holds its reference on o. */
void open_io_unpin(struct smbd_open *o);
/* Unpublishes and closes every open of a tree (tree disconnect, logoff,
 * connection teardown).  Takes open_lock only to unpublish. */
void open_table_close_tree(struct smbd_tree *t);

/* ------------------------------------------------------------------- inode
 *
 * One struct smbd_inode per open file, keyed by (dev, ino), in a hash table
 * (inode.c).  It is the MS-FSA "File" (and, for a named stream's data file,
 * the "Stream"): the opens on it, share modes, delete-pending, and what later
 * parts of issue 4 hang on it (byte-range locks, oplocks/leases).
 *
 * How to use it:
 *  - inode_lookup() returns an inode with a reference (creating it);
 *    inode_put() drops it.  Every open attached to an inode holds one
 *    reference (o->inode / o->stream_inode); a stream inode holds one on its
 *    base file's inode.
 *  - Everything below "lock" is guarded by in->lock (rank "inode", or
 *    "inode_stream" for a stream inode, which nests inside its base's).
 *    Take it only for short, non-blocking work: no file I/O, no network,
 *    and never call inode_put() while holding any inode lock (the final put
 *    takes the inode_table lock, which ranks below).
 *  - Walk in->opens only under in->lock; entries are struct smbd_open linked
 *    by inode_link (or stream_link on a stream inode).  An open is linked
 *    (inode_attach_open) once its access, share_access, create_options,
 *    is_dir and path are final; CREATE may still fail after that (e.g.
 *    overwrite error), in which case it is unlinked again before anyone
 *    sees its FileId.  So readers of the list may use those fields and
 *    nothing else (fd, ids) without checking o->ready.
 */
struct smbd_inode {
	atomic_int refcount;       /* owners: each open attached to it (1 per o->inode / o->stream_inode);
	                              each stream inode whose base it is (1); each caller between
	                              inode_lookup/inode_get and inode_put (1).  Drops to 0 only under
	                              the inode_table lock (inode_put), so lookups never revive a dying entry. */
	struct list_head hash_link; /* inode table bucket, guarded by the inode_table lock */
	dev_t dev; ino_t ino;      /* key, with generation and base; immutable */
	uint64_t generation;       /* vfs_file_generation of the file or stream data file (0: unknown) */
	struct smbd_inode *base;   /* owner: this inode (1 reference) for a stream's data file; else NULL */

	struct smb_mutex lock;     /* rank inode (inode_stream for stream inodes): guards all below */
	struct list_head opens;    /* attached opens: o->inode_link (o->stream_link on a stream inode) */
	unsigned nopens;           /* length of opens */
	bool delete_pending;       /* MS-FSA File.PendingDelete / Stream.PendingDelete: new opens fail with
	                              STATUS_DELETE_PENDING; the last close deletes the file */
	bool deleting;             /* the last close is unlinking the file right now */

	/* ---- byte-range locks (brl.c), MS-FSA Stream.ByteRangeLockList ----
	 * A stream inode has its own (locks are per data stream).  The lists
	 * start zeroed (calloc) and brl.c initialises them on first use, so an
	 * inode that never sees a lock costs nothing. */
	struct list_head brl_locks;    /* struct brl_lock: granted locks, in grant order */
	struct list_head brl_waiters;  /* struct brl_waiter: blocked LOCK requests, oldest first */
	struct list_head brl_seqs;     /* struct brl_seq: per-open LockSequenceArray (MS-SMB2 3.3.1.10) */

	/* ---- oplock / lease state (issue 4, later part) goes here ---- */
	/* Oplock and lease state (lease.c, see server/lease.h).  inode.c
	 * leaves these zeroed; lease.c initialises them on first use under
	 * lock.  oplock_grants: one struct lease_grant per open of this
	 * file (stream) that holds an oplock or uses a lease; break_waiters:
	 * CREATEs waiting for a break on this file to end. */
	struct list_head oplock_grants;
	struct list_head break_waiters;
};

/* inode.c */
/* Finds or creates the inode for (dev, ino, generation, base); returns it
 * with a reference.  generation is vfs_file_generation of the file (a
 * stream: of its data file); base (a stream's base file, or NULL) is
 * recorded on a new entry.  NULL on allocation failure. */
struct smbd_inode *inode_lookup(dev_t dev, ino_t ino, uint64_t generation, struct smbd_inode *base);
void inode_get(struct smbd_inode *in);
/* Drops a reference.  The final one (from any thread, holding no inode
 * lock) removes the entry from the table and frees memory only. */
void inode_put(struct smbd_inode *in);
/* Debug aid for a stuck server, run from a debugger: logs every file with
 * CREATEs waiting on a break (lease_debug_dump_inode). */
void smbd_debug_dump_waits(void);
/* Access bits that take part in share-mode checks (MS-FSA 2.1.5.1.2.2). */
#define INODE_SHARING_ACCESS (FILE_READ_DATA | FILE_EXECUTE | FILE_WRITE_DATA | FILE_APPEND_DATA | DELETE)
/* Checks delete-pending and share modes of o (access, share_access,
 * stream_inode set) against the opens already on o->inode (and
 * o->stream_inode), and on success links o into their lists, all under
 * the inode locks so two CREATEs cannot both pass.  Returns STATUS_SUCCESS,
 * STATUS_DELETE_PENDING or STATUS_SHARING_VIOLATION. */
uint32_t inode_attach_open(struct smbd_open *o);
/* Unlinks o from its inodes (under their locks).  When o was the last open
 * of a stream / file that is delete-pending (or o->delete_on_close makes it
 * so), returns true in *delete_stream / *delete_file: the caller deletes it
 * and then calls inode_delete_done().  Safe to call on a detached open. */
void inode_detach_open(struct smbd_open *o, bool *delete_file, bool *delete_stream);
void inode_delete_done(struct smbd_inode *in);
/* Reads the delete-pending state that applies to o (its stream's or file's). */
bool open_delete_pending(const struct smbd_open *o);
/* Sets/clears delete-pending on the inode o names (stream inode for stream
 * opens).  MS-FSA 2.1.5.14.3. */
void open_set_delete_pending(struct smbd_open *o, bool pending);
/* Number of attached opens on o's file (all streams) other than o. */
unsigned inode_other_opens(struct smbd_open *o);
/* True when an open on o's file other than o lacks FILE_SHARE_DELETE while
 * holding data/delete access, i.e. the file may not be renamed or deleted
 * under it (MS-FSA 2.1.5.14.11). */
bool inode_rename_blocked(struct smbd_open *o);
/* After o's file was renamed to new_path: points o and every other open of
 * the file (and of its streams) that used the same share and old name at
 * new_path, under the inode lock; old strings are retired, not freed (see
 * retired_paths). */
void inode_update_paths(struct smbd_open *o, const char *new_path);

/* Replaces o->path (takes new_path), retiring the old string. */
void open_set_path(struct smbd_open *o, char *new_path);
/* A renamed stream open now reads another stream data file: moves o from its
 * stream inode to new_sin, whose reference (from inode_lookup) it takes. */
void inode_move_stream(struct smbd_open *o, struct smbd_inode *new_sin);

/* brl.c: byte-range locks (MS-FSA 2.1.4.10, 2.1.5.8, 2.1.5.9; MS-SMB2
 * 3.3.5.14).  Locks live on the inode of the open's data stream
 * (o->stream_inode, else o->inode), guarded by its lock, and belong to the
 * open (an SMB2 lock's owner is its handle, MS-SMB2 2.2.26). */
/* MS-FSA 2.1.4.10 for one held lock: does access [off, off+len) with the
 * given intent (exclusive: an exclusive lock or a write; lock_intent: a
 * LOCK rather than READ/WRITE) conflict with it?  same_owner: the held lock
 * belongs to the open asking.  Pure; exported for the unit test. */
bool brl_range_conflict(uint64_t held_off, uint64_t held_len, bool held_exclusive, bool same_owner, uint64_t off,
			uint64_t len, bool exclusive, bool lock_intent);
/* True when [off, off+len) runs past 2^64 - 1 (MS-FSA 2.1.5.8: STATUS_INVALID_LOCK_RANGE). */
bool brl_range_invalid(uint64_t off, uint64_t len);
/* READ (write=false) / WRITE (write=true) of [off, off+len) through o:
 * STATUS_SUCCESS or STATUS_FILE_LOCK_CONFLICT (MS-FSA 2.1.5.2, 2.1.5.3). */
uint32_t brl_check_io(struct smbd_open *o, uint64_t off, uint64_t len, bool write);
/* Called when o is closed (open_close_file), before it leaves its inode:
 * releases o's locks and sequence state, detaches its blocked requests
 * (their async records then end with STATUS_RANGE_NOT_LOCKED) and grants
 * what the released ranges let through. */
void brl_close_open(struct smbd_open *o);
/* Persistent opens (durable.c) keep their locks in the state directory so
 * they survive a restart of the server (MS-SMB2 3.3.1.10: Open.IsPersistent;
 * the locks and the LockSequenceArray are part of the open's state that a
 * reconnect after failover expects to find).  brl_open_state copies o's
 * granted locks into a malloc'd array (*out, NULL when none; returns the
 * count) and its sequence entries into seq (seq[i] for index i, 1..64),
 * returning the valid mask in *seq_valid.  brl_restore_state puts them back
 * on a restored open before any other open can exist on its file. */
struct brl_range {
	uint64_t offset, length;
	bool exclusive;
};
size_t brl_open_state(const struct smbd_open *o, struct brl_range **out, uint64_t *seq_valid, uint8_t seq[65]);
int brl_restore_state(struct smbd_open *o, const struct brl_range *r, size_t n, uint64_t seq_valid,
		      const uint8_t seq[65]);

/* open.c: calls fn for each published open under the open_table lock
 * (fn must not block or take locks ranked at or below open_table); stops
 * when fn returns true and returns true. */
bool open_table_any(bool (*fn)(const struct smbd_open *o, void *arg), void *arg);

/* ----------------------------------------------------------------- request */

/* One command of a (possibly compound) request, as handed to a handler. */
struct smb2_request {
	struct smbd_conn *conn;
	struct smbd_session *session;   /* reference held by the dispatcher, or NULL */
	struct smbd_tree *tree;         /* reference held by the dispatcher, or NULL */
	struct smb2_hdr hdr;
	const uint8_t *msg;             /* this command's header */
	size_t msg_len;                 /* header + body, up to NextCommand or end of message */
	struct wbuf *out;               /* whole compound response being built */
	size_t out_hdr_off;             /* this response's header position in out */
	/* Compound related-operation file id (MS-SMB2 3.3.5.2.7.2): set by
	 * CREATE, consumed when a request carries FileId all-ones. */
	bool *have_related_fid;
	uint64_t *related_persistent, *related_volatile;
	/* Set by a handler that wants the connection dropped after responding. */
	bool disconnect;
	/* Set by handlers that return a status with a body (e.g. BUFFER_OVERFLOW). */
	bool body_written;
	/* Set by the dispatcher: this is the last command of its message, the
	 * only one of a compound allowed to go asynchronous (MS-SMB2 <262>). */
	bool last_in_chain;
	/* Set by smbd_go_async(): the request answers with an interim response. */
	struct smbd_async *async;
	/* The request arrived in a TRANSFORM_HEADER decrypted with this
	 * session's keys (Request.IsEncrypted, MS-SMB2 3.3.5.2.1.1): its
	 * responses, interim and final, go encrypted with the same session. */
	struct smbd_session *encrypted_by;  /* not counted: the dispatcher holds a reference */
	/* CREATE with a DH2Q context: its CreateGuid (smb2_create.c; points
	 * into the handler's own data, valid while the handler runs). */
	const uint8_t *create_guid;
};

/* Resolves a request FileId (handling compound related ids) to an open on
 * req->tree with a reference, or NULL (the handler returns STATUS_FILE_CLOSED). */
struct smbd_open *smb2_req_open(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id);
/* Records the FileId a CREATE produced for later related requests. */
void smb2_req_set_related_fid(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id);

/* Handlers: return an NTSTATUS.  On success (or a warning with a body) they
 * append the response body to req->out; on error they append nothing and the
 * dispatcher writes the error body. */
typedef uint32_t (*smb2_handler_fn)(struct smb2_request *req);

uint32_t smb2_negotiate(struct smb2_request *req);        /* smb2_negotiate.c */
uint32_t smb2_session_setup(struct smb2_request *req);    /* smb2_session_setup.c */
uint32_t smb2_logoff(struct smb2_request *req);           /* smb2_session_setup.c */
uint32_t smb2_tree_connect(struct smb2_request *req);     /* smb2_tree_connect.c */
uint32_t smb2_tree_disconnect(struct smb2_request *req);  /* smb2_tree_connect.c */
uint32_t smb2_create(struct smb2_request *req);           /* smb2_create.c */
uint32_t smb2_close(struct smb2_request *req);            /* smb2_close.c */
uint32_t smb2_flush(struct smb2_request *req);            /* smb2_flush.c */
uint32_t smb2_read(struct smb2_request *req);             /* smb2_read.c */
uint32_t smb2_write(struct smb2_request *req);            /* smb2_write.c */
uint32_t smb2_ioctl(struct smb2_request *req);            /* smb2_ioctl.c */
uint32_t smb2_echo(struct smb2_request *req);             /* smb2_echo.c */
uint32_t smb2_query_directory(struct smb2_request *req);  /* smb2_query_directory.c */
uint32_t smb2_query_info(struct smb2_request *req);       /* smb2_query_info.c */
uint32_t smb2_set_info(struct smb2_request *req);         /* smb2_set_info.c */
uint32_t smb2_change_notify(struct smb2_request *req);    /* smb2_notify.c */
uint32_t smb2_oplock_break(struct smb2_request *req);     /* smb2_oplock_break.c */
uint32_t smb2_lock(struct smb2_request *req);             /* smb2_lock.c */

/* ------------------------------------------------------ async requests
 *
 * A request that may block for a long time (LOCK, CHANGE_NOTIFY) goes
 * asynchronous (MS-SMB2 3.3.4.2): the handler calls smbd_go_async() and
 * returns STATUS_PENDING; the dispatcher then sends an interim response
 * (Status PENDING, SMB2_FLAGS_ASYNC_COMMAND, the new AsyncId, credits granted
 * as for any response, unsigned).  Later exactly one of these happens:
 *  - the operation finishes: its owner calls smbd_async_complete();
 *  - the client sends CANCEL (3.3.5.16), or the request's open, tree,
 *    session or connection goes away: the core calls the cancel function,
 *    which detaches the operation from whatever it waits on and returns the
 *    status to answer with (STATUS_CANCELLED for a CANCEL; e.g.
 *    STATUS_NOTIFY_CLEANUP for a closed handle); the core sends it.
 * Either way the record is freed by the core right after; the owner must
 * forget its pointer when it completes or is cancelled.
 *
 * Threads: everything here runs on the loop thread that owns req->conn.
 * Completions caused on another loop thread must be posted to the owner
 * (future cross-thread queue); they must not call smbd_async_complete. */

struct smbd_async;

enum smbd_async_reason {
	SMBD_ASYNC_CANCELLED,    /* client CANCEL: answer STATUS_CANCELLED */
	SMBD_ASYNC_CLOSED,       /* its open was closed */
	SMBD_ASYNC_TREE_GONE,    /* TREE_DISCONNECT */
	SMBD_ASYNC_SESSION_GONE, /* LOGOFF / session expired and torn down */
	SMBD_ASYNC_CONN_GONE,    /* connection torn down: nothing is sent */
};

/* Returns the status of the final response. */
typedef uint32_t (*smbd_async_cancel_fn)(struct smbd_async *a, enum smbd_async_reason why, void *arg);

/* Makes req asynchronous.  open (may be NULL) is the handle the operation
 * waits on; the record keeps a reference and ends the request with reason
 * SMBD_ASYNC_CLOSED once that handle is closed.  Returns STATUS_PENDING with
 * *out set (the handler returns STATUS_PENDING), or the status the handler
 * must fail the request with: STATUS_INTERNAL_ERROR when req is not the
 * last command of a compound (what Windows does, MS-SMB2 <262>),
 * STATUS_INSUFFICIENT_RESOURCES past the per-connection limit (3.3.4.2). */
uint32_t smbd_go_async(struct smb2_request *req, struct smbd_open *open, smbd_async_cancel_fn cancel, void *arg,
		       struct smbd_async **out);
/* Loop thread of c: the arg of a pending request of c whose cancel
 * function is cancel and for which match(arg, ctx) holds, or NULL.  The arg
 * is only borrowed: valid until the loop runs anything else. */
void *smbd_async_find(struct smbd_conn *c, smbd_async_cancel_fn cancel, bool (*match)(void *arg, const void *ctx),
		      const void *ctx);
/* Sends the final response (Status, AsyncId, CreditResponse 0 as 3.3.4.3
 * and 3.3.4.4 require, signed per 3.3.4.1.1) and frees a.  body/body_len is
 * the response body after the header; NULL for an error body. */
void smbd_async_complete(struct smbd_async *a, uint32_t status, const uint8_t *body, size_t body_len);
/* The command/request fields of a pending request, for its owner. */
uint64_t smbd_async_id(const struct smbd_async *a);
/* Ends, through their cancel functions, the pending requests of c that match
 * session / tree (NULL = any) for the given reason. */
void smbd_async_cancel_all(struct smbd_conn *c, const struct smbd_session *s, const struct smbd_tree *t,
			   enum smbd_async_reason why);

/* SMB1 NEGOTIATE that asks to upgrade to SMB2 (MS-SMB2 3.3.5.3). */
void smb1_negotiate(struct smbd_conn *c, const uint8_t *msg, size_t len);

/* -------------------------------------------------------------- named pipes */

/* pipe.c / srvsvc.c: an in-process DCE/RPC endpoint behind an IPC$ open. */
/* Returns NULL with *status set when the pipe name is unknown. */
struct smbd_pipe *pipe_open(const char *name, struct smbd_session *s, uint32_t *status);
void pipe_close(struct smbd_pipe *p);
/* WRITE on a pipe: feeds DCE/RPC fragments. */
uint32_t pipe_write(struct smbd_pipe *p, const uint8_t *data, size_t len);
/* READ on a pipe: appends up to max bytes of pending output to w; returns
 * STATUS_BUFFER_OVERFLOW if more remains, STATUS_PIPE_EMPTY if none. */
uint32_t pipe_read(struct smbd_pipe *p, struct wbuf *w, size_t max);

#endif
