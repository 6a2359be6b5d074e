/* Durable and persistent handles (MS-SMB2 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10,
 * 3.3.5.9.12; 2.2.13.2.3/.4/.11/.12, 2.2.14.2.3/.12).
 *
 * Model.  A durable open lives like any other while its connection is up.
 * When the connection goes (conn_teardown -> session_destroy -> tree_destroy
 * -> open_table_close_tree) the open is unpublished from the open table as
 * usual (ids cleared under open_lock), but instead of being closed it moves,
 * with the open table's reference, into the durable table below.  It keeps
 * its fd, its place in its inode's list of opens (so share modes still
 * apply), its byte-range locks and its oplock/lease grant.  A reconnect
 * (DHnC/DH2C) takes it out of the durable table and publishes it again with
 * the same persistent id and a new volatile id; the scavenger closes it when
 * its timeout passes.
 *
 * Locks.  "durable_table" (rank 55, common/lock.h) guards durable_list, each
 * listed open's durable_link and durable_expire_ms.  o->durable_disconnected
 * and the (tree, session, conn) of a disconnected or reconnecting open are
 * changed under the lock of the inode that carries its lease state (and the
 * base file's, for a stream), because lease.c reads o->session and
 * o->durable_disconnected of the opens on an inode under that lock.
 *
 * Why the scavenger cannot race a reconnect or a share-mode check (the ksmbd
 * bugs: a scavenger freeing an open that a lookup on the inode's open list
 * still walked, and a reconnect and an expiry both "winning"):
 *  - Ownership of a disconnected open is the durable table's reference.  It
 *    changes hands only by list_del under durable_lock: the scavenger (or a
 *    break that closes the open) and a reconnect both remove the open from
 *    the list under that lock, and only the one that found it listed goes
 *    on; the other sees it gone (reconnect answers OBJECT_NAME_NOT_FOUND).
 *  - The scavenger then closes outside durable_lock (DESIGN.md: unpublish,
 *    then tear down): open_close_file drops the lease grant and unlinks the
 *    open from its inode under the inode lock, before its reference is
 *    dropped.  A concurrent CREATE doing a share-mode check holds the same
 *    inode lock while it walks the list, so it sees the open either fully
 *    attached (and conflicts with it, as Windows does until the handle
 *    expires) or not at all; it never touches a freed open, because the
 *    open is freed only by the last open_put, after the unlink.
 *  - The fields a share check reads (access, share_access, create_options,
 *    is_dir, path) do not change on disconnect or reconnect.
 *  - A lease/oplock break that needs a disconnected open closed (lease.c)
 *    does not close it under the inode lock: it takes a reference, and after
 *    unlocking calls durable_close_disconnected, which only marks the entry
 *    expired and wakes the scavenger; if a reconnect got there first, the
 *    open is no longer listed and nothing happens.
 *
 * Persistent handles.  On a share with "continuously available = yes",
 * a DH2Q with the PERSISTENT flag gets a persistent open: its state is
 * written to "<state directory>/persistent/<id>.open" (temp file, fsync,
 * rename, fsync of the directory), removed when the open is closed for
 * good.  At start-up every record is re-opened (same share-relative path,
 * same access and share access, the same inode checked by device and inode
 * number) and put into the durable table, waiting for DH2C.  Persistent ids
 * never repeat across restarts: "<state directory>/epoch" is incremented at
 * each start and every file id is (epoch << 40) + counter.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/utf16.h"
#include "server/durable.h"
#include "server/loop.h"
#include "server/test_hook.h"
#include "server/vfs.h"
#include "wire/lease.h"

#define DEFAULT_STATE_DIR "/var/lib/smbkit"

static struct smb_mutex durable_lock;          /* rank durable_table */
static struct list_head durable_list;          /* struct smbd_open.durable_link, under durable_lock */
static pthread_cond_t scav_cond;               /* CLOCK_MONOTONIC, with durable_lock */
static bool scav_stop;                         /* under durable_lock */
static bool scav_running;
static pthread_t scav_thread;
static pthread_once_t durable_once = PTHREAD_ONCE_INIT;
static char *state_dir;                        /* set at start-up when persistent handles are on */
static bool persistent_ok;                     /* the store is usable */

static void durable_init(void)
{
	smb_mutex_init(&durable_lock, LOCK_RANK_DURABLE_TABLE, "durable_table");
	list_init(&durable_list);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&scav_cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* Takes the locks that guard o->durable_disconnected and o's (tree,
 * session, conn) as lease.c reads them: base inode, then stream inode. */
static void lock_open_inodes(struct smbd_open *o)
{
	if (o->inode) smb_mutex_lock(&o->inode->lock);
	if (o->stream_inode) smb_mutex_lock(&o->stream_inode->lock);
}

static void unlock_open_inodes(struct smbd_open *o)
{
	if (o->stream_inode) smb_mutex_unlock(&o->stream_inode->lock);
	if (o->inode) smb_mutex_unlock(&o->inode->lock);
}

/* ------------------------------------------------------ on-disk store */

static void hex_encode(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Decodes exactly n bytes of hex; returns 0 or -1. */
static int hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n) return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hex_val(s[2 * i]), b = hex_val(s[2 * i + 1]);
		if (a < 0 || b < 0) return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

/* Hex of a string (names may hold any byte but NUL); malloc'd. */
static char *hex_string(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 1);
	if (out) hex_encode(out, (const uint8_t *)s, n);
	return out;
}

