/* Tree connects of a session.  The session's tree list owns one reference
 * per tree; tree_destroy() unpublishes (under the session lock, clearing the
 * id) and then closes the tree's opens outside it. */
#include <stdlib.h>

#include "server/server.h"

void tree_get(struct smbd_tree *t) { atomic_fetch_add(&t->refcount, 1); }

void tree_put(struct smbd_tree *t)
{
	if (atomic_fetch_sub(&t->refcount, 1) != 1) return;
	share_put(t->share);
	session_put(t->session);
	free(t);
}

struct smbd_tree *tree_lookup(struct smbd_session *s, uint32_t id)
{
	if (!s || id == 0) return NULL;
	struct smbd_tree *found = NULL;
	smb_mutex_lock(&s->lock);
	struct list_head *pos;
	list_for_each(pos, &s->trees) {
		struct smbd_tree *t = list_entry(pos, struct smbd_tree, link);
		if (t->id == id) {
			tree_get(t);
			found = t;
			break;
		}
	}
	smb_mutex_unlock(&s->lock);
	return found;
}

/* Creates and publishes a tree on s for share sh (tree_connect.c). */
struct smbd_tree *tree_create(struct smbd_session *s, struct smbd_share *sh, bool read_only);
struct smbd_tree *tree_create(struct smbd_session *s, struct smbd_share *sh, bool read_only)
{
	struct smbd_tree *t = calloc(1, sizeof(*t));
	if (!t) return NULL;
	atomic_init(&t->refcount, 2);   /* the session's list + the caller's */
	share_get(sh);
	t->share = sh;
	session_get(s);                 /* the tree keeps its session alive */
	t->session = s;
	t->read_only = read_only;
	smb_mutex_lock(&s->lock);
	/* Tree ids: skip 0 and any id still in use after a wrap. */
	for (;;) {
		uint32_t id = s->next_tree_id++;
		if (id == 0 || id == UINT32_MAX) continue;
		bool used = false;
		struct list_head *pos;
		list_for_each(pos, &s->trees) {
			if (list_entry(pos, struct smbd_tree, link)->id == id) { used = true; break; }
		}
		if (!used) { t->id = id; break; }
	}
	list_add_tail(&t->link, &s->trees);
	s->ntrees++;
	smb_mutex_unlock(&s->lock);
	return t;
}

void tree_destroy(struct smbd_tree *t)
{
	struct smbd_session *s = t->session;
	smb_mutex_lock(&s->lock);
	bool published = t->id != 0;
	if (published) {
		list_del(&t->link);
		t->id = 0;
		s->ntrees--;
	}
	smb_mutex_unlock(&s->lock);
	if (!published) return;
	/* Pending requests on the tree end before its opens close. */
	smbd_async_cancel_all(s->conn, NULL, t, SMBD_ASYNC_TREE_GONE);
	open_table_close_tree(t);
	tree_put(t);   /* the session list's reference */
}
