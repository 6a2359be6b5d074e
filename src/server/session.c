/* Sessions: the global session table, lifetime, and per-thread identity.
 *
 * A session is published in g_server.sessions (session_lock) and in its
 * connection's list (loop thread) only once it exists as an in-progress
 * authentication; the table owns one reference.  session_destroy()
 * unpublishes it from both, clears its id, then closes its trees outside
 * every lock. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "auth/ntlmssp.h"
#include "common/utf16.h"
#include "server/loop.h"
#include "server/server.h"

void session_get(struct smbd_session *s) { atomic_fetch_add(&s->refcount, 1); }

void session_put(struct smbd_session *s)
{
	if (atomic_fetch_sub(&s->refcount, 1) != 1) return;
	/* Last reference: unpublished, trees gone; free memory only. */
	if (s->auth) ntlmssp_server_free(s->auth);
	explicit_bzero(s->session_key, sizeof(s->session_key));
	explicit_bzero(&s->keys, sizeof(s->keys));
	free(s->user);
	free(s->domain);
	free(s->groups);
	smb_mutex_destroy(&s->lock);
	if (s->conn) conn_put(s->conn);
	free(s);
}

struct smbd_session *session_lookup(uint64_t id)
{
	if (id == 0 || id == UINT64_MAX) return NULL;
	struct smbd_session *found = NULL;
	smb_mutex_lock(&g_server.session_lock);
	struct list_head *pos;
	list_for_each(pos, &g_server.sessions) {
		struct smbd_session *s = list_entry(pos, struct smbd_session, global_link);
		if (s->id == id) {
			session_get(s);
			found = s;
			break;
		}
	}
	smb_mutex_unlock(&g_server.session_lock);
	return found;
}

/* Creates and publishes a new in-progress session on c (session_setup.c). */
struct smbd_session *session_create(struct smbd_conn *c);
struct smbd_session *session_create(struct smbd_conn *c)
{
	struct smbd_session *s = calloc(1, sizeof(*s));
	if (!s) return NULL;
	atomic_init(&s->refcount, 1);      /* the session table's reference */
	smb_mutex_init(&s->lock, LOCK_RANK_SESSION, "session");
	list_init(&s->trees);
	list_init(&s->global_link);
	list_init(&s->conn_link);
	s->state = SESSION_IN_PROGRESS;
	s->next_tree_id = 1;
	conn_get(c);
	s->conn = c;
	/* Session ids are unpredictable-looking but unique: a counter in the
	 * high bits is mixed with a per-process random low part. */
	static uint64_t salt;
	if (!salt) {
		crypto_random(&salt, sizeof(salt));
		salt |= 1;
	}
	uint64_t n = atomic_fetch_add(&g_server.next_session_id, 1);
	s->id = ((n << 24) ^ (salt & 0xFFFFFF)) | 1;
	memcpy(s->preauth_hash, c->preauth_hash, 64);
	/* Fully built: publish. */
	smb_mutex_lock(&g_server.session_lock);
	list_add_tail(&s->global_link, &g_server.sessions);
	smb_mutex_unlock(&g_server.session_lock);
	list_add_tail(&s->conn_link, &c->sessions);
	c->nsessions++;
	return s;
}

bool session_unpublish(struct smbd_session *s)
{
	smb_mutex_lock(&g_server.session_lock);
	bool published = s->id != 0;
	list_del(&s->global_link);
	smb_id_store(&s->id, 0);
	smb_mutex_unlock(&g_server.session_lock);
	return published;
}

void session_destroy(struct smbd_session *s)
{
	/* Unpublish from the global table, clearing the id (another thread may
	 * have done that already: session_expire_previous). */
	session_unpublish(s);
	/* The teardown itself runs once, on the loop thread that owns s->conn. */
	if (s->torn_down) return;
	s->torn_down = true;
	if (s->conn_link.next != &s->conn_link) {
		list_del(&s->conn_link);
		if (s->conn->nsessions) s->conn->nsessions--;
	}
	s->state = SESSION_EXPIRED;
	/* Requests of this session still pending end first (they hold tree
	 * and open references); then the trees. */
	smbd_async_cancel_all(s->conn, s, NULL, SMBD_ASYNC_SESSION_GONE);
	/* Close trees outside the table lock; each tree unpublishes itself under
	 * the session lock first. */
	for (;;) {
		struct smbd_tree *t = NULL;
		smb_mutex_lock(&s->lock);
		if (!list_empty(&s->trees)) {
			t = list_entry(s->trees.next, struct smbd_tree, link);
			tree_get(t);
		}
		smb_mutex_unlock(&s->lock);
		if (!t) break;
		tree_destroy(t);
		tree_put(t);
	}
	session_put(s);   /* the table's reference, dropped once, by the teardown */
}

