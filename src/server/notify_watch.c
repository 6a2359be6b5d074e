/* File-system change watcher: one inotify instance and one thread that reads
 * it.  See notify_watch.h for the interface.
 *
 * Structure.  Every inotify watch descriptor (one per watched directory
 * inode: the kernel hands the same wd back when a directory is added twice)
 * is a struct nw_dir.  A registration (struct notify_watch) owns one nw_ref
 * per directory it covers, with the directory's path relative to the
 * registered root ("" for the root).  Several registrations on one directory,
 * or overlapping trees, share the nw_dir and each gets the event with its own
 * relative name.  When the last ref of a nw_dir goes, its watch is removed
 * (inotify_rm_watch); when the kernel drops a watch by itself (IN_IGNORED:
 * directory deleted, file system unmounted) the nw_dir and its refs go.
 *
 * Subdirectories of a tree registration are opened beneath the registration's
 * own O_PATH duplicate of its root with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
 * and watched through /proc/self/fd/N of that opened directory, so a path
 * never escapes the share even if names are swapped for symlinks meanwhile.
 *
 * Changes inotify cannot see (notify_watch_report: smb2_notify.c reports the
 * close of a renamed file) are queued to the watcher thread, which takes the
 * queue, then reads everything inotify holds, then reports the queued ones:
 * a reported change therefore comes after every inotify event that was
 * queued before it was, as it happened.  Directories are found by inode
 * (nw_dir.dev/ino).
 *
 * Locking: nw_lock (rank notify_watch) guards every structure here.  The
 * inotify_add_watch/inotify_rm_watch calls happen under it, so an add racing
 * the removal of the same directory's last ref cannot end up referring to a
 * removed wd (these calls walk an in-memory /proc magic link: no data I/O).
 * Directory reads for a subtree happen outside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/list.h"
#include "common/lock.h"
#include "common/log.h"
#include "server/notify_watch.h"
#include "server/vfs.h"

/* IN_CLOSE_*: reported to nobody; they end an entry's creation (nw_fresh_*). */
#define NW_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | \
		 IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ONLYDIR | IN_EXCL_UNLINK)
#define NW_HASH 256u
/* Deeper trees than this are not watched below this depth (reported as an
 * overflow): keeps the recursion bounded. */
#define NW_MAX_DEPTH 64

/* How long after an entry appears its metadata changes may still count as
 * part of its creation (see nw_fresh_*).  A CREATE writes the new file's DOS
 * attributes, creation time and any security descriptor or EAs from its
 * create contexts within microseconds of creating it, through the handle it
 * returns and before it answers; the margin covers the watcher thread or the
 * creating thread being descheduled between the events on a loaded machine.
 * Creation ends earlier when the entry is closed (by any handle: the
 * creating one, or one opened later to change it) or written. */
#define NW_FRESH_NS (100ull * 1000 * 1000)
/* Entries remembered per directory; a burst of more creations than this
 * within NW_FRESH_NS may report a MODIFIED for the oldest ones. */
#define NW_FRESH_SLOTS 16

struct nw_fresh {
	char *name;                  /* NULL = free slot */
	uint64_t born_ns;            /* CLOCK_MONOTONIC when its IN_CREATE was read */
	unsigned own_closes;         /* IN_CLOSE_NOWRITEs to come from the watcher's own
	                                scans of this (new) directory: not an end */
};

struct nw_dir {
	struct list_head hash_link;  /* nw_hash[wd % NW_HASH] */
	struct list_head refs;       /* struct nw_ref.dir_link */
	int wd;
	uint64_t dev, ino;           /* the watched directory's inode (notify_watch_report) */
	struct nw_fresh fresh[NW_FRESH_SLOTS];   /* entries created just now; nw_lock */
	unsigned fresh_next;         /* slot the next creation takes (round robin) */
};

struct nw_ref {
	struct list_head dir_link;   /* dir->refs */
	struct list_head watch_link; /* watch->refs */
	struct nw_dir *dir;
	struct notify_watch *w;
	char *prefix;                /* path of dir relative to the watch root; "" = root */
};