static char *unhex_string(const char *h)
{
	size_t n = strlen(h);
	if (n % 2) return NULL;
	char *out = malloc(n / 2 + 1);
	if (!out) return NULL;
	if (hex_decode(h, (uint8_t *)out, n / 2) < 0 || memchr(out, 0, n / 2)) {
		free(out);
		return NULL;
	}
	out[n / 2] = 0;
	return out;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/') continue;
		*p = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
	return 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Writes data to dir/name atomically: temp file, fsync, rename, fsync dir. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[4096], dst[4096];
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR) continue;
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, dst) < 0) {
		unlink(tmp);
		return -1;
	}
	fsync_dir(dir);
	return 0;
}

static char *records_dir(void)
{
	char *d = NULL;
	if (asprintf(&d, "%s/persistent", state_dir) < 0) return NULL;
	return d;
}

static void record_name(char *out, size_t n, uint64_t id)
{
	snprintf(out, n, "%016" PRIx64 ".open", id);
}

/* Writes o's record (o is published, so its ids and session are set). */
static int record_write(struct smbd_open *o)
{
	if (!persistent_ok || !o->tree || !o->tree->share || !o->path) return -1;
	uint8_t level;
	struct smb2_lease_ctx l;
	lease_of_open(o, &level, &l);
	char *path_hex = hex_string(o->path);
	char *share_hex = hex_string(o->tree->share->name);
	const char *user = o->session && o->session->user ? o->session->user : "";
	char *user_hex = hex_string(user);
	char cg[33], clg[33], lk[33], pk[33];
	hex_encode(cg, o->create_guid, 16);
	hex_encode(clg, o->client_guid, 16);
	hex_encode(lk, l.key, 16);
	hex_encode(pk, l.parent_key, 16);
	/* Byte-range locks and the LockSequenceArray follow the fixed
	 * fields: "lock <offset> <length> <0|1 exclusive>" per lock and one
	 * "lockseq <valid mask> <64 numbers as hex>" line. */
	struct brl_range *locks = NULL;
	uint64_t seq_valid = 0;
	uint8_t seq[65];
	size_t nlocks = brl_open_state(o, &locks, &seq_valid, seq);
	char *lock_text = NULL;
	size_t lock_len = 0;
	FILE *lf = open_memstream(&lock_text, &lock_len);
	if (lf) {
		for (size_t i = 0; i < nlocks; i++)
			fprintf(lf, "lock %" PRIu64 " %" PRIu64 " %d\n", locks[i].offset, locks[i].length,
				locks[i].exclusive ? 1 : 0);
		if (seq_valid) {
			char seq_hex[129];
			hex_encode(seq_hex, seq + 1, 64);
			fprintf(lf, "lockseq %" PRIu64 " %s\n", seq_valid, seq_hex);
		}
		fclose(lf);
	}
	free(locks);
	char *text = NULL;
	int r = -1;
	if (path_hex && share_hex && user_hex && lock_text &&
	    asprintf(&text,
		     "smbkit-persistent-open 1\n"
		     "id %" PRIu64 "\nshare %s\npath %s\nuser %s\n"
		     "access %u\nshare_access %u\ncreate_options %u\nis_dir %d\n"
		     "dev %" PRIu64 "\nino %" PRIu64 "\ntimeout_ms %u\n"
		     "create_guid %s\nclient_guid %s\n"
		     "oplock %u\nlease_version %u\nlease_key %s\nlease_state %u\nlease_flags %u\n"
		     "lease_parent %s\nlease_epoch %u\n%s",
		     o->durable_id_saved, share_hex, path_hex, user_hex, o->access, o->share_access,
		     o->create_options, o->is_dir ? 1 : 0, (uint64_t)o->dev, (uint64_t)o->ino,
		     o->durable_timeout_ms, cg, clg, level, l.version, lk, l.state, l.flags, pk, l.epoch,
		     lock_text) >= 0) {
		char *dir = records_dir();
		char name[64];
		record_name(name, sizeof(name), o->durable_id_saved);
		if (dir) r = write_atomic(dir, name, text, strlen(text));
		free(dir);
	}
	free(text);
	free(lock_text);
	free(path_hex);
	free(share_hex);
	free(user_hex);
	return r;
}

void durable_locks_changed(struct smbd_open *o)
{
	if (!o->is_persistent || !o->durable_id_saved) return;
	if (record_write(o) < 0)
		log_warn("durable: cannot record the locks of persistent open %s: they will not survive a restart",
			 o->path ? o->path : "?");
}

static void record_remove(uint64_t id)
{
	char *dir = records_dir();
	if (!dir) return;
	char name[64], path[4200];
	record_name(name, sizeof(name), id);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) == 0) fsync_dir(dir);
	free(dir);
}

/* ----------------------------------------------------------- scavenger */

/* Closes an open nobody can reach any more (it left the durable table). */
static void close_unlisted(struct smbd_open *o)
{
	log_debug("durable: closing disconnected open %s (id %#" PRIx64 ")", o->path ? o->path : "?",
		  o->durable_id_saved);
	lock_open_inodes(o);
	o->durable_disconnected = false;
	unlock_open_inodes(o);
	open_close_file(o);
	open_put(o);   /* the durable table's reference */
}

static void *scavenger_main(void *arg)
{
	(void)arg;
	smb_mutex_lock(&durable_lock);
	while (!scav_stop) {
		uint64_t now = clock_monotonic_ms(), next = UINT64_MAX;
		struct smbd_open *due = NULL;
		struct list_head *pos;
		list_for_each(pos, &durable_list) {
			struct smbd_open *o = list_entry(pos, struct smbd_open, durable_link);
			if (o->durable_expire_ms <= now) {
				due = o;
				break;
			}
			if (o->durable_expire_ms < next) next = o->durable_expire_ms;
		}
		if (due) {
			/* Unpublish under the lock, close outside it. */
			list_del(&due->durable_link);
			list_init(&due->durable_link);
			smb_mutex_unlock(&durable_lock);
			close_unlisted(due);
			smb_mutex_lock(&durable_lock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&scav_cond, &durable_lock.m);
		} else {
			struct timespec ts = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000L };
			pthread_cond_timedwait(&scav_cond, &durable_lock.m, &ts);
		}
	}
	smb_mutex_unlock(&durable_lock);
	return NULL;
}