/* Runs on the old session's own loop thread (posted by session_expire_previous). */
static void session_destroy_posted(void *arg)
{
	struct smbd_session *old = arg;
	session_destroy(old);
	session_put(old);   /* the reference the poster took */
}

void session_expire_previous(struct smbd_session *s, uint64_t previous_id)
{
	if (!previous_id || previous_id == s->id || !s->user || s->is_anonymous || s->is_guest) return;
	struct smbd_session *old = session_lookup(previous_id);
	if (!old) return;
	/* Only the same user may end a session this way (MS-SMB2 3.3.5.5.3); the
	 * user fields of a valid session do not change under us (they are
	 * written only by its own SESSION_SETUP, before it is valid). */
	if (old->state != SESSION_VALID || !old->user || utf8_casecmp(old->user, s->user) != 0 ||
	    old->is_anonymous || old->is_guest) {
		session_put(old);
		return;
	}
	log_info("%s: session %#llx of '%s' replaced by session %#llx (PreviousSessionId)", s->conn->peer_str,
		 (unsigned long long)previous_id, s->user, (unsigned long long)s->id);
	/* Unpublish now, from this thread, so every later request on the old
	 * session gets USER_SESSION_DELETED at once; the teardown (its trees,
	 * opens, pending requests) belongs to the old connection's loop. */
	session_unpublish(old);
	if (old->conn == s->conn || loop_self() == old->conn->loop) {
		session_destroy(old);
		session_put(old);
	} else if (loop_post(old->conn->loop, session_destroy_posted, old) != 0) {
		/* Out of memory: the old connection's own teardown will end it. */
		session_put(old);
	}
}

/* ---- identity ----
 * setfsuid/setfsgid act on the calling thread only.  glibc's setgroups()
 * changes every thread, so the raw system call is used for the per-thread
 * supplementary groups.
 *
 * Each of these calls makes the kernel build and publish a new credential
 * (prepare_creds/commit_creds, the old one freed through RCU): switching to
 * the user and back for every request cost about 20 % of the server's CPU
 * on a metadata workload (7 system calls per request).  So a thread keeps a
 * record of the identity in effect (in_effect), and a switch only makes the
 * calls for what differs: consecutive requests of one user switch nothing.
 *
 * Why this cannot run a request under the wrong identity:
 *  - Every change of a thread's fs identity goes through this file (the
 *    rest of the server only asks, with setfsuid(-1)), so in_effect is what
 *    the kernel has.  A group list that could not be set or recorded makes
 *    the record "unknown", which forces every call the next time.
 *  - smbd_impersonate compares the session's (uid, gid, groups) by value
 *    with the record and switches whatever differs; a request therefore
 *    always runs as its own session's user, whoever ran before it.
 *  - Switching back to root after a request is only skipped inside a
 *    "lazy" scope (smbd_identity_lazy): the dispatch of a message made only
 *    of commands whose handlers always run impersonated (dispatch.c: the
 *    commands that need a session; for an encrypted message the scope is
 *    chosen after decryption), and the I/O workers, which run nothing but
 *    such handlers.  What runs between those handlers (framing, header
 *    checks, decryption, signing, sending) makes no file system call that
 *    depends on the caller's identity.
 *  - Every other entry point of a thread that may have been left with a
 *    user's identity calls smbd_become_root() first: each posted task and
 *    accept (loop.c), connection teardown and the dispatch of any other
 *    message (dispatch.c: NEGOTIATE, SESSION_SETUP, ECHO, CANCEL, SMB1 or
 *    malformed messages run as root as before).  Outside a lazy scope
 *    smbd_unimpersonate switches back at once, as it always did, so
 *    threads that never enter one (main, durable scavenger, lease timer,
 *    watchers) behave exactly as before. */
#define IDENTITY_MAX_GROUPS 64

enum identity_kind {
	IDENTITY_PROCESS = 0,  /* never switched: the process's own (root) identity */
	IDENTITY_ROOT,         /* switched back: fsuid 0, fsgid 0, no groups */
	IDENTITY_USER,         /* a session's user */
	IDENTITY_UNKNOWN,      /* after a failed switch: set everything next time */
};

struct fs_identity {
	enum identity_kind kind;
	uid_t uid;
	gid_t gid;
	bool groups_known;     /* false: the kernel's list is not recorded here */
	int ngroups;
	gid_t groups[IDENTITY_MAX_GROUPS];
};

static __thread struct fs_identity in_effect;   /* zero: IDENTITY_PROCESS */
static __thread bool impersonating;              /* inside an impersonate/unimpersonate pair */
static __thread bool lazy_scope;                 /* see smbd_identity_lazy */