struct notify_watch {
	atomic_int refcount;         /* owners: the registrant until notify_watch_remove (1);
	                                the watcher thread while it scans a new subdirectory (1) */
	struct list_head link;       /* nw_watches */
	struct list_head refs;       /* struct nw_ref.watch_link */
	int root_fd;                 /* O_PATH duplicate of the registered directory */
	bool tree;
	bool removed;                /* notify_watch_remove ran: add nothing more, call nothing */
	bool touched;                /* got a change in the current batch */
	bool overflow_sent;          /* a failed subdirectory watch was reported already */
	notify_watch_fn fn;
	void *arg;
};

static struct smb_mutex nw_lock;
static struct list_head nw_hash[NW_HASH];
static struct list_head nw_watches;
static int nw_ifd = -1;
static int nw_stop_fd = -1;

/* Changes reported by notify_watch_report, oldest first; nw_lock. */
struct nw_inject {
	struct nw_inject *next;
	uint64_t dev, ino;           /* the directory holding name */
	uint32_t action, filter;
	bool is_dir;
	char name[];
};
static struct nw_inject *nw_inject_head, **nw_inject_tail = &nw_inject_head;
static int nw_inject_fd = -1;    /* eventfd: the queue is not empty */
static pthread_t nw_thread;
static atomic_bool nw_running;   /* read without nw_lock by notify_watch_report */
static pthread_once_t nw_once = PTHREAD_ONCE_INIT;

static void nw_watch_put(struct notify_watch *w)
{
	if (atomic_fetch_sub(&w->refcount, 1) != 1) return;
	if (w->root_fd >= 0) close(w->root_fd);
	free(w);
}

static struct nw_dir *nw_dir_find(int wd)
{
	struct list_head *pos;
	list_for_each(pos, &nw_hash[(unsigned)wd % NW_HASH]) {
		struct nw_dir *d = list_entry(pos, struct nw_dir, hash_link);
		if (d->wd == wd) return d;
	}
	return NULL;
}

static void nw_fresh_clear(struct nw_dir *d)
{
	for (unsigned i = 0; i < NW_FRESH_SLOTS; i++) {
		free(d->fresh[i].name);
		d->fresh[i].name = NULL;
	}
}

/* nw_lock held.  Remembers that name was just created in d. */
static void nw_fresh_add(struct nw_dir *d, const char *name, uint64_t now)
{
	struct nw_fresh *f = &d->fresh[d->fresh_next];
	d->fresh_next = (d->fresh_next + 1) % NW_FRESH_SLOTS;
	free(f->name);
	f->name = strdup(name);   /* NULL on failure: the change is reported, no harm */
	f->born_ns = now;
	f->own_closes = 0;
}

/* nw_lock held.  The slot of name if it was created in d within
 * NW_FRESH_NS before now; stale slots met on the way are freed. */
static struct nw_fresh *nw_fresh_find(struct nw_dir *d, const char *name, uint64_t now)
{
	struct nw_fresh *hit = NULL;
	for (unsigned i = 0; i < NW_FRESH_SLOTS; i++) {
		struct nw_fresh *f = &d->fresh[i];
		if (!f->name) continue;
		if (now - f->born_ns > NW_FRESH_NS) {
			free(f->name);
			f->name = NULL;
			continue;
		}
		if (!strcmp(f->name, name)) hit = f;
	}
	return hit;
}

/* nw_lock held.  The watcher itself opened rel (below w's root) to scan it:
 * if rel is a fresh entry of its directory's watch, the close that the scan
 * causes must not end its creation (a tree watch scans a new subdirectory
 * at once, often before the CREATE that made it has written its metadata). */
static void nw_fresh_own_open(struct notify_watch *w, const char *rel, uint64_t now)
{
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	size_t plen = slash ? (size_t)(slash - rel) : 0;
	struct list_head *pos;
	list_for_each(pos, &w->refs) {
		struct nw_ref *r = list_entry(pos, struct nw_ref, watch_link);
		if (strlen(r->prefix) != plen || strncmp(r->prefix, rel, plen) != 0) continue;
		struct nw_fresh *f = nw_fresh_find(r->dir, base, now);
		if (f) f->own_closes++;
		return;
	}
}