unsigned durable_close_matching(bool (*match)(const struct smbd_open *o, const void *arg), const void *arg)
{
	pthread_once(&durable_once, durable_init);
	unsigned n = 0;
	for (;;) {
		struct smbd_open *found = NULL;
		smb_mutex_lock(&durable_lock);
		struct list_head *pos;
		list_for_each(pos, &durable_list) {
			struct smbd_open *x = list_entry(pos, struct smbd_open, durable_link);
			if (match(x, arg)) {
				found = x;
				break;
			}
		}
		if (found) {
			/* Ours now, as for the scavenger: unlisted under the
			 * lock, closed outside it. */
			list_del(&found->durable_link);
			list_init(&found->durable_link);
		}
		smb_mutex_unlock(&durable_lock);
		if (!found) return n;
		close_unlisted(found);
		n++;
	}
}

static void table_add(struct smbd_open *o, uint64_t expire)
{
	smb_mutex_lock(&durable_lock);
	o->durable_expire_ms = expire;
	list_add_tail(&o->durable_link, &durable_list);
	pthread_cond_signal(&scav_cond);
	smb_mutex_unlock(&durable_lock);
}

void durable_close_disconnected(struct smbd_open *o)
{
	pthread_once(&durable_once, durable_init);
	smb_mutex_lock(&durable_lock);
	if (o->durable_link.next && !list_empty(&o->durable_link)) {
		o->durable_expire_ms = 0;
		pthread_cond_signal(&scav_cond);
	}
	smb_mutex_unlock(&durable_lock);
}

/* ------------------------------------------------------ create contexts */

uint32_t durable_parse(const struct smb2_request *req, const struct smb2_create_req *cr, struct durable_request *dr)
{
	memset(dr, 0, sizeof(*dr));
	const struct smb2_create_context *q1 = NULL, *c1 = NULL, *q2 = NULL, *c2 = NULL;
	for (unsigned i = 0; i < cr->nctx; i++) {
		const struct smb2_create_context *c = &cr->ctx[i];
		if (c->name_len != 4) continue;
		if (!memcmp(c->name, SMB2_CREATE_DURABLE_HANDLE_REQUEST, 4)) q1 = c;
		else if (!memcmp(c->name, SMB2_CREATE_DURABLE_HANDLE_RECONNECT, 4)) c1 = c;
		else if (!memcmp(c->name, SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2, 4)) q2 = c;
		else if (!memcmp(c->name, SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2, 4)) c2 = c;
	}
	/* v2 needs SMB 3.x; a 2.x server ignores contexts it does not know. */
	if (req->conn->dialect < SMB2_DIALECT_300) q2 = c2 = NULL;
	/* 3.3.5.9.6 / .7 / .10 / .12: v1 and v2 contexts do not mix, and a
	 * request and a reconnect of v2 do not either. */
	if (c1) {
		if (q2 || c2) return STATUS_INVALID_PARAMETER;
		if (c1->data_len != 16) return STATUS_INVALID_PARAMETER;   /* 2.2.13.2.4 */
		dr->reconnect = 1;
		dr->persistent_id = get_le64(c1->data);
		dr->volatile_id = get_le64(c1->data + 8);
		return STATUS_SUCCESS;   /* a DHnQ alongside is ignored */
	}
	if ((q1 && (q2 || c2)) || (q2 && c2)) return STATUS_INVALID_PARAMETER;
	if (c2) {
		if (c2->data_len != 36) return STATUS_INVALID_PARAMETER;   /* 2.2.13.2.12 */
		dr->reconnect = 2;
		dr->persistent_id = get_le64(c2->data);
		dr->volatile_id = get_le64(c2->data + 8);
		memcpy(dr->create_guid, c2->data + 16, 16);
		dr->flags = get_le32(c2->data + 32);
		return STATUS_SUCCESS;
	}
	if (q2) {
		if (q2->data_len != 32) return STATUS_INVALID_PARAMETER;   /* 2.2.13.2.11 */
		dr->request = 2;
		dr->timeout_ms = get_le32(q2->data);
		dr->flags = get_le32(q2->data + 4);
		memcpy(dr->create_guid, q2->data + 16, 16);
		dr->replay = (req->hdr.flags & SMB2_FLAGS_REPLAY_OPERATION) != 0;
		return STATUS_SUCCESS;
	}
	if (q1) {
		if (q1->data_len != 16) return STATUS_INVALID_PARAMETER;   /* 2.2.13.2.3 */
		dr->request = 1;
	}
	return STATUS_SUCCESS;
}

static bool share_ca(const struct smbd_share *sh, const struct smbd_conn *c)
{
	return sh && sh->continuously_available && persistent_ok &&
	       (c->server_capabilities & SMB2_GLOBAL_CAP_PERSISTENT_HANDLES);
}

