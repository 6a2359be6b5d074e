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

void session_destroy(struct smbd_session *s)
{
	/* Unpublish from the global table, clearing the id. */
	smb_mutex_lock(&g_server.session_lock);
	bool published = s->id != 0;
	list_del(&s->global_link);
	s->id = 0;
	smb_mutex_unlock(&g_server.session_lock);
	if (!published) return;
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
	session_put(s);   /* the table's reference */
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