/* nw_lock held.  name is no longer "being created": its data was written,
 * or it was removed or renamed; later metadata changes are the client's. */
static void nw_fresh_end(struct nw_dir *d, const char *name, uint64_t now)
{
	struct nw_fresh *f;
	/* (A name created, removed and created again has two slots.) */
	while ((f = nw_fresh_find(d, name, now)) != NULL) {
		free(f->name);
		f->name = NULL;
	}
}

/* nw_lock held.  Unlinks and frees a ref; removes the kernel watch when it
 * was the directory's last (unless the kernel already dropped it). */
static void nw_ref_free(struct nw_ref *r, bool kernel_gone)
{
	struct nw_dir *d = r->dir;
	list_del(&r->dir_link);
	list_del(&r->watch_link);
	free(r->prefix);
	free(r);
	if (list_empty(&d->refs)) {
		if (!kernel_gone) inotify_rm_watch(nw_ifd, d->wd);
		list_del(&d->hash_link);
		nw_fresh_clear(d);
		free(d);
	}
}

/* nw_lock held.  Tells w once that part of its tree is not watched. */
static void nw_overflow(struct notify_watch *w)
{
	if (w->removed || w->overflow_sent) return;
	w->overflow_sent = true;
	struct notify_watch_event ev = { .kind = NOTIFY_WATCH_OVERFLOW };
	w->fn(w->arg, &ev);
	w->touched = true;
}

/* nw_lock held.  Watches the directory open as fd for w under prefix. */
static int nw_attach(struct notify_watch *w, int fd, const char *prefix)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int wd = inotify_add_watch(nw_ifd, path, NW_MASK);
	if (wd < 0) return -1;
	struct nw_dir *d = nw_dir_find(wd);
	/* Already covered by w under the same name (a rescan after a rename
	 * race): nothing to add. */
	if (d) {
		struct list_head *pos;
		list_for_each(pos, &d->refs) {
			struct nw_ref *r = list_entry(pos, struct nw_ref, dir_link);
			if (r->w == w && strcmp(r->prefix, prefix) == 0) return 0;
		}
	}
	struct nw_ref *r = calloc(1, sizeof(*r));
	char *p = strdup(prefix);
	if (!d) {
		d = calloc(1, sizeof(*d));
		struct stat st;
		if (d && fstat(fd, &st) == 0) {
			d->dev = (uint64_t)st.st_dev;
			d->ino = (uint64_t)st.st_ino;
		}
		if (d) {
			d->wd = wd;
			list_init(&d->refs);
			list_add_tail(&d->hash_link, &nw_hash[(unsigned)wd % NW_HASH]);
		}
	}
	if (!r || !p || !d) {
		free(r);
		free(p);
		if (d && list_empty(&d->refs)) {
			inotify_rm_watch(nw_ifd, wd);
			list_del(&d->hash_link);
			free(d);
		}
		errno = ENOMEM;
		return -1;
	}
	r->dir = d;
	r->w = w;
	r->prefix = p;
	list_add_tail(&r->dir_link, &d->refs);
	list_add_tail(&r->watch_link, &w->refs);
	return 0;
}

static int nw_open_beneath(int root_fd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
}

/* Called without nw_lock.  Watches rel (below w's root) and, recursively,
 * its subdirectories.  Failures to watch are reported as one overflow.
 * fresh: rel was just created or moved in; what it already holds appeared
 * before its watch existed and is reported as ADDED (an entry created
 * between inotify_add_watch and the readdir may then be reported twice,
 * which costs the client one extra look; missing it would leave it stale). */
