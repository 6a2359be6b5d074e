/* Event-loop threads (loop.c).  Each loop owns an epoll set; every loop
 * watches the listening sockets with EPOLLEXCLUSIVE, so a new connection is
 * accepted, and from then on served, by exactly one loop thread. */
#ifndef SMBKIT_SERVER_LOOP_H
#define SMBKIT_SERVER_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/list.h"
#include "common/lock.h"

struct smbd_conn;

enum epoll_item_kind { EPI_LISTEN, EPI_CONN, EPI_WAKE };

struct epoll_item {
	enum epoll_item_kind kind;
	int fd;
	void *ptr;
};

/* Adaptive busy polling of one loop (config "busy poll").  After a batch
 * of events the loop polls epoll without sleeping for up to window_ns
 * before it blocks: a client that answers quickly (a request follows each
 * response within tens of microseconds, as in a metadata walk) then finds
 * the thread awake, and neither side pays a sleep and a cross-CPU wakeup
 * per request, which on a VM costs more than serving the request.  The
 * window adapts as a hypervisor's halt polling does: a block that ends
 * within max_ns (the poll was just too short) doubles it, a block longer
 * than max_ns (nothing came back soon) halves it, down to 0.  A quiet or
 * slow client therefore costs at most a few short polls, and an idle
 * server never polls. */
struct loop_poll {
	uint64_t window_ns;  /* current window; 0: block at once */
	uint64_t max_ns;     /* upper bound; 0: polling off */
};
#define LOOP_POLL_START_NS 10000ull   /* first window after a quick block */
/* Adjusts p after the loop blocked for blocked_ns (a pure function of its
 * inputs, unit-tested). */
void loop_poll_after_block(struct loop_poll *p, uint64_t blocked_ns);

struct smbd_loop {
	int index;
	int epfd;
	struct loop_poll poll;       /* touched only by the loop's thread */
	int wake_fd;                 /* eventfd: stop request / posted tasks */
	struct epoll_item wake_item;
	pthread_t thread;
	struct smb_mutex post_lock;  /* rank loop_post: guards posted */
	struct list_head posted;     /* struct loop_task, run on this loop's thread */
};

/* Runs fn(arg) on loop l's thread, from any thread (MS-SMB2 breaks and async
 * completions for a connection owned by another loop go through here).  The
 * caller hands over whatever references arg carries; fn releases them.
 * Returns 0, or -1 (out of memory) in which case fn is not called.  Tasks
 * still queued when the server stops run on the stopping thread after every
 * loop has exited, before connections are torn down. */
int loop_post(struct smbd_loop *l, void (*fn)(void *arg), void *arg);
/* The loop whose thread is calling, or NULL on any other thread. */
struct smbd_loop *loop_self(void);

/* Starts nloops threads watching the listening fds. */
int loops_start(const int *listen_fds, int nlisten, int nloops);
/* Asks every loop to stop, then joins them; connections are torn down. */
void loops_stop(void);

/* conn.c: called by the loop thread */
struct smbd_conn *conn_accept(struct smbd_loop *loop, int fd, const struct sockaddr_storage *peer);
void conn_on_readable(struct smbd_conn *c);
void conn_on_writable(struct smbd_conn *c);
/* Final teardown of a dead connection on its loop thread. */
void conn_teardown(struct smbd_conn *c);
bool conn_is_dead(const struct smbd_conn *c);
/* Loop thread: dead, or dropping once its output is flushed (no more
 * requests are dispatched on it). */
bool conn_is_closing(const struct smbd_conn *c);
struct epoll_item *conn_epoll_item(struct smbd_conn *c);
/* The events a new connection is registered for (loop_accept); conn.c
 * starts its record of the registered mask from the same value. */
#define CONN_EPOLL_EVENTS_INITIAL (EPOLLIN | EPOLLRDHUP)
void conn_update_events(struct smbd_conn *c);

/* dispatch.c: processes one whole SMB message received on c. */
void dispatch_message(struct smbd_conn *c, const uint8_t *msg, size_t len);

#endif