void durable_grant(struct smb2_request *req, struct smbd_open *o, struct durable_request *dr,
		   const struct lease_response *lrsp, struct smb2_create_context *ctx, unsigned *n)
{
	if (!dr->request || o->is_dir || o->pipe) return;
	struct smbd_conn *c = req->conn;
	bool persistent = dr->request == 2 && (dr->flags & SMB2_DHANDLE_FLAG_PERSISTENT) &&
			  share_ca(req->tree->share, c);
	/* 3.3.5.9.6 / 3.3.5.9.10: durable only with handle caching (a batch
	 * oplock or a lease with H); what counts is what was granted. */
	bool handle_cached = lrsp->has_lease ? (get_le32(lrsp->ctx + 16) & SMB2_LEASE_HANDLE_CACHING) != 0
					     : lrsp->oplock_level == SMB2_OPLOCK_LEVEL_BATCH;
	if (!persistent && !handle_cached) return;
	o->durable = dr->request;
	o->is_persistent = persistent;
	memcpy(o->client_guid, c->client_guid, 16);
	if (dr->request == 2) {
		memcpy(o->create_guid, dr->create_guid, 16);
		uint32_t t = dr->timeout_ms ? dr->timeout_ms : DURABLE_DEFAULT_TIMEOUT_MS;
		if (t > DURABLE_MAX_TIMEOUT_MS) t = DURABLE_MAX_TIMEOUT_MS;
		o->durable_timeout_ms = t;
		/* 2.2.14.2.12: Timeout, Flags. */
		put_le32(dr->dh2q_rsp, t);
		put_le32(dr->dh2q_rsp + 4, persistent ? SMB2_DHANDLE_FLAG_PERSISTENT : 0);
		ctx[(*n)++] = (struct smb2_create_context){ (const uint8_t *)"DH2Q", 4, dr->dh2q_rsp, 8 };
	} else {
		o->durable_timeout_ms = DURABLE_DEFAULT_TIMEOUT_MS;
		memset(dr->dhnq_rsp, 0, 8);   /* 2.2.14.2.3: 8 reserved bytes */
		ctx[(*n)++] = (struct smb2_create_context){ (const uint8_t *)"DHnQ", 4, dr->dhnq_rsp, 8 };
	}
}

void durable_published(struct smbd_open *o)
{
	if (!o->durable) return;
	o->durable_id_saved = o->persistent_id;
	if (o->is_persistent && record_write(o) < 0) {
		log_warn("durable: cannot record persistent open %s in %s: it will not survive a restart",
			 o->path ? o->path : "?", state_dir ? state_dir : "(no state directory)");
	}
}

void durable_open_closed(struct smbd_open *o)
{
	if (o->is_persistent && o->durable_id_saved) record_remove(o->durable_id_saved);
}

void durable_set_resilient(struct smbd_open *o, uint32_t timeout_ms)
{
	/* The id the reconnect will name; the open table clears the live one
	 * when the connection goes.  Nobody else reads it before the open is
	 * in the durable table. */
	o->durable_id_saved = smb_id_load(&o->persistent_id);
	atomic_store(&o->resiliency_timeout_ms, timeout_ms);
}

bool durable_disconnect(struct smbd_open *o)
{
	uint32_t resilient_ms = atomic_load(&o->resiliency_timeout_ms);
	if ((!o->durable && !resilient_ms) || !o->inode || !o->session) return false;
	/* A lost connection or the end of the session (LOGOFF, as Windows
	 * does: smb2.durable-open.reopen4) keeps the open; TREE_DISCONNECT
	 * closes it (reopen3).  session_destroy marks the session expired
	 * before it tears its trees down. */
	struct smbd_conn *c = o->session->conn;
	if (o->session->state != SESSION_EXPIRED && (!c || !conn_is_dead(c))) return false;
	pthread_once(&durable_once, durable_init);
	lock_open_inodes(o);
	/* A break that waits for this client's acknowledgement can never
	 * get it now: like a break reaching a disconnected open (lease.c),
	 * the open is closed, and the CREATE waiting for it goes on.  Checked
	 * under the inode lock, so no break can begin between the check and
	 * the open becoming disconnected. */
	if (lease_open_breaking_locked(o)) {
		unlock_open_inodes(o);
		return false;
	}
	o->durable_disconnected = true;
	o->conn = NULL;
	unlock_open_inodes(o);
	/* 3.3.7.1: a resilient open is kept for Open.ResiliencyTimeout. */
	if (resilient_ms) o->durable_timeout_ms = resilient_ms;
	log_debug("durable: %s (id %#" PRIx64 ") disconnected, kept %u ms", o->path ? o->path : "?",
		  o->durable_id_saved, o->durable_timeout_ms);
	table_add(o, clock_monotonic_ms() + o->durable_timeout_ms);
	return true;
}

/* ------------------------------------------------------------ reconnect */

/* Writes the CREATE response naming the existing open o (a reconnect or a
 * replay): its file's current attributes, with the given oplock level, the
 * lease context when lease is not NULL, and the DH2Q response when dh2q. */
static uint32_t answer_with_open(struct smb2_request *req, struct smbd_open *o, uint8_t oplock_level,
				 const struct smb2_lease_ctx *lease, uint32_t create_action, bool dh2q)
{
	struct smb_file_stat st;
	int r = open_fstat(o, &st);
	if (r < 0) return ntstatus_from_errno(-r);
	struct smb2_create_rsp rsp = { 0 };
	rsp.oplock_level = oplock_level;
	rsp.create_action = create_action;
	rsp.basics = smb_file_basics(&st);
	rsp.persistent_id = o->persistent_id;
	rsp.volatile_id = o->volatile_id;
	struct smb2_create_context ctx[2];
	uint8_t lctx[SMB2_LEASE_V2_SIZE], dctx[8];
	unsigned n = 0;
	if (lease) {
		size_t len = smb2_lease_ctx_encode(lctx, lease);
		ctx[n++] = (struct smb2_create_context){ (const uint8_t *)"RqLs", 4, lctx, (uint32_t)len };
	}
	if (dh2q) {
		/* 2.2.14.2.12: Timeout, Flags. */
		put_le32(dctx, o->durable_timeout_ms);
		put_le32(dctx + 4, o->is_persistent ? SMB2_DHANDLE_FLAG_PERSISTENT : 0);
		ctx[n++] = (struct smb2_create_context){ (const uint8_t *)"DH2Q", 4, dctx, 8 };
	}
	rsp.ctx = ctx;
	rsp.nctx = n;
	smb2_req_set_related_fid(req, o->persistent_id, o->volatile_id);
	smb2_create_rsp_encode(req->out, req->out_hdr_off, &rsp);
	return STATUS_SUCCESS;
}