static void nw_add_subtree(struct notify_watch *w, const char *rel, int depth, bool fresh)
{
	int fd = nw_open_beneath(w->root_fd, rel);
	if (fd < 0) {
		/* Gone again already (created and removed quickly): nothing to watch. */
		if (errno == ENOENT || errno == ENOTDIR) return;
		smb_mutex_lock(&nw_lock);
		nw_overflow(w);
		smb_mutex_unlock(&nw_lock);
		return;
	}
	smb_mutex_lock(&nw_lock);
	if (fresh) nw_fresh_own_open(w, rel, clock_monotonic_ns());
	bool stop = w->removed;
	if (!stop && nw_attach(w, fd, rel) < 0) {
		log_debug("notify: cannot watch %s: %s", rel, strerror(errno));
		nw_overflow(w);
		stop = true;
	}
	smb_mutex_unlock(&nw_lock);
	if (stop || depth >= NW_MAX_DEPTH) {
		if (!stop) {
			smb_mutex_lock(&nw_lock);
			nw_overflow(w);
			smb_mutex_unlock(&nw_lock);
		}
		close(fd);
		return;
	}
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, VFS_STREAM_DIR))
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		}
		if (!is_dir && !fresh) continue;
		size_t n = strlen(rel) + 1 + strlen(de->d_name) + 1;
		char *sub = malloc(n);
		if (!sub) break;
		snprintf(sub, n, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (fresh) {
			smb_mutex_lock(&nw_lock);
			if (!w->removed) {
				struct notify_watch_event ev = {
					.kind = NOTIFY_WATCH_CHANGE, .action = FILE_ACTION_ADDED,
					.filter = is_dir ? FILE_NOTIFY_CHANGE_DIR_NAME : FILE_NOTIFY_CHANGE_FILE_NAME,
					.name = sub, .is_dir = is_dir,
				};
				w->fn(w->arg, &ev);
				w->touched = true;
			}
			smb_mutex_unlock(&nw_lock);
		}
		if (is_dir) nw_add_subtree(w, sub, depth + 1, fresh);
		free(sub);
	}
	closedir(dp);
}

/* nw_lock held.  Drops w's refs on rel and everything below it. */
static void nw_drop_subtree(struct notify_watch *w, const char *rel)
{
	size_t n = strlen(rel);
	struct list_head *pos, *next;
	for (pos = w->refs.next; pos != &w->refs; pos = next) {
		next = pos->next;
		struct nw_ref *r = list_entry(pos, struct nw_ref, watch_link);
		if (strncmp(r->prefix, rel, n) == 0 && (r->prefix[n] == '\0' || r->prefix[n] == '/')) {
			/* next may be freed too only if it is in the same dir list,
			 * which it is not (it is w's list): safe. */
			nw_ref_free(r, false);
		}
	}
}

/* New subdirectories to watch, collected under the lock, scanned after. */
struct nw_todo {
	struct nw_todo *next;
	struct notify_watch *w;   /* owner: the todo (1 reference) */
	char *rel;
};

static void nw_report(struct nw_dir *d, uint32_t action, uint32_t filter, const char *name, bool is_dir,
		      bool tree_add, bool tree_drop, struct nw_todo **todo)
{
	struct list_head *pos, *next;
	for (pos = d->refs.next; pos != &d->refs; pos = next) {
		next = pos->next;
		struct nw_ref *r = list_entry(pos, struct nw_ref, dir_link);
		struct notify_watch *w = r->w;
		size_t n = strlen(r->prefix) + 1 + strlen(name) + 1;
		char *rel = malloc(n);
		if (!rel) {
			nw_overflow(w);
			continue;
		}
		snprintf(rel, n, "%s%s%s", r->prefix, r->prefix[0] ? "/" : "", name);
		struct notify_watch_event ev = {
			.kind = NOTIFY_WATCH_CHANGE, .action = action, .filter = filter, .name = rel, .is_dir = is_dir,
		};
		w->fn(w->arg, &ev);
		w->touched = true;
		if (is_dir && w->tree && tree_drop) nw_drop_subtree(w, rel);
		if (is_dir && w->tree && tree_add) {
			struct nw_todo *t = malloc(sizeof(*t));
			if (t) {
				atomic_fetch_add(&w->refcount, 1);
				t->w = w;
				t->rel = rel;
				t->next = *todo;
				*todo = t;
				rel = NULL;
			} else {
				nw_overflow(w);
			}
		}
		free(rel);
	}
}