/* The effective uid never changes while the server runs: ask once. */
static bool running_as_root(void)
{
	static atomic_int euid_root = -1;   /* -1 unknown, 0 no, 1 yes */
	int v = atomic_load_explicit(&euid_root, memory_order_relaxed);
	if (v < 0) {
		v = geteuid() == 0;
		atomic_store_explicit(&euid_root, v, memory_order_relaxed);
	}
	return v == 1;
}

static bool groups_equal(const struct fs_identity *id, const gid_t *g, int n)
{
	if (!id->groups_known || id->ngroups != n) return false;
	return n == 0 || memcmp(id->groups, g, (size_t)n * sizeof(gid_t)) == 0;
}

/* Sets the thread's supplementary groups and records them.  If the list
 * cannot be set, the thread is left with none (fewer rights, never another
 * user's) and the record is unknown, so the next switch sets them again. */
static void set_groups(const gid_t *g, int n)
{
	if (n < 0) n = 0;
	if (syscall(SYS_setgroups, (size_t)n, n ? g : NULL) != 0) {
		log_warn("setgroups(%d groups) failed: %s; running with none", n, strerror(errno));
		syscall(SYS_setgroups, (size_t)0, NULL);
		in_effect.groups_known = false;
		in_effect.ngroups = 0;
		return;
	}
	in_effect.groups_known = n <= IDENTITY_MAX_GROUPS;
	in_effect.ngroups = n;
	if (in_effect.groups_known && n) memcpy(in_effect.groups, g, (size_t)n * sizeof(gid_t));
}

/* setfsuid/setfsgid report no error: an id the kernel refuses (one not
 * mapped in the user namespace) leaves the old one in place.  With the
 * record that would mean running as the previous user, so a switch is
 * checked (setfs*id(-1) only reads) and a refused one falls back to nobody
 * with no groups: fewer rights, never someone else's. */
#define FALLBACK_ID 65534u

static void switch_to_user(const struct smbd_session *s)
{
	/* From the process identity nothing is recorded: set all three. */
	bool known = in_effect.kind == IDENTITY_ROOT || in_effect.kind == IDENTITY_USER;
	/* Groups and gid first, uid last, as before. */
	if (!known || !groups_equal(&in_effect, s->groups, s->ngroups)) set_groups(s->groups, s->ngroups);
	bool ok = true;
	if (!known || in_effect.gid != s->gid) {
		setfsgid(s->gid);
		ok = (gid_t)setfsgid((gid_t)-1) == s->gid;
	}
	if (ok && (!known || in_effect.uid != s->uid)) {
		setfsuid(s->uid);
		ok = (uid_t)setfsuid((uid_t)-1) == s->uid;
	}
	in_effect.kind = IDENTITY_USER;
	in_effect.uid = s->uid;
	in_effect.gid = s->gid;
	if (!ok) {
		log_error("could not switch to uid %u gid %u; running as %u", (unsigned)s->uid, (unsigned)s->gid,
			  FALLBACK_ID);
		set_groups(NULL, 0);
		setfsgid(FALLBACK_ID);
		setfsuid(FALLBACK_ID);
		/* Not a session's identity: the next switch sets everything. */
		in_effect.kind = IDENTITY_UNKNOWN;
	}
}

static void switch_to_root(void)
{
	/* The process identity is root already (nothing was ever switched). */
	if (in_effect.kind == IDENTITY_PROCESS) return;
	bool known = in_effect.kind != IDENTITY_UNKNOWN;
	if (!known || in_effect.uid != 0) setfsuid(0);
	if (!known || in_effect.gid != 0) setfsgid(0);
	if (!known || !groups_equal(&in_effect, NULL, 0)) set_groups(NULL, 0);
	in_effect.kind = IDENTITY_ROOT;
	in_effect.uid = 0;
	in_effect.gid = 0;
}

void smbd_impersonate(const struct smbd_session *s)
{
	if (impersonating || !running_as_root()) return;
	/* No session to act for: run as root rather than as whichever user
	 * a previous request in a lazy scope left in effect. */
	if (!s) {
		switch_to_root();
		return;
	}
	switch_to_user(s);
	impersonating = true;
}

void smbd_unimpersonate(void)
{
	if (!impersonating) return;
	impersonating = false;
	/* In a lazy scope the user's identity stays in effect for the next
	 * request (see above); everywhere else root comes back at once. */
	if (!lazy_scope) switch_to_root();
}

void smbd_become_root(void)
{
	/* Called where no request runs; an open pair here would be a bug:
	 * end it rather than run on as the user. */
	impersonating = false;
	switch_to_root();
}

bool smbd_identity_lazy(bool on)
{
	bool was = lazy_scope;
	lazy_scope = on;
	return was;
}