/* The CREATE response to a reconnect of o: its current state. */
static uint32_t answer_reconnect(struct smb2_request *req, struct smbd_open *o)
{
	uint8_t level;
	struct smb2_lease_ctx l;
	lease_of_open(o, &level, &l);
	return answer_with_open(req, o, level, level == SMB2_OPLOCK_LEVEL_LEASE ? &l : NULL, FILE_OPENED, false);
}

/* Under durable_lock: may req reclaim o?  STATUS_SUCCESS or the failure. */
static uint32_t reconnect_check(struct smb2_request *req, struct smbd_open *o, const struct durable_request *dr,
				const struct lease_request *lr, const char *name)
{
	struct smbd_conn *c = req->conn;
	/* DH2C names the CreateGuid (all zero for an open made with DHnQ,
	 * which Windows also lets DH2C reclaim: smb2.durable-open.reopen2-lease). */
	if (dr->reconnect == 2) {
		if (memcmp(dr->create_guid, o->create_guid, 16)) return STATUS_OBJECT_NAME_NOT_FOUND;
		/* 3.3.5.9.12: the persistent flag must match the open's. */
		if (((dr->flags & SMB2_DHANDLE_FLAG_PERSISTENT) != 0) != o->is_persistent)
			return STATUS_OBJECT_NAME_NOT_FOUND;
	}
	/* The same share. */
	if (!o->tree || !o->tree->share || strcasecmp(o->tree->share->name, req->tree->share->name))
		return STATUS_OBJECT_NAME_NOT_FOUND;
	uint8_t level;
	struct smb2_lease_ctx l;
	lease_of_open(o, &level, &l);
	if (level == SMB2_OPLOCK_LEVEL_LEASE) {
		/* 3.3.5.9.7 / .12: a lease open comes back to the same client,
		 * asking for the same lease. */
		if (memcmp(o->client_guid, c->client_guid, 16)) return STATUS_OBJECT_NAME_NOT_FOUND;
		if (!lr->has_lease || memcmp(lr->lease.key, l.key, 16)) return STATUS_OBJECT_NAME_NOT_FOUND;
		/* 3.3.5.9.7: Lease.FileName must match the request's name
		 * (unless the file is going away). */
		if (!o->delete_on_close && (!name || !o->path || strcasecmp(name, o->path)))
			return STATUS_INVALID_PARAMETER;
	} else if (lr->has_lease) {
		return STATUS_OBJECT_NAME_NOT_FOUND;
	}
	/* The same security principal (3.3.5.9.7: STATUS_ACCESS_DENIED). */
	const char *was = o->session ? o->session->user : NULL;
	const char *now = req->session->user;
	if ((was == NULL) != (now == NULL) || (was && strcasecmp(was, now))) return STATUS_ACCESS_DENIED;
	return STATUS_SUCCESS;
}

/* The request's name, share-relative with '/' (NULL when invalid). */
static char *request_name(const struct smb2_create_req *cr)
{
	char *u = cr->name_len ? utf16le_to_utf8(cr->name, cr->name_len, NULL) : strdup("");
	if (!u) return NULL;
	for (char *p = u; *p; p++)
		if (*p == '\\') *p = '/';
	return u;
}

/* Test hook, debug builds only: SMBKIT_TEST_RECONNECT_PAUSE_MS makes a
 * reconnect wait between re-attaching the open and publishing it, the
 * window in which a break finds the open connected but unreachable
 * (tests/stress/stress.py reconnect-break checks lease_open_published). */
static void test_pause_before_publish(void)
{
	test_hook_pause("SMBKIT_TEST_RECONNECT_PAUSE_MS");
}