/* Filter bits of a name change (MS-FSA 2.1.4.1: FILE_NOTIFY_CHANGE_DIR_NAME
 * for directories, FILE_NAME for everything else). */
static uint32_t name_filter(bool is_dir)
{
	return is_dir ? FILE_NOTIFY_CHANGE_DIR_NAME : FILE_NOTIFY_CHANGE_FILE_NAME;
}

/* nw_lock held.  Lets each consumer deliver what a batch gave it at once. */
static void nw_end_batch(void)
{
	struct list_head *pos;
	list_for_each(pos, &nw_watches) {
		struct notify_watch *w = list_entry(pos, struct notify_watch, link);
		if (!w->touched) continue;
		w->touched = false;
		struct notify_watch_event ev = { .kind = NOTIFY_WATCH_BATCH_END };
		w->fn(w->arg, &ev);
	}
}

/* nw_lock held.  Processes one read()'s worth of events. */
static void nw_process(const char *buf, size_t len, uint64_t now, struct nw_todo **todo)
{
	size_t off = 0;
	while (off + sizeof(struct inotify_event) <= len) {
		const struct inotify_event *e = (const void *)(buf + off);
		size_t elen = sizeof(*e) + e->len;
		if (off + elen > len) break;
		off += elen;
		if (e->mask & IN_Q_OVERFLOW) {
			struct list_head *pos;
			list_for_each(pos, &nw_watches) {
				struct notify_watch *w = list_entry(pos, struct notify_watch, link);
				struct notify_watch_event ev = { .kind = NOTIFY_WATCH_OVERFLOW };
				w->fn(w->arg, &ev);
				w->touched = true;
			}
			continue;
		}
		struct nw_dir *d = nw_dir_find(e->wd);
		if (!d) continue;   /* removed by us meanwhile */
		if (e->mask & IN_IGNORED) {
			/* The kernel dropped the watch (directory deleted or file
			 * system unmounted): forget it and every ref on it. */
			while (!list_empty(&d->refs)) {
				struct nw_ref *r = list_entry(d->refs.next, struct nw_ref, dir_link);
				bool last = r->dir_link.next == &d->refs;
				nw_ref_free(r, true);
				if (last) break;   /* d was freed with its last ref */
			}
			continue;
		}
		bool is_dir = (e->mask & IN_ISDIR) != 0;
		if (e->len == 0 || e->name[0] == '\0') {
			/* An event on the watched directory itself.  Changes to a
			 * directory's own attributes are reported by its parent's
			 * watch (as Windows does); only a deleted root matters. */
			if (e->mask & IN_DELETE_SELF) {
				struct list_head *pos;
				list_for_each(pos, &d->refs) {
					struct nw_ref *r = list_entry(pos, struct nw_ref, dir_link);
					if (r->prefix[0]) continue;
					struct notify_watch_event ev = { .kind = NOTIFY_WATCH_ROOT_GONE };
					r->w->fn(r->w->arg, &ev);
					r->w->touched = true;
				}
			}
			continue;
		}
		/* smbkit's stream store is private: never reported.  Changes to
		 * a file's named streams land there, so STREAM_* filters are
		 * not reported for them (see docs/ARCHITECTURE.md). */
		if (!strcmp(e->name, VFS_STREAM_DIR)) continue;
		if (e->mask & IN_CREATE) {
			nw_fresh_add(d, e->name, now);
			nw_report(d, FILE_ACTION_ADDED, name_filter(is_dir), e->name, is_dir, true, false, todo);
		} else if (e->mask & IN_DELETE) {
			nw_fresh_end(d, e->name, now);
			nw_report(d, FILE_ACTION_REMOVED, name_filter(is_dir), e->name, is_dir, false, true, todo);
		} else if (e->mask & IN_MOVED_FROM) {
			nw_fresh_end(d, e->name, now);
			/* A rename inside one directory is reported as the old and
			 * the new name; a move between directories as a removal
			 * and an addition (what Windows reports).  The kernel
			 * queues the two halves of a rename next to each other. */
			const struct inotify_event *n = NULL;
			if (off + sizeof(*e) <= len) {
				const struct inotify_event *c = (const void *)(buf + off);
				if (off + sizeof(*c) + c->len <= len && (c->mask & IN_MOVED_TO) && c->cookie == e->cookie &&
				    c->wd == e->wd && c->len && c->name[0])
					n = c;
			}
			if (n) {
				off += sizeof(*n) + n->len;
				nw_report(d, FILE_ACTION_RENAMED_OLD_NAME, name_filter(is_dir), e->name, is_dir, false, true,
					  todo);
				if (strcmp(n->name, VFS_STREAM_DIR))
					nw_report(d, FILE_ACTION_RENAMED_NEW_NAME, name_filter(is_dir), n->name, is_dir,
						  true, false, todo);
			} else {
				nw_report(d, FILE_ACTION_REMOVED, name_filter(is_dir), e->name, is_dir, false, true, todo);
			}
		} else if (e->mask & IN_MOVED_TO) {
			nw_report(d, FILE_ACTION_ADDED, name_filter(is_dir), e->name, is_dir, true, false, todo);
		} else if (e->mask & IN_MODIFY) {
			/* Data written or size changed (write, truncate). */
			nw_fresh_end(d, e->name, now);
			nw_report(d, FILE_ACTION_MODIFIED, FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE, e->name,
				  is_dir, false, false, todo);
		} else if (e->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) {
			/* Not a change; metadata changed from now on is not
			 * the creation's (a CREATE writes it before the handle
			 * it opened can be closed), unless it is the watcher's
			 * own scan closing the new directory. */
			struct nw_fresh *f = nw_fresh_find(d, e->name, now);
			if (f && (e->mask & IN_CLOSE_NOWRITE) && f->own_closes > 0) f->own_closes--;
			else if (f) nw_fresh_end(d, e->name, now);
		} else if (e->mask & IN_ATTRIB) {
			/* inotify does not say which metadata changed: mode, owner,
			 * timestamps, extended attributes (where smbkit keeps DOS
			 * attributes, creation time, security descriptors and EAs)
			 * all come as IN_ATTRIB.  Report every metadata bit.
			 *
			 * Except the metadata a CREATE writes into the entry it
			 * has just made (DOS attributes, creation time, create
			 * contexts): on Windows that is part of the creation,
			 * which reports FILE_ACTION_ADDED under FILE_NAME or
			 * DIR_NAME and nothing under the metadata filters
			 * (MS-FSA 2.1.5.1.2.1 reports only the ADDED; smbtorture
			 * smb2.notify.mask).  inotify events carry no time, and
			 * ctime is too coarse to tell "written by the CREATE"
			 * from "changed right after", so an IN_ATTRIB that
			 * follows the entry's IN_CREATE within NW_FRESH_NS, with
			 * no close of the entry and no data written meanwhile,
			 * counts as creation.  (What is missed: a metadata
			 * change through the creating handle, still open, within
			 * that window; a client watching names has the ADDED.) */
			if (nw_fresh_find(d, e->name, now)) continue;
			nw_report(d, FILE_ACTION_MODIFIED,
				  FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_LAST_WRITE |
					  FILE_NOTIFY_CHANGE_LAST_ACCESS | FILE_NOTIFY_CHANGE_CREATION |
					  FILE_NOTIFY_CHANGE_EA | FILE_NOTIFY_CHANGE_SECURITY,
				  e->name, is_dir, false, false, todo);
		}
	}
	nw_end_batch();
}

