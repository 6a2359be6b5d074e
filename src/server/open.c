/* The global open table: publication, lookup by FileId, unpublication and
 * the file teardown of an open (MS-SMB2 3.3.1.10 GlobalOpenTable). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/dir_enum.h"
#include "server/server.h"
#include "server/vfs.h"

#include <string.h>

void open_get(struct smbd_open *o)
{
	atomic_fetch_add(&o->refcount, 1);
}

/* The last reference frees memory only: the file itself was closed by
 * open_close_file after unpublication (or never published, see below). */
void open_put(struct smbd_open *o)
{
	if (!o) return;
	if (atomic_fetch_sub(&o->refcount, 1) != 1) return;
	/* An open that failed half-way through CREATE was never published and
	 * may still hold its fd or pipe. */
	if (o->pipe) pipe_close(o->pipe);
	if (o->fd >= 0) close(o->fd);
	dir_enum_free(o->dir);
	if (o->tree) tree_put(o->tree);
	if (o->session) session_put(o->session);
	free(o->path);
	free(o);
}

/* Drops one from conn->nopens without ever going below zero. */
static void conn_opens_dec(struct smbd_conn *c)
{
	if (!c) return;
	unsigned cur = atomic_load(&c->nopens);
	while (cur > 0 && !atomic_compare_exchange_weak(&c->nopens, &cur, cur - 1))
		;
}

int open_table_insert(struct smbd_open *o)
{
	struct smbd_conn *c = o->conn;
	if (c) {
		unsigned max = c->cfg ? c->cfg->max_opens_per_conn : 0;
		unsigned cur = atomic_load(&c->nopens);
		do {
			if (max && cur >= max) return -1;
		} while (!atomic_compare_exchange_weak(&c->nopens, &cur, cur + 1));
	}
	open_get(o); /* the table's reference */
	smb_mutex_lock(&g_server.open_lock);
	uint64_t id;
	/* 0 and all-ones are never handed out: 0 marks an unpublished open,
	 * all-ones is the compound "related" FileId. */
	do {
		id = atomic_fetch_add(&g_server.next_file_id, 1) + 1;
	} while (id == 0 || id == UINT64_MAX);
	o->volatile_id = id;
	o->persistent_id = id;
	o->ready = true;
	list_add_tail(&o->link, &g_server.opens);
	smb_mutex_unlock(&g_server.open_lock);
	return 0;
}

struct smbd_open *open_table_lookup(struct smbd_tree *t, uint64_t persistent_id, uint64_t volatile_id)
{
	if (volatile_id == 0) return NULL;
	struct smbd_open *found = NULL;
	struct list_head *pos;
	smb_mutex_lock(&g_server.open_lock);
	list_for_each(pos, &g_server.opens) {
		struct smbd_open *o = list_entry(pos, struct smbd_open, link);
		if (o->volatile_id == volatile_id) {
			if (o->ready && o->tree == t && o->persistent_id == persistent_id) {
				open_get(o);
				found = o;
			}
			break;
		}
	}
	smb_mutex_unlock(&g_server.open_lock);
	return found;
}

bool open_table_remove(struct smbd_open *o)
{
	smb_mutex_lock(&g_server.open_lock);
	if (o->volatile_id == 0) {
		smb_mutex_unlock(&g_server.open_lock);
		return false;
	}
	list_del(&o->link);
	o->volatile_id = 0;
	o->persistent_id = 0;
	o->ready = false;
	smb_mutex_unlock(&g_server.open_lock);
	conn_opens_dec(o->conn);
	open_put(o); /* the table's reference; the caller still holds one */
	return true;
}

void open_close_file(struct smbd_open *o)
{
	if (o->pipe) {
		pipe_close(o->pipe);
		o->pipe = NULL;
	}
	const char *stream = open_stream_name(o);
	if (o->delete_on_close && stream && o->tree && o->tree->share && o->tree->share->root_fd >= 0) {
		/* A stream open deletes only its stream. */
		int bfd = open_base_fd(o);
		if (bfd >= 0) {
			vfs_stream_unlink(o->tree->share, bfd, stream);
			close(bfd);
		}
	} else if (o->delete_on_close && o->tree && o->tree->share && o->tree->share->root_fd >= 0 && o->path &&
		   o->path[0]) {
		/* Delete at close, relative to the share root (the path was
		 * resolved beneath it at CREATE).  The file's streams go with
		 * its last name. */
		struct stat sb;
		bool last_name = o->fd >= 0 && fstat(o->fd, &sb) == 0 && (S_ISDIR(sb.st_mode) || sb.st_nlink <= 1);
		if (unlinkat(o->tree->share->root_fd, o->path, o->is_dir ? AT_REMOVEDIR : 0) < 0)
			log_debug("delete-on-close of %s failed: errno %d", o->path, errno);
		else if (last_name)
			vfs_streams_remove_all(o->tree->share, o->fd);
	}
	if (o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
	}
	dir_enum_free(o->dir);
	o->dir = NULL;
}

void open_table_close_tree(struct smbd_tree *t)
{
	struct list_head victims;
	list_init(&victims);
	struct list_head *pos, *n;
	smb_mutex_lock(&g_server.open_lock);
	list_for_each_safe(pos, n, &g_server.opens) {
		struct smbd_open *o = list_entry(pos, struct smbd_open, link);
		if (o->tree != t) continue;
		list_del(&o->link);
		o->volatile_id = 0;
		o->persistent_id = 0;
		o->ready = false;
		list_add_tail(&o->link, &victims);
	}
	smb_mutex_unlock(&g_server.open_lock);
	/* Outside the lock: close files, then drop the table's references. */
	list_for_each_safe(pos, n, &victims) {
		struct smbd_open *o = list_entry(pos, struct smbd_open, link);
		list_del(&o->link);
		conn_opens_dec(o->conn);
		open_close_file(o);
		open_put(o);
	}
}

struct smbd_open *smb2_req_open(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id)
{
	if (!req->tree) return NULL;
	/* MS-SMB2 3.3.5.2.7.2: in a related compound, a FileId of all ones
	 * names the open the previous CREATE (or earlier request) produced. */
	if (persistent_id == UINT64_MAX && volatile_id == UINT64_MAX) {
		if (!(req->hdr.flags & SMB2_FLAGS_RELATED_OPERATIONS) || !req->have_related_fid ||
		    !*req->have_related_fid)
			return NULL;
		persistent_id = *req->related_persistent;
		volatile_id = *req->related_volatile;
	}
	struct smbd_open *o = open_table_lookup(req->tree, persistent_id, volatile_id);
	if (o && o->session != req->session) {
		open_put(o);
		return NULL;
	}
	return o;
}

void smb2_req_set_related_fid(struct smb2_request *req, uint64_t persistent_id, uint64_t volatile_id)
{
	if (!req->have_related_fid) return;
	*req->have_related_fid = true;
	*req->related_persistent = persistent_id;
	*req->related_volatile = volatile_id;
}

const char *open_stream_name(const struct smbd_open *o)
{
	if (!o->path || o->pipe) return NULL;
	const char *c = strchr(o->path, ':');
	return c ? c + 1 : NULL;
}

int open_base_fd(const struct smbd_open *o)
{
	const char *stream = open_stream_name(o);
	if (!stream) {
		int fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	if (!o->tree || !o->tree->share || o->tree->share->root_fd < 0) return -EBADF;
	char *base = strndup(o->path, (size_t)(stream - 1 - o->path));
	if (!base) return -ENOMEM;
	int fd = vfs_open(o->tree->share, base, O_PATH, 0, NULL);
	free(base);
	return fd;
}
