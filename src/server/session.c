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
 * supplementary groups. */
static __thread bool impersonating;

void smbd_impersonate(const struct smbd_session *s)
{
	if (geteuid() != 0 || !s || impersonating) return;
	syscall(SYS_setgroups, (size_t)s->ngroups, s->groups);
	setfsgid(s->gid);
	setfsuid(s->uid);
	impersonating = true;
}

void smbd_unimpersonate(void)
{
	if (!impersonating) return;
	setfsuid(0);
	setfsgid(0);
	syscall(SYS_setgroups, (size_t)0, NULL);
	impersonating = false;
}