/* nw_lock held.  Reports the changes queued by notify_watch_report (taken
 * off the queue before inotify was read: see the top of this file). */
static void nw_process_injected(struct nw_inject *list, struct nw_todo **todo)
{
	for (struct nw_inject *j = list; j; j = j->next) {
		/* The directory's watch, if any (one nw_dir per inode: the
		 * kernel hands out one wd per inode). */
		struct nw_dir *d = NULL;
		for (unsigned h = 0; h < NW_HASH && !d; h++) {
			struct list_head *pos;
			list_for_each(pos, &nw_hash[h]) {
				struct nw_dir *c = list_entry(pos, struct nw_dir, hash_link);
				if (c->dev == j->dev && c->ino == j->ino) {
					d = c;
					break;
				}
			}
		}
		if (d) nw_report(d, j->action, j->filter, j->name, j->is_dir, false, false, todo);
	}
	nw_end_batch();
}

/* Watcher thread, no lock held: watches the new subdirectories of tree
 * watches (and what they already contain) outside the lock.  Entries created
 * in one before its watch is added are not reported (a window of a few
 * microseconds after the directory appears). */
static void nw_run_todo(struct nw_todo *todo)
{
	while (todo) {
		struct nw_todo *t = todo;
		todo = t->next;
		nw_add_subtree(t->w, t->rel, 1, true);
		smb_mutex_lock(&nw_lock);
		if (t->w->touched) {
			t->w->touched = false;
			if (!t->w->removed) {
				struct notify_watch_event ev = { .kind = NOTIFY_WATCH_BATCH_END };
				t->w->fn(t->w->arg, &ev);
			}
		}
		smb_mutex_unlock(&nw_lock);
		nw_watch_put(t->w);
		free(t->rel);
		free(t);
	}
}