uint32_t durable_reconnect(struct smb2_request *req, const struct smb2_create_req *cr,
			   const struct durable_request *dr, const struct lease_request *lr)
{
	pthread_once(&durable_once, durable_init);
	char *name = request_name(cr);
	struct smbd_open *o = NULL;
	uint32_t status = STATUS_OBJECT_NAME_NOT_FOUND;
	smb_mutex_lock(&durable_lock);
	struct list_head *pos;
	list_for_each(pos, &durable_list) {
		struct smbd_open *x = list_entry(pos, struct smbd_open, durable_link);
		if (x->durable_id_saved == dr->persistent_id) {
			o = x;
			break;
		}
	}
	if (o) {
		status = reconnect_check(req, o, dr, lr, name);
		if (status == STATUS_SUCCESS) {
			/* Ours now: neither the scavenger nor another
			 * reconnect can find it any more. */
			list_del(&o->durable_link);
			list_init(&o->durable_link);
		} else {
			o = NULL;
		}
	}
	smb_mutex_unlock(&durable_lock);
	free(name);
	if (!o) {
		log_debug("durable: reconnect of id %#" PRIx64 " refused: %s", dr->persistent_id, ntstatus_name(status));
		return status;
	}
	/* Re-attach to the new session and tree, under the inode locks that
	 * lease.c reads them with. */
	struct smbd_tree *old_tree = o->tree;
	struct smbd_session *old_session = o->session;
	tree_get(req->tree);
	session_get(req->session);
	lock_open_inodes(o);
	if (o->durable_doomed) {
		/* A break reached it while disconnected and queued its close
		 * (lease.c), which found it off the table: it goes back, due
		 * now, and this reconnect fails as if the close had won. */
		unlock_open_inodes(o);
		tree_put(req->tree);
		session_put(req->session);
		table_add(o, 0);
		log_debug("durable: reconnect of %s lost to a break that closes it", o->path ? o->path : "?");
		return STATUS_OBJECT_NAME_NOT_FOUND;
	}
	o->tree = req->tree;
	o->session = req->session;
	o->conn = req->conn;
	o->durable_disconnected = false;
	unlock_open_inodes(o);
	tree_put(old_tree);
	session_put(old_session);
	test_pause_before_publish();
	if (open_table_reinsert(o, o->durable_id_saved) < 0) {
		/* Too many opens on this connection: it stays reclaimable. */
		lock_open_inodes(o);
		o->durable_disconnected = true;
		o->conn = NULL;
		unlock_open_inodes(o);
		table_add(o, clock_monotonic_ms() + o->durable_timeout_ms);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	open_put(o);   /* the durable table's reference; the open table has its own */
	log_debug("durable: %s reconnected (id %#" PRIx64 ", fid %" PRIu64 ")", o->path ? o->path : "?",
		  o->persistent_id, o->volatile_id);
	/* The lease/oplock grant stayed on the inode: it is restored as it
	 * was (a break in progress shows as SMB2_LEASE_FLAG_BREAK_IN_PROGRESS). */
	uint32_t st = answer_reconnect(req, o);
	/* Now that it is published, a break that began in between reaches it. */
	lease_open_published(o, true);
	return st;
}

/* ---------------------------------------------------------------- replay */

struct replay_match {
	const uint8_t *guid, *client_guid;
	struct smbd_open *found;   /* with a reference */
};

static bool replay_fn(const struct smbd_open *o, void *arg)
{
	struct replay_match *m = arg;
	if (!o->has_create_guid || !atomic_load(&o->replay_eligible) || memcmp(o->create_guid, m->guid, 16) ||
	    memcmp(o->client_guid, m->client_guid, 16))
		return false;
	/* Under open_lock, the open is published: take a reference. */
	struct smbd_open *x = (struct smbd_open *)o;
	open_get(x);
	m->found = x;
	return true;
}

/* The CREATE response to a replay that found o (3.3.5.9.10): the original
 * CreateAction and the open's present state, seen through what the replay
 * asks for (Windows; smbtorture smb2.replay.replay-dhv2-*):
 *  - a lease request must name the open's lease: it gets the lease's
 *    current state, whatever state it asks for; a lease asked of an open
 *    without one (or with another key) is STATUS_ACCESS_DENIED;
 *  - an oplock request gets the lower of what it asks and what the open
 *    holds, and the open keeps its oplock;
 *  - the durable context comes back when that answer allows durability.
 * Nothing about the open changes. */
static uint32_t answer_replay(struct smb2_request *req, struct smbd_open *o, const struct lease_request *lr)
{
	uint8_t held;
	struct smb2_lease_ctx l;
	lease_of_open(o, &held, &l);
	bool held_lease = held == SMB2_OPLOCK_LEVEL_LEASE;
	if (lr->has_lease && (!held_lease || memcmp(lr->lease.key, l.key, 16))) return STATUS_ACCESS_DENIED;
	uint8_t level;
	bool durable_ok;
	if (lr->has_lease) {
		level = SMB2_OPLOCK_LEVEL_LEASE;
		durable_ok = (l.state & SMB2_LEASE_HANDLE_CACHING) != 0;
	} else {
		/* NONE < II < EXCLUSIVE < BATCH, also numerically; an open
		 * with a lease holds no oplock. */
		uint8_t want = lr->oplock_level == SMB2_OPLOCK_LEVEL_LEASE ? SMB2_OPLOCK_LEVEL_NONE : lr->oplock_level;
		uint8_t have = held_lease ? SMB2_OPLOCK_LEVEL_NONE : held;
		level = want < have ? want : have;
		durable_ok = level == SMB2_OPLOCK_LEVEL_BATCH;
	}
	return answer_with_open(req, o, level, lr->has_lease ? &l : NULL,
				o->create_action ? o->create_action : FILE_OPENED,
				o->durable == 2 && (durable_ok || o->is_persistent));
}

bool durable_replay(struct smb2_request *req, const struct durable_request *dr, const struct lease_request *lr,
		    uint32_t *status)
{
	if (dr->request != 2 || !dr->replay) return false;
	struct replay_match m = { dr->create_guid, req->conn->client_guid, NULL };
	if (open_table_any(replay_fn, &m)) {
		struct smbd_open *o = m.found;
		if (o->tree != req->tree || o->session != req->session) {
			/* 3.3.5.9.10: a replay on another session/tree is a new request. */
			open_put(o);
			return false;
		}
		*status = answer_replay(req, o, lr);
		open_put(o);
		return true;
	}
	/* The original is still waiting for a holder to give up its oplock
	 * or lease: Windows refuses the replay at once with ACCESS_DENIED
	 * (smbtorture smb2.replay.dhv2-pending1*-windows; Samba answers
	 * FILE_NOT_AVAILABLE).  One waiting for a sharing violation to clear
	 * is not seen: the replay runs as a new CREATE and waits as well. */
	if (lease_create_replay_pending(req, dr->create_guid)) {
		*status = STATUS_ACCESS_DENIED;
		return true;
	}
	return false;
}

/* ------------------------------------------------------ start / restore */

static uint64_t read_epoch(void)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/epoch", state_dir);
	FILE *f = fopen(path, "re");
	uint64_t e = 0;
	if (f) {
		if (fscanf(f, "%" SCNu64, &e) != 1) e = 0;
		fclose(f);
	}
	return e;
}

