#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "common/lock.h"
#include "common/log.h"
#include "server/lease_dir_watch.h"

/* Directory leases: local changes (fanotify).
 *
 * Directories that hold a directory lease are marked for fanotify
 * directory-entry events (FAN_REPORT_DFID_NAME); an event caused by any
 * process other than smbkitd itself (whose SMB changes break leases in
 * lease.c, honouring parent lease keys) breaks the directory's leases.  fanotify
 * reports the changing pid, which inotify cannot; it needs CAP_SYS_ADMIN,
 * and without it local changes go unnoticed (logged once).  This watcher is
 * separate from CHANGE_NOTIFY's (notify_watch.c).  Marks stay until the
 * directory is removed or the server exits; the table is deduplicated by
 * (dev, ino). */

struct dir_watch {
	struct dir_watch *next;       /* watches, under watch_lock */
	dev_t dev;
	ino_t ino;
	unsigned handle_len;
	unsigned char handle[MAX_HANDLE_SZ];  /* f_handle bytes of the directory */
	int handle_type;
};

static struct smb_mutex watch_lock;      /* rank lease_watch */
static struct dir_watch *watches;        /* under watch_lock */
static int fan_fd = -1;                  /* set once by watch_init */
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

static void *watch_main(void *arg)
{
	(void)arg;
	union {
		struct fanotify_event_metadata m;
		char b[8192];
	} u;
	pid_t self = getpid();
	for (;;) {
		ssize_t n = read(fan_fd, u.b, sizeof(u.b));
		if (n < 0) {
			if (errno == EINTR) continue;
			log_warn("lease: fanotify read: %s", strerror(errno));
			return NULL;
		}
		struct fanotify_event_metadata *m = &u.m;
		while (FAN_EVENT_OK(m, n)) {
			if (m->vers == FANOTIFY_METADATA_VERSION && m->pid != self && m->event_len > m->metadata_len) {
				/* First info record: the directory's fid (DFID_NAME). */
				const struct fanotify_event_info_fid *fid =
					(const struct fanotify_event_info_fid *)((const char *)m + m->metadata_len);
				const struct file_handle *fh = (const struct file_handle *)fid->handle;
				size_t avail = m->event_len - m->metadata_len;
				if (avail >= sizeof(*fid) + sizeof(*fh) &&
				    (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
				     fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID) &&
				    fh->handle_bytes <= MAX_HANDLE_SZ &&
				    avail >= sizeof(*fid) + sizeof(*fh) + fh->handle_bytes) {
					bool found = false;
					dev_t dev = 0;
					ino_t ino = 0;
					smb_mutex_lock(&watch_lock);
					for (struct dir_watch *w = watches; w; w = w->next) {
						if (w->handle_len == fh->handle_bytes && w->handle_type == fh->handle_type &&
						    !memcmp(w->handle, fh->f_handle, fh->handle_bytes)) {
							dev = w->dev;
							ino = w->ino;
							found = true;
							break;
						}
					}
					smb_mutex_unlock(&watch_lock);
					if (found) lease_break_dir(dev, ino, NULL, NULL);
				}
			}
			m = FAN_EVENT_NEXT(m, n);
		}
	}
	return NULL;
}

static void watch_init(void)
{
	smb_mutex_init(&watch_lock, LOCK_RANK_LEASE_WATCH, "lease_watch");
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME, O_RDONLY);
	if (fd < 0) {
		log_warn("lease: fanotify unavailable (%s): local changes do not break directory leases",
			 strerror(errno));
		return;
	}
	fan_fd = fd;
	pthread_t t;
	if (pthread_create(&t, NULL, watch_main, NULL) == 0) pthread_detach(t);
}

void lease_dir_watch_add(struct smbd_open *o)
{
	pthread_once(&watch_once, watch_init);
	if (fan_fd < 0 || o->fd < 0) return;
	struct dir_watch *w = calloc(1, sizeof(*w));
	if (!w) return;
	w->dev = o->dev;
	w->ino = o->ino;
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	int mount_id;
	if (name_to_handle_at(o->fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0) {
		free(w);
		return;
	}
	w->handle_len = h.fh.handle_bytes;
	w->handle_type = h.fh.handle_type;
	memcpy(w->handle, h.fh.f_handle, h.fh.handle_bytes);
	smb_mutex_lock(&watch_lock);
	for (struct dir_watch *x = watches; x; x = x->next) {
		if (x->dev == w->dev && x->ino == w->ino) {
			smb_mutex_unlock(&watch_lock);
			free(w);
			return;
		}
	}
	w->next = watches;
	watches = w;
	smb_mutex_unlock(&watch_lock);
	if (fanotify_mark(fan_fd, FAN_MARK_ADD,
			  FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_MODIFY |
				  FAN_EVENT_ON_CHILD | FAN_ONDIR,
			  o->fd, NULL) < 0)
		log_debug("lease: fanotify_mark on %s: %s", o->path ? o->path : "?", strerror(errno));
}