static void nw_free_injected(struct nw_inject *j)
{
	while (j) {
		struct nw_inject *n = j->next;
		free(j);
		j = n;
	}
}

static void *nw_main(void *arg)
{
	(void)arg;
	/* Large enough for many events; aligned for struct inotify_event. */
	static _Alignas(struct inotify_event) char buf[64 * 1024];
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = nw_ifd, .events = POLLIN },
			{ .fd = nw_stop_fd, .events = POLLIN },
			{ .fd = nw_inject_fd, .events = POLLIN },
		};
		int n = poll(pfd, 3, -1);
		if (n < 0) {
			if (errno == EINTR) continue;
			log_error("notify watcher: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) break;
		/* Take the reported changes first, then read inotify dry: every
		 * inotify event that happened before a change was reported is
		 * then processed before it. */
		struct nw_inject *injected = NULL;
		if (pfd[2].revents & POLLIN) {
			uint64_t cnt;
			if (read(nw_inject_fd, &cnt, sizeof(cnt)) < 0) { /* EAGAIN: taken below anyway */ }
			smb_mutex_lock(&nw_lock);
			injected = nw_inject_head;
			nw_inject_head = NULL;
			nw_inject_tail = &nw_inject_head;
			smb_mutex_unlock(&nw_lock);
		}
		bool more = (pfd[0].revents & POLLIN) || injected;
		while (more) {
			ssize_t len = read(nw_ifd, buf, sizeof(buf));
			if (len <= 0) break;   /* EAGAIN: inotify's queue is empty */
			/* A read that left room for one more event of the
			 * longest name emptied the queue at that moment. */
			more = (size_t)len > sizeof(buf) - sizeof(struct inotify_event) - NAME_MAX - 1;
			struct nw_todo *todo = NULL;
			uint64_t now = clock_monotonic_ns();
			smb_mutex_lock(&nw_lock);
			nw_process(buf, (size_t)len, now, &todo);
			smb_mutex_unlock(&nw_lock);
			nw_run_todo(todo);
		}
		if (injected) {
			struct nw_todo *todo = NULL;
			smb_mutex_lock(&nw_lock);
			nw_process_injected(injected, &todo);
			smb_mutex_unlock(&nw_lock);
			nw_run_todo(todo);
			nw_free_injected(injected);
		}
	}
	return NULL;
}