/* A session and tree that stand for the ones a restored open had before
 * the restart; unpublished (ids 0), only the open refers to them. */
static struct smbd_tree *ghost_tree(struct smbd_share *sh, const char *user)
{
	struct smbd_session *s = calloc(1, sizeof(*s));
	struct smbd_tree *t = calloc(1, sizeof(*t));
	if (!s || !t) {
		free(s);
		free(t);
		return NULL;
	}
	atomic_init(&s->refcount, 1);   /* the tree's */
	smb_mutex_init(&s->lock, LOCK_RANK_SESSION, "session");
	list_init(&s->trees);
	list_init(&s->global_link);
	list_init(&s->conn_link);
	s->state = SESSION_EXPIRED;
	if (*user) s->user = strdup(user);
	atomic_init(&t->refcount, 1);   /* the caller's */
	share_get(sh);
	t->share = sh;
	t->session = s;
	list_init(&t->link);
	return t;
}

struct record {
	uint64_t id, dev, ino;
	char *share, *path, *user;
	uint32_t access, share_access, create_options, timeout_ms;
	int is_dir;
	uint8_t create_guid[16], client_guid[16];
	unsigned oplock;
	struct smb2_lease_ctx lease;
	struct brl_range *locks;        /* malloc'd, nlocks entries */
	size_t nlocks;
	uint64_t seq_valid;
	uint8_t seq[65];
};

static int record_parse(FILE *f, struct record *r)
{
	char line[8192];
	memset(r, 0, sizeof(*r));
	bool header = false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *sp = strchr(line, ' ');
		if (!sp) continue;
		*sp = 0;
		const char *k = line, *v = sp + 1;
		unsigned long long u = strtoull(v, NULL, 10);
		if (!strcmp(k, "smbkit-persistent-open")) header = u == 1;
		else if (!strcmp(k, "id")) r->id = u;
		else if (!strcmp(k, "share")) r->share = unhex_string(v);
		else if (!strcmp(k, "path")) r->path = unhex_string(v);
		else if (!strcmp(k, "user")) r->user = unhex_string(v);
		else if (!strcmp(k, "access")) r->access = (uint32_t)u;
		else if (!strcmp(k, "share_access")) r->share_access = (uint32_t)u;
		else if (!strcmp(k, "create_options")) r->create_options = (uint32_t)u;
		else if (!strcmp(k, "is_dir")) r->is_dir = (int)u;
		else if (!strcmp(k, "dev")) r->dev = u;
		else if (!strcmp(k, "ino")) r->ino = u;
		else if (!strcmp(k, "timeout_ms")) r->timeout_ms = (uint32_t)u;
		else if (!strcmp(k, "create_guid")) hex_decode(v, r->create_guid, 16);
		else if (!strcmp(k, "client_guid")) hex_decode(v, r->client_guid, 16);
		else if (!strcmp(k, "oplock")) r->oplock = (unsigned)u;
		else if (!strcmp(k, "lease_version")) r->lease.version = (uint8_t)u;
		else if (!strcmp(k, "lease_key")) hex_decode(v, r->lease.key, 16);
		else if (!strcmp(k, "lease_state")) r->lease.state = (uint32_t)u;
		else if (!strcmp(k, "lease_flags")) r->lease.flags = (uint32_t)u;
		else if (!strcmp(k, "lease_parent")) hex_decode(v, r->lease.parent_key, 16);
		else if (!strcmp(k, "lease_epoch")) r->lease.epoch = (uint16_t)u;
		else if (!strcmp(k, "lock")) {
			unsigned long long off, len;
			int excl;
			if (sscanf(v, "%llu %llu %d", &off, &len, &excl) != 3 || r->nlocks >= 1u << 20) return -1;
			struct brl_range *nl = realloc(r->locks, (r->nlocks + 1) * sizeof(*nl));
			if (!nl) return -1;
			r->locks = nl;
			r->locks[r->nlocks++] = (struct brl_range){ off, len, excl != 0 };
		} else if (!strcmp(k, "lockseq")) {
			const char *hex = strchr(v, ' ');
			if (!hex || strlen(hex + 1) != 128 || hex_decode(hex + 1, r->seq + 1, 64) < 0) return -1;
			r->seq_valid = u;
		}
	}
	if (!header || !r->id || !r->share || !r->path || !r->user) return -1;
	if (r->timeout_ms == 0 || r->timeout_ms > DURABLE_MAX_TIMEOUT_MS) r->timeout_ms = DURABLE_DEFAULT_TIMEOUT_MS;
	return 0;
}

static void record_free(struct record *r)
{
	free(r->locks);
	free(r->share);
	free(r->path);
	free(r->user);
}

