/* Event-loop threads.  See loop.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/io_pool.h"
#include "server/loop.h"
#include "server/server.h"

struct loop_task {
	struct list_head link;
	void (*fn)(void *arg);
	void *arg;
};

static __thread struct smbd_loop *loop_current;

struct smbd_loop *loop_self(void) { return loop_current; }

int loop_post(struct smbd_loop *l, void (*fn)(void *arg), void *arg)
{
	struct loop_task *t = malloc(sizeof(*t));
	if (!t) return -1;
	t->fn = fn;
	t->arg = arg;
	smb_mutex_lock(&l->post_lock);
	list_add_tail(&t->link, &l->posted);
	smb_mutex_unlock(&l->post_lock);
	uint64_t one = 1;
	if (write(l->wake_fd, &one, sizeof(one)) < 0) { /* counter saturated: a wakeup is pending anyway */ }
	return 0;
}

/* Runs every task posted so far; tasks posted meanwhile wait for the next
 * wakeup, so a task that posts again cannot starve the loop. */
static void loop_run_posted(struct smbd_loop *l)
{
	struct list_head batch;
	list_init(&batch);
	smb_mutex_lock(&l->post_lock);
	if (!list_empty(&l->posted)) {
		batch.next = l->posted.next;
		batch.prev = l->posted.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&l->posted);
	}
	smb_mutex_unlock(&l->post_lock);
	while (!list_empty(&batch)) {
		struct loop_task *t = list_entry(batch.next, struct loop_task, link);
		list_del(&t->link);
		/* Tasks are not requests: each starts as root, whatever user the
		 * previous request left in effect (session.c, identity). */
		smbd_become_root();
		t->fn(t->arg);
		free(t);
	}
	smbd_become_root();
}

static struct smbd_loop *loops;
static int nloops_running;
static struct epoll_item *listen_items;
static int nlisten_items;

static void loop_accept(struct smbd_loop *l, int lfd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR) continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		struct smbd_conn *c = conn_accept(l, fd, &peer);
		if (!c) continue; /* refused and closed (limit), already logged */
		struct epoll_event ev = { .events = CONN_EPOLL_EVENTS_INITIAL, .data.ptr = conn_epoll_item(c) };
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("epoll_ctl: %s", strerror(errno));
			conn_disconnect(c, "epoll failure");
			conn_teardown(c);
		}
	}
}

/* Waits for events: polls for up to the current window (loop.h, struct
 * loop_poll), then blocks for at most a second.  Returns epoll_wait's
 * result. */
static int loop_wait(struct smbd_loop *l, struct epoll_event *evs, int max)
{
	struct loop_poll *p = &l->poll;
	if (p->window_ns) {
		uint64_t start = clock_monotonic_ns();
		do {
			int n = epoll_wait(l->epfd, evs, max, 0);
			if (n != 0) return n;
			sched_yield();   /* polite: a runnable client on this CPU goes first */
		} while (clock_monotonic_ns() - start < p->window_ns && !atomic_load(&g_server.stopping));
	}
	if (!p->max_ns) return epoll_wait(l->epfd, evs, max, 1000);
	uint64_t before = clock_monotonic_ns();
	int n = epoll_wait(l->epfd, evs, max, 1000);
	loop_poll_after_block(p, clock_monotonic_ns() - before);
	return n;
}