static void nw_start(void)
{
	smb_mutex_init(&nw_lock, LOCK_RANK_NOTIFY_WATCH, "notify_watch");
	for (unsigned i = 0; i < NW_HASH; i++) list_init(&nw_hash[i]);
	list_init(&nw_watches);
	nw_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	nw_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	nw_inject_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (nw_ifd < 0 || nw_stop_fd < 0 || nw_inject_fd < 0) {
		log_error("notify watcher: cannot create inotify instance: %s", strerror(errno));
		return;
	}
	if (pthread_create(&nw_thread, NULL, nw_main, NULL) != 0) {
		log_error("notify watcher: cannot start thread");
		return;
	}
	nw_running = true;
}

struct notify_watch *notify_watch_add(int dir_fd, bool tree, notify_watch_fn fn, void *arg)
{
	pthread_once(&nw_once, nw_start);
	if (!nw_running) {
		errno = ENOSYS;
		return NULL;
	}
	struct notify_watch *w = calloc(1, sizeof(*w));
	if (!w) return NULL;
	atomic_init(&w->refcount, 1);
	list_init(&w->refs);
	w->tree = tree;
	w->fn = fn;
	w->arg = arg;
	/* Our own handle on the directory: the caller's fd may be closed and
	 * its number reused while the watcher thread still scans below it. */
	w->root_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
	if (w->root_fd < 0) {
		free(w);
		return NULL;
	}
	smb_mutex_lock(&nw_lock);
	int rc = nw_attach(w, w->root_fd, "");
	if (rc == 0) list_add_tail(&w->link, &nw_watches);
	smb_mutex_unlock(&nw_lock);
	if (rc < 0) {
		int err = errno;
		nw_watch_put(w);
		errno = err;
		return NULL;
	}
	if (!tree) return w;
	/* Existing subdirectories (the root is already watched, so a change in
	 * it during the scan is seen). */
	int fd = nw_open_beneath(w->root_fd, ".");
	if (fd < 0) return w;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return w;
	}
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, VFS_STREAM_DIR))
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		}
		if (is_dir) nw_add_subtree(w, de->d_name, 1, false);
	}
	closedir(dp);
	return w;
}

void notify_watch_remove(struct notify_watch *w)
{
	if (!w) return;
	smb_mutex_lock(&nw_lock);
	w->removed = true;
	while (!list_empty(&w->refs)) nw_ref_free(list_entry(w->refs.next, struct nw_ref, watch_link), false);
	list_del(&w->link);
	smb_mutex_unlock(&nw_lock);
	nw_watch_put(w);
}

void notify_watch_shutdown(void)
{
	if (!nw_running) return;
	uint64_t one = 1;
	if (write(nw_stop_fd, &one, sizeof(one)) < 0) { /* the thread then never stops: nothing better to do */ }
	pthread_join(nw_thread, NULL);
	nw_running = false;
	close(nw_ifd);
	close(nw_stop_fd);
	close(nw_inject_fd);
	nw_ifd = nw_stop_fd = nw_inject_fd = -1;
	nw_free_injected(nw_inject_head);
	nw_inject_head = NULL;
	nw_inject_tail = &nw_inject_head;
}

void notify_watch_report(uint64_t dir_dev, uint64_t dir_ino, const char *name, uint32_t action, uint32_t filter,
			 bool is_dir)
{
	if (!nw_running) return;   /* nothing was ever watched */
	size_t n = strlen(name);
	struct nw_inject *j = malloc(sizeof(*j) + n + 1);
	if (!j) return;            /* a lost "modified": the client sees it on its next look */
	j->next = NULL;
	j->dev = dir_dev;
	j->ino = dir_ino;
	j->action = action;
	j->filter = filter;
	j->is_dir = is_dir;
	memcpy(j->name, name, n + 1);
	smb_mutex_lock(&nw_lock);
	if (list_empty(&nw_watches)) {
		smb_mutex_unlock(&nw_lock);
		free(j);
		return;
	}
	*nw_inject_tail = j;
	nw_inject_tail = &j->next;
	smb_mutex_unlock(&nw_lock);
	uint64_t one = 1;
	if (write(nw_inject_fd, &one, sizeof(one)) < 0) { /* the counter is full: the thread is woken already */ }
}