/* Re-opens one recorded open and lists it in the durable table. */
static int restore_one(struct smbd_config *cfg, struct record *r)
{
	struct smbd_share *sh = config_find_share(cfg, r->share);
	if (!sh) return -1;
	if (sh->ipc || sh->root_fd < 0 || !sh->continuously_available || r->is_dir || strchr(r->path, ':')) {
		share_put(sh);
		return -1;
	}
	bool w = r->access & (FILE_WRITE_DATA | FILE_APPEND_DATA);
	bool rd = r->access & (FILE_READ_DATA | FILE_EXECUTE);
	int fd = vfs_open(sh, r->path, (w ? O_RDWR : O_RDONLY) | O_NOCTTY, 0, NULL);
	if (fd < 0 && !w && !rd) fd = vfs_open(sh, r->path, O_PATH, 0, NULL);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
		/* Gone or replaced while the server was down. */
		if (fd >= 0) close(fd);
		share_put(sh);
		return -1;
	}
	struct smbd_tree *t = ghost_tree(sh, r->user);
	share_put(sh);
	struct smbd_open *o = t ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		close(fd);
		if (t) tree_put(t);
		return -1;
	}
	atomic_init(&o->refcount, 1);   /* the durable table's */
	list_init(&o->link);
	list_init(&o->durable_link);
	o->fd = fd;
	o->tree = t;                    /* the caller's reference goes to the open */
	o->session = t->session;
	session_get(o->session);
	o->path = r->path;
	r->path = NULL;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->access = r->access;
	o->share_access = r->share_access;
	o->create_options = r->create_options;
	o->durable = 2;
	o->is_persistent = true;
	o->durable_disconnected = true;
	memcpy(o->create_guid, r->create_guid, 16);
	o->has_create_guid = true;
	atomic_init(&o->replay_eligible, true);   /* persistent: stays eligible (3.3.5.22) */
	o->create_action = FILE_OPENED;
	memcpy(o->client_guid, r->client_guid, 16);
	o->durable_timeout_ms = r->timeout_ms;
	o->durable_id_saved = r->id;
	o->inode = inode_lookup(o->dev, o->ino, vfs_file_generation(fd), NULL);
	if (!o->inode || inode_attach_open(o) != STATUS_SUCCESS) {
		o->is_persistent = false;   /* keep the record: another start may do better */
		open_put(o);
		return -1;
	}
	lease_restore(o, (uint8_t)r->oplock, &r->lease);
	if (brl_restore_state(o, r->locks, r->nlocks, r->seq_valid, r->seq) < 0)
		log_warn("durable: persistent open %s lost some of its byte-range locks (out of memory)", r->path);
	table_add(o, clock_monotonic_ms() + o->durable_timeout_ms);
	log_info("durable: restored persistent open %s on [%s] (id %#" PRIx64 "), reclaimable for %u ms", o->path,
		 r->share, r->id, o->durable_timeout_ms);
	return 0;
}

static void restore_all(struct smbd_config *cfg)
{
	char *dir = records_dir();
	if (!dir) return;
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return;
	}
	struct dirent *e;
	uint64_t max_id = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".open") || e->d_name[0] == '.') continue;
		char path[4600];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f) continue;
		struct record r;
		int ok = record_parse(f, &r);
		fclose(f);
		if (ok == 0 && restore_one(cfg, &r) == 0) {
			if (r.id > max_id) max_id = r.id;
		} else {
			log_warn("durable: dropping persistent record %s (file gone, changed or unreadable)", e->d_name);
			unlink(path);
		}
		record_free(&r);
	}
	closedir(d);
	free(dir);
	/* Never hand out an id at or below a restored one. */
	uint64_t cur = atomic_load(&g_server.next_file_id);
	if (max_id >= cur) atomic_store(&g_server.next_file_id, max_id + 1);
}

void durable_startup(struct smbd_config *cfg)
{
	pthread_once(&durable_once, durable_init);
	bool any_ca = false;
	for (size_t i = 0; i < cfg->nshares; i++)
		if (cfg->shares[i]->continuously_available) any_ca = true;
	if (any_ca) {
		state_dir = strdup(cfg->state_dir ? cfg->state_dir : DEFAULT_STATE_DIR);
		char *dir = state_dir ? records_dir() : NULL;
		if (dir && mkdir_p(dir) == 0) {
			/* A new epoch per start: ids of earlier runs never come back. */
			uint64_t epoch = read_epoch() + 1;
			char text[32];
			int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", epoch);
			if (write_atomic(state_dir, "epoch", text, (size_t)len) == 0) {
				persistent_ok = true;
				atomic_store(&g_server.next_file_id, epoch << 40);
				restore_all(cfg);
			}
		}
		free(dir);
		if (!persistent_ok)
			log_error("durable: state directory %s unusable (%s); persistent handles are off",
				  state_dir ? state_dir : "?", strerror(errno));
	}
	if (pthread_create(&scav_thread, NULL, scavenger_main, NULL) == 0) scav_running = true;
	else log_error("durable: cannot start the scavenger; disconnected durable opens never expire");
}

bool durable_persistent_available(void) { return persistent_ok; }

void durable_shutdown(void)
{
	pthread_once(&durable_once, durable_init);
	smb_mutex_lock(&durable_lock);
	scav_stop = true;
	pthread_cond_signal(&scav_cond);
	smb_mutex_unlock(&durable_lock);
	if (scav_running) pthread_join(scav_thread, NULL);
	scav_running = false;
	for (;;) {
		smb_mutex_lock(&durable_lock);
		struct smbd_open *o = NULL;
		if (!list_empty(&durable_list)) {
			o = list_entry(durable_list.next, struct smbd_open, durable_link);
			list_del(&o->durable_link);
			list_init(&o->durable_link);
		}
		smb_mutex_unlock(&durable_lock);
		if (!o) break;
		if (o->is_persistent) {
			/* Survives the restart: its record stays, its file is
			 * released without delete-on-close. */
			bool df = false, ds = false;
			brl_close_open(o);
			lease_open_closed(o);
			inode_detach_open(o, &df, &ds);
			if (ds) inode_delete_done(o->stream_inode);
			if (df) inode_delete_done(o->inode);
			if (o->fd >= 0) close(o->fd);
			o->fd = -1;
			open_put(o);
		} else {
			close_unlisted(o);
		}
	}
	free(state_dir);
	state_dir = NULL;
}