static void *loop_main(void *arg)
{
	struct smbd_loop *l = arg;
	struct epoll_event evs[64];
	loop_current = l;
	/* "busy poll" is read once, when the loop starts (docs/configuration.md). */
	struct smbd_config *cfg = server_config_get();
	l->poll.window_ns = 0;
	l->poll.max_ns = (uint64_t)cfg->busy_poll_us * 1000;
	config_put(cfg);
	while (!atomic_load(&g_server.stopping)) {
		int n = loop_wait(l, evs, 64);
		if (n < 0) {
			if (errno == EINTR) continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		/* Posted tasks run after the whole batch: a task may tear down
		 * and free a connection (an I/O completion, io_pool.h) whose
		 * event is still further down in evs. */
		bool run_posted = false;
		for (int i = 0; i < n; i++) {
			struct epoll_item *it = evs[i].data.ptr;
			switch (it->kind) {
			case EPI_LISTEN:
				smbd_become_root();
				loop_accept(l, it->fd);
				break;
			case EPI_WAKE: {
				uint64_t v;
				if (read(l->wake_fd, &v, sizeof(v)) < 0) { /* nothing to do */ }
				run_posted = true;
				break;
			}
			case EPI_CONN: {
				struct smbd_conn *c = it->ptr;
				if (evs[i].events & EPOLLOUT) conn_on_writable(c);
				if (!conn_is_dead(c) && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
					conn_on_readable(c);
				if (conn_is_dead(c))
					conn_teardown(c);
				else
					conn_update_events(c);
				break;
			}
			}
		}
		if (run_posted) loop_run_posted(l);
	}
	return NULL;
}

int loops_start(const int *listen_fds, int nlisten, int nloops)
{
	/* Workers for large READ/WRITE (io_pool.h): two per loop, so that
	 * each loop's connections can have a pread/pwrite running on each
	 * core while the loop itself receives and sends. */
	int nworkers = nloops * 2;
	if (nworkers > 16) nworkers = 16;
	if (io_pool_start(nworkers) != 0) return -1;
	loops = calloc((size_t)nloops, sizeof(*loops));
	listen_items = calloc((size_t)nlisten, sizeof(*listen_items));
	if (!loops || !listen_items) return -1;
	nlisten_items = nlisten;
	for (int j = 0; j < nlisten; j++) {
		listen_items[j].kind = EPI_LISTEN;
		listen_items[j].fd = listen_fds[j];
	}
	for (int i = 0; i < nloops; i++) {
		struct smbd_loop *l = &loops[i];
		l->index = i;
		smb_mutex_init(&l->post_lock, LOCK_RANK_LOOP_POST, "loop_post");
		list_init(&l->posted);
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->epfd < 0 || l->wake_fd < 0) return -1;
		l->wake_item.kind = EPI_WAKE;
		l->wake_item.fd = l->wake_fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->wake_item };
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev);
		for (int j = 0; j < nlisten; j++) {
			/* EPOLLEXCLUSIVE: one loop wakes per incoming connection. */
			struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_items[j] };
			if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, listen_fds[j], &lev) < 0) return -1;
		}
		if (pthread_create(&l->thread, NULL, loop_main, l) != 0) return -1;
		nloops_running++;
	}
	return 0;
}

void loops_stop(void)
{
	atomic_store(&g_server.stopping, 1);
	for (int i = 0; i < nloops_running; i++) {
		uint64_t one = 1;
		if (write(loops[i].wake_fd, &one, sizeof(one)) < 0) { /* loop wakes within 1 s anyway */ }
	}
	for (int i = 0; i < nloops_running; i++) pthread_join(loops[i].thread, NULL);
	/* Offloaded requests finish (each posts its completion to its loop)
	 * before those completions run below and connections go away. */
	io_pool_stop();
	/* Tasks posted after a loop's last wakeup still own references: run them
	 * here, where no loop runs any more. */
	for (int i = 0; i < nloops_running; i++) loop_run_posted(&loops[i]);
	/* Tear down connections that are still open, now that no loop runs. */
	for (;;) {
		struct smbd_conn *c = NULL;
		smb_mutex_lock(&g_server.conn_lock);
		if (!list_empty(&g_server.conns)) c = list_entry(g_server.conns.next, struct smbd_conn, link);
		smb_mutex_unlock(&g_server.conn_lock);
		if (!c) break;
		conn_disconnect(c, "server shutting down");
		conn_teardown(c);
	}
	for (int i = 0; i < nloops_running; i++) {
		close(loops[i].epfd);
		close(loops[i].wake_fd);
	}
	free(loops);
	free(listen_items);
	loops = NULL;
	nloops_running = 0;
}
