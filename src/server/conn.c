/* A client connection: framing, send queue, teardown.
 *
 * Lifetime: conn_accept() creates the connection with one reference owned by
 * its loop thread and publishes it in g_server.conns.  conn_teardown() runs on
 * the loop thread once the connection is dead: it unpublishes the connection,
 * destroys its sessions (which close their trees and opens), closes the
 * socket and drops the loop's reference.  Sessions hold references of their
 * own, so the memory lives until the last of them is gone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/loop.h"
#include "server/access.h"
#include "server/server.h"
#include "transport/tcp.h"
#include "wire/transform.h"

/* One queued message.  The 4-byte transport header lives in the item and is
 * sent with the message in one gather write, so a response (up to 8 MiB of
 * READ data) is never copied just to put 4 bytes in front of it. */
struct send_item {
	struct list_head link;
	uint8_t frame[4]; /* direct-TCP length prefix (MS-SMB2 2.1) */
	uint8_t *alloc;   /* owned block holding buf (buf may start inside it) */
	uint8_t *buf;     /* the message */
	size_t len;       /* 4 + message length */
	size_t off;       /* bytes of frame + message already written */
};

/* Queues msg (taking ownership) and writes what the socket takes. */
static void sendq_push(struct smbd_conn *c, uint8_t *msg, size_t msg_len);

/* Stop reading new requests while this much output waits for the client. */
#define SENDQ_HIGH_WATER (32u * 1024 * 1024)
/* ... or while offloaded READ/WRITEs (io_pool.h) move this many bytes: a
 * client with a large credit window cannot make the server buffer more. */
#define IO_INFLIGHT_HIGH_WATER (64u * 1024 * 1024)
/* Frames at least this large are received into a buffer of their own (a
 * large WRITE): no growing of the receive buffer, no memmove of a partial
 * multi-MiB frame to its front after each batch, and the buffer is handed to
 * the request (io_pool.h) instead of copied.  Smaller frames are batched
 * in rbuf, which therefore never grows past RBUF_MAX. */
#define BIG_FRAME_MIN (256u * 1024)
#define RBUF_MAX (BIG_FRAME_MIN + 4 + 65536)

struct smbd_conn_priv {
	struct smbd_conn pub;
	struct epoll_item item;
	size_t sendq_bytes;       /* guarded by send_lock */
	/* The event mask registered with the loop's epoll (loop only):
	 * conn_update_events skips the epoll_ctl when it would not change,
	 * which is after nearly every request. */
	uint32_t epoll_events;
	bool close_after_flush;
	/* Written by the loop only; atomic because other threads ask
	 * conn_is_dead() (lease break routing) without the loop's help. */
	atomic_bool dead;
	const char *why;
	/* A large frame being received into its own buffer (loop). */
	uint8_t *big;             /* owned, NULL when none; or big_job's */
	size_t big_len, big_have;
	/* A streamed WRITE (io_pool.h) whose body is arriving in big, which
	 * the job owns; NULL when none. */
	struct io_job *big_job;
	bool big_stream_checked;  /* dispatch_can_stream was asked about big */
	bool big_answered;        /* big was answered early (an error): drop the rest */
	/* A large encrypted message is being decrypted on a worker
	 * (dispatch_large_message): later frames are received but not
	 * dispatched until it has been (conn_decrypt_finished).  A large frame
	 * completed meanwhile waits in held, and reading stops. */
	bool decrypting;
	uint8_t *held;            /* owned, NULL when none */
	size_t held_len;
	/* Offloaded requests not completed yet (loop). */
	unsigned io_inflight;
	size_t io_inflight_bytes;
};

static struct smbd_conn_priv *priv(struct smbd_conn *c) { return container_of(c, struct smbd_conn_priv, pub); }

void conn_get(struct smbd_conn *c) { atomic_fetch_add(&c->refcount, 1); }

void conn_put(struct smbd_conn *c)
{
	if (atomic_fetch_sub(&c->refcount, 1) != 1) return;
	/* Last reference: the connection was unpublished and its socket closed by
	 * conn_teardown, so this only frees memory and never blocks. */
	struct list_head *pos, *n;
	list_for_each_safe(pos, n, &c->sendq) {
		struct send_item *it = list_entry(pos, struct send_item, link);
		free(it->alloc);
		free(it);
	}
	if (c->cfg) config_put(c->cfg);
	free(priv(c)->big);
	free(priv(c)->held);
	free(c->seq_bitmap);
	free(c->rbuf);
	smb_mutex_destroy(&c->send_lock);
	free(priv(c));
}

bool conn_is_closing(const struct smbd_conn *c)
{
	const struct smbd_conn_priv *p = container_of(c, struct smbd_conn_priv, pub);
	return conn_is_dead(c) || p->close_after_flush;
}

struct epoll_item *conn_epoll_item(struct smbd_conn *c) { return &priv(c)->item; }
bool conn_is_dead(const struct smbd_conn *c)
{
	return atomic_load_explicit(&container_of(c, struct smbd_conn_priv, pub)->dead, memory_order_relaxed);
}

struct smbd_conn *conn_accept(struct smbd_loop *loop, int fd, const struct sockaddr_storage *peer)
{
	struct smbd_config *cfg = server_config_get();
	char peer_str[64];
	tcp_addr_str(peer, peer_str, sizeof(peer_str));

	smb_mutex_lock(&g_server.conn_lock);
	bool full = g_server.nconns >= cfg->max_connections;
	smb_mutex_unlock(&g_server.conn_lock);
	if (full) {
		log_warn("refused connection from %s: connection limit (%u) reached", peer_str, cfg->max_connections);
		close(fd);
		config_put(cfg);
		return NULL;
	}
	/* [global] hosts allow / hosts deny (access.h): refused before a
	 * single byte is read, so a refused host reaches no parser. */
	if (!config_host_allowed(cfg, peer)) {
		log_warn("refused connection from %s: not allowed by hosts allow/hosts deny", peer_str);
		close(fd);
		config_put(cfg);
		return NULL;
	}

	struct smbd_conn_priv *p = calloc(1, sizeof(*p));
	uint8_t *bitmap = calloc(SEQ_WINDOW_MAX / 8, 1);
	if (!p || !bitmap) {
		free(p);
		free(bitmap);
		close(fd);
		config_put(cfg);
		return NULL;
	}
	struct smbd_conn *c = &p->pub;
	atomic_init(&c->refcount, 1);   /* the loop's reference */
	c->fd = fd;
	c->peer = *peer;
	memcpy(c->peer_str, peer_str, sizeof(c->peer_str));
	c->loop = loop;
	c->cfg = cfg;                  /* takes the reference from server_config_get */
	c->state = CONN_NEW;
	c->seq_low = 0;
	c->seq_range = 1;              /* one credit until NEGOTIATE grants more */
	c->seq_bitmap = bitmap;
	list_init(&c->sessions);
	list_init(&c->sendq);
	smb_mutex_init(&c->send_lock, LOCK_RANK_CONN_SEND, "conn_send");
	c->async_id_next = 1;
	list_init(&c->async_list);
	p->item.kind = EPI_CONN;
	p->item.fd = fd;
	p->item.ptr = c;
	p->epoll_events = CONN_EPOLL_EVENTS_INITIAL;   /* what loop_accept registers */

	int one = 1;
	setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));

	/* Fully built: publish. */
	smb_mutex_lock(&g_server.conn_lock);
	list_add_tail(&c->link, &g_server.conns);
	g_server.nconns++;
	smb_mutex_unlock(&g_server.conn_lock);
	log_info("connection from %s", c->peer_str);
	return c;
}

void conn_disconnect(struct smbd_conn *c, const char *why)
{
	struct smbd_conn_priv *p = priv(c);
	if (!p->close_after_flush && why)
		log_info("disconnecting %s: %s", c->peer_str, why);
	p->close_after_flush = true;
	if (!p->why) p->why = why;
	smb_mutex_lock(&c->send_lock);
	bool empty = list_empty(&c->sendq);
	smb_mutex_unlock(&c->send_lock);
	if (empty) {
		p->dead = true;
		c->state = CONN_DEAD;
	}
}

/* Writes as much queued output as the socket takes.  Loop thread only. */
static void conn_flush(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	for (;;) {
		smb_mutex_lock(&c->send_lock);
		if (list_empty(&c->sendq)) {
			smb_mutex_unlock(&c->send_lock);
			break;
		}
		struct iovec iov[32];
		int n = 0;
		struct list_head *pos;
		list_for_each(pos, &c->sendq) {
			struct send_item *it = list_entry(pos, struct send_item, link);
			if (it->off < 4) {
				iov[n].iov_base = it->frame + it->off;
				iov[n++].iov_len = 4 - it->off;
				iov[n].iov_base = it->buf;
				iov[n++].iov_len = it->len - 4;
			} else {
				iov[n].iov_base = it->buf + (it->off - 4);
				iov[n++].iov_len = it->len - it->off;
			}
			if (n > 30) break;
		}
		smb_mutex_unlock(&c->send_lock);
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR) continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) return;
			p->dead = true;
			c->state = CONN_DEAD;
			if (!p->why) p->why = "send failed";
			return;
		}
		smb_mutex_lock(&c->send_lock);
		size_t left = (size_t)w;
		while (left && !list_empty(&c->sendq)) {
			struct send_item *it = list_entry(c->sendq.next, struct send_item, link);
			size_t avail = it->len - it->off;
			size_t take = left < avail ? left : avail;
			it->off += take;
			left -= take;
			p->sendq_bytes -= take;
			if (it->off == it->len) {
				list_del(&it->link);
				free(it->alloc);
				free(it);
			}
		}
		smb_mutex_unlock(&c->send_lock);
	}
	if (p->close_after_flush) {
		p->dead = true;
		c->state = CONN_DEAD;
	}
}

static void sendq_push(struct smbd_conn *c, uint8_t *msg, size_t msg_len)
{
	struct send_item *it = malloc(sizeof(*it));
	if (!it) {
		free(msg);
		conn_disconnect(c, "out of memory");
		return;
	}
	tcp_frame_header(it->frame, msg_len);
	it->alloc = msg;
	it->buf = msg;
	it->len = msg_len + 4;
	it->off = 0;
	smb_mutex_lock(&c->send_lock);
	list_add_tail(&it->link, &c->sendq);
	priv(c)->sendq_bytes += it->len;
	smb_mutex_unlock(&c->send_lock);
	conn_flush(c);
}

void conn_send(struct smbd_conn *c, uint8_t *buf, size_t len)
{
	sendq_push(c, buf, len);
}

/* Nonces (MS-SMB2 2.2.41: never reused within a session): the first 8
 * bytes are the session's encrypt_nonce counter, which only grows (atomic,
 * so senders on any thread get distinct values) and would need 2^64
 * messages to wrap; the rest of the cipher's 11/12 bytes and the 16-byte
 * field's padding stay zero.  The key is the session's own server-to-client
 * key, which no other session shares and the client never encrypts with
 * (it uses the client-to-server key), so (key, nonce) pairs never repeat. */
static uint8_t *seal_message(struct smbd_conn *c, struct smbd_session *s, const uint8_t *buf, size_t len,
			     size_t *sealed_len)
{
	uint8_t nonce16[16] = { 0 };
	uint64_t n = atomic_fetch_add(&s->encrypt_nonce, 1);
	put_le64(nonce16, n);
	size_t tlen = SMB2_TRANSFORM_HDR_SIZE + len;
	uint8_t *sealed = malloc(tlen);
	/* The transform's SessionId is the one in the (first) response header:
	 * s->id is already 0 when a LOGOFF response is sent. */
	uint64_t session_id = len >= SMB2_HDR_SIZE ? get_le64(buf + 40) : 0;
	if (!sealed || len > UINT32_MAX || len < SMB2_HDR_SIZE ||
	    smb3_encrypt_message(c->cipher, s->keys.encrypt, session_id, nonce16, buf, len, sealed) != 0) {
		free(sealed);
		return NULL;
	}
	*sealed_len = tlen;
	return sealed;
}

/* block: SMB2_TRANSFORM_HDR_SIZE bytes of room, then the len-byte message,
 * which is encrypted where it is. */
static int seal_in_place(struct smbd_conn *c, struct smbd_session *s, uint8_t *block, size_t len)
{
	uint8_t nonce16[16] = { 0 };
	put_le64(nonce16, atomic_fetch_add(&s->encrypt_nonce, 1));   /* see seal_message */
	const uint8_t *msg = block + SMB2_TRANSFORM_HDR_SIZE;
	if (len > UINT32_MAX || len < SMB2_HDR_SIZE) return -1;
	return smb3_encrypt_message(c->cipher, s->keys.encrypt, get_le64(msg + 40), nonce16, msg, len, block);
}

void conn_send_encrypted(struct smbd_conn *c, struct smbd_session *s, uint8_t *buf, size_t len)
{
	size_t tlen = 0;
	uint8_t *sealed = seal_message(c, s, buf, len, &tlen);
	free(buf);
	if (!sealed) {
		conn_disconnect(c, "could not encrypt a response");
		return;
	}
	sendq_push(c, sealed, tlen);
}

/* ---- offloaded requests (io_pool.h) ---- */

/* Should the connection stop reading?  sendq_bytes: read by the caller
 * under send_lock. */
static bool conn_throttled_at(struct smbd_conn *c, size_t sendq_bytes)
{
	struct smbd_conn_priv *p = priv(c);
	/* The body of a streamed WRITE is always received: its job waits for
	 * it, and its bytes are counted already. */
	if (p->big_job) return false;
	/* Waiting for a decryption: a second large frame has arrived, or the
	 * frames after it fill rbuf (which never has room otherwise). */
	if (p->held) return true;
	if (p->decrypting && !p->big && c->rcap >= RBUF_MAX && c->rcap - c->rlen < 65536) return true;
	return p->io_inflight_bytes > IO_INFLIGHT_HIGH_WATER || sendq_bytes > SENDQ_HIGH_WATER;
}

static bool conn_throttled(struct smbd_conn *c)
{
	smb_mutex_lock(&c->send_lock);
	size_t queued = priv(c)->sendq_bytes;
	smb_mutex_unlock(&c->send_lock);
	return conn_throttled_at(c, queued);
}

static void conn_process_frames(struct smbd_conn *c);

void conn_io_account(struct smbd_conn *c, size_t bytes, bool start)
{
	struct smbd_conn_priv *p = priv(c);
	if (start) {
		p->io_inflight++;
		p->io_inflight_bytes += bytes;
	} else {
		p->io_inflight--;
		p->io_inflight_bytes -= bytes;
	}
}

/* Loop thread, after work that ran off the loop: sends what it queued,
 * dispatches the frames that arrived while the connection was throttled
 * (they wait in rbuf; nothing would wake the loop for them), then tears
 * the connection down or updates what it waits for. */
static void conn_resume(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	conn_flush(c);
	if (!p->dead && !p->close_after_flush && c->rlen && !conn_throttled(c)) conn_process_frames(c);
	if (p->dead) conn_teardown(c);
	else conn_update_events(c);
}

/* Loop thread: the worker queued the job's response (or failed to); or
 * (conn_io_discard) a parked streamed WRITE of a dead connection ends. */
static void io_done_task(void *arg)
{
	struct io_job *job = arg;
	struct smbd_conn *c = job->conn;
	struct smbd_conn_priv *p = priv(c);
	conn_io_account(c, job->inflight_bytes, false);
	if (!p->dead) {
		if (job->send_failed) conn_disconnect(c, "could not build or encrypt a READ/WRITE response");
		conn_resume(c);
	}
	if (job->encrypt_with) session_put(job->encrypt_with);
	close(job->fd);
	/* The open's close may have waited for this job: it runs now, here,
	 * as root like any close outside a request (the frames processed
	 * above may have left a user in effect; session.c, identity). */
	smbd_become_root();
	open_io_unpin(job->open);
	open_put(job->open);
	tree_put(job->tree);
	session_put(job->session);
	if (job->wipe_msg) explicit_bzero(job->msg, job->msg_len);
	/* A signed streamed WRITE parked mid-body when its connection died. */
	smb2_sign_stream_free(job->stream.mac);
	free(job->msg_base);
	free(job);
	conn_put(c);
}

void conn_io_discard(struct io_job *job) { io_done_task(job); }

void conn_io_finished(struct io_job *job, uint8_t *block, size_t rsp_len)
{
	struct smbd_conn *c = job->conn;
	uint8_t *msg = block ? block + IO_RSP_HEADROOM : NULL;
	if (block && job->encrypt_with) {
		/* In place: the transform header goes into the headroom and the
		 * ciphertext over the plaintext (AEAD in == out is allowed). */
		if (seal_in_place(c, job->encrypt_with, block, rsp_len) == 0) {
			msg = block;
			rsp_len += SMB2_TRANSFORM_HDR_SIZE;
		} else {
			free(block);
			block = msg = NULL;
			job->send_failed = true;
		}
	}
	struct send_item *it = block ? malloc(sizeof(*it)) : NULL;
	if (block && !it) {
		free(block);
		job->send_failed = true;
	}
	if (it) {
		/* Queued from this thread, written by the loop (io_done_task):
		 * the send queue is the one structure both share, under its lock. */
		tcp_frame_header(it->frame, rsp_len);
		it->alloc = block;
		it->buf = msg;
		it->len = rsp_len + 4;
		it->off = 0;
		smb_mutex_lock(&c->send_lock);
		list_add_tail(&it->link, &c->sendq);
		priv(c)->sendq_bytes += it->len;
		smb_mutex_unlock(&c->send_lock);
	}
	/* The job's references are released on the loop thread.  loop_post
	 * fails only without memory; retry rather than strand the counters. */
	while (loop_post(c->loop, io_done_task, job) < 0) usleep(1000);
}

void conn_on_writable(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	conn_flush(c);
	/* Output drained below the high-water mark: requests left in rbuf
	 * while throttled go on now (the socket may stay silent). */
	if (!p->dead && !p->close_after_flush && c->rlen && !conn_throttled(c)) conn_process_frames(c);
}

void conn_update_events(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	smb_mutex_lock(&c->send_lock);
	bool pending = !list_empty(&c->sendq);
	size_t queued = p->sendq_bytes;
	smb_mutex_unlock(&c->send_lock);
	bool throttle = conn_throttled_at(c, queued);
	uint32_t want = (throttle || p->close_after_flush ? 0 : EPOLLIN | EPOLLRDHUP) | (pending ? EPOLLOUT : 0);
	if (want == p->epoll_events) return;
	struct epoll_event ev = { .events = want, .data.ptr = &p->item };
	if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) p->epoll_events = want;
}

/* A large frame's fixed part is in: hand it to the pool now if it is a
 * WRITE that can be streamed (io_pool.h), once per frame. */
static void conn_big_try_stream(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	if (p->big_stream_checked || p->big_have < SMB2_HDR_SIZE + 48) return;
	p->big_stream_checked = true;
	/* Nothing is dispatched before an earlier message being decrypted. */
	if (p->decrypting) return;
	if (!dispatch_can_stream(c, p->big, p->big_have)) return;
	struct io_job *job = dispatch_message_streamed(c, p->big, p->big_have, p->big_len);
	if (job) p->big_job = job;
	else p->big_answered = true;
}

/* Loop: receive of a big frame advanced to big_have. */
static void conn_big_progress(struct smbd_conn *c, size_t added)
{
	struct smbd_conn_priv *p = priv(c);
	/* (The whole frame may have come in the receive that completed its
	 * fixed part: it then streams with nothing left to wait for.) */
	if (!p->big_job) {
		conn_big_try_stream(c);
		/* A new job was queued with everything received so far. */
		if (p->big_job) added = 0;
	}
	if (p->big_job) {
		struct io_job *job = p->big_job;
		if (p->big_have == p->big_len) {
			/* Complete: the loop is done with the buffer before the job
			 * can finish and free it. */
			p->big = NULL;
			p->big_job = NULL;
		}
		io_stream_progress(job, added);
		return;
	}
	if (p->big_have == p->big_len && p->big) {
		uint8_t *m = p->big;
		p->big = NULL;
		if (p->big_answered) {
			free(m);   /* answered while it arrived */
		} else if (p->decrypting) {
			p->held = m;
			p->held_len = p->big_len;
		} else if (dispatch_large_message(c, m, p->big_len)) {
			p->decrypting = true;
		}
	}
}

void conn_decrypt_finished(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	p->decrypting = false;
	if (p->dead) {
		conn_teardown(c);   /* a no-op when it was torn down already */
		return;
	}
	if (p->held && !p->close_after_flush) {
		uint8_t *m = p->held;
		p->held = NULL;
		if (dispatch_large_message(c, m, p->held_len)) p->decrypting = true;
	}
	conn_resume(c);
}

/* Dispatches the complete frames buffered in rbuf; an incomplete large
 * frame at the end moves to a buffer of its own (BIG_FRAME_MIN).  Stops
 * early when the connection is throttled; the rest stays in rbuf. */
static void conn_process_frames(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	size_t off = 0;
	while (!p->dead && !p->close_after_flush) {
		size_t mlen;
		/* NetBIOS session keepalive (0x85, length 0): skip. */
		if (c->rlen - off >= 4 && c->rbuf[off] == 0x85) {
			off += 4;
			continue;
		}
		int fr = tcp_frame_parse(c->rbuf + off, c->rlen - off, &mlen);
		if (fr < 0) {
			conn_disconnect(c, "invalid transport frame");
			break;
		}
		if (fr == 0) {
			/* The prefix was valid (tcp_frame_parse checked it): a large
			 * frame continues in its own buffer. */
			if (c->rlen - off >= 4) {
				const uint8_t *f = c->rbuf + off;
				size_t n = ((size_t)f[1] << 16) | ((size_t)f[2] << 8) | f[3];
				if (n >= BIG_FRAME_MIN) {
					uint8_t *big = malloc(n);
					if (!big) {
						conn_disconnect(c, "out of memory");
						break;
					}
					size_t have = c->rlen - off - 4;
					memcpy(big, f + 4, have);
					p->big = big;
					p->big_len = n;
					p->big_have = have;
					p->big_stream_checked = false;
					p->big_answered = false;
					off = c->rlen;
					conn_big_try_stream(c);
				}
			}
			break;
		}
		/* In arrival order: not past a message still being decrypted. */
		if (p->decrypting) break;
		dispatch_message(c, c->rbuf + off + 4, mlen);
		off += 4 + mlen;
		if (conn_throttled(c)) break;
	}
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

void conn_on_readable(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	/* Read a bounded amount per wakeup so one client cannot starve others. */
	for (int rounds = 0; rounds < 16 && !p->dead && !p->close_after_flush; rounds++) {
		/* Throttled (output or offloaded I/O piling up): leave the bytes
		 * in the socket; TCP flow control slows the client down. */
		if (conn_throttled(c)) return;
		uint8_t *dst;
		size_t room;
		if (p->big) {
			dst = p->big + p->big_have;
			room = p->big_len - p->big_have;
		} else {
			if (c->rcap - c->rlen < 65536 && c->rcap < RBUF_MAX) {
				size_t ncap = c->rcap ? c->rcap * 2 : 131072;
				if (ncap > RBUF_MAX) ncap = RBUF_MAX;
				uint8_t *nb = realloc(c->rbuf, ncap);
				if (!nb) {
					conn_disconnect(c, "out of memory");
					return;
				}
				c->rbuf = nb;
				c->rcap = ncap;
			}
			dst = c->rbuf + c->rlen;
			room = c->rcap - c->rlen;
		}
		ssize_t r = recv(c->fd, dst, room, 0);
		if (r == 0) {
			p->dead = true;
			c->state = CONN_DEAD;
			if (!p->why) p->why = "client closed the connection";
			return;
		}
		if (r < 0) {
			if (errno == EINTR) continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) return;
			p->dead = true;
			c->state = CONN_DEAD;
			if (!p->why) p->why = "receive failed";
			return;
		}
		if (p->big) {
			p->big_have += (size_t)r;
			conn_big_progress(c, (size_t)r);
			continue;
		}
		c->rlen += (size_t)r;
		conn_process_frames(c);
		/* A short read drained the socket: the level-triggered epoll
		 * reports what arrives next, so another recv here would only
		 * return EAGAIN, one system call per request-response round
		 * trip (bench/RESULTS.md, session 16). */
		if ((size_t)r < room) return;
	}
}

void conn_teardown(struct smbd_conn *c)
{
	struct smbd_conn_priv *p = priv(c);
	/* Closing the sessions' files (delete-on-close switches to each
	 * open's user itself) starts from root (session.c, identity). */
	smbd_become_root();
	/* Unpublish first. */
	smb_mutex_lock(&g_server.conn_lock);
	bool was_listed = c->link.next != &c->link && c->link.next != NULL;
	if (was_listed) {
		list_del(&c->link);
		g_server.nconns--;
	}
	smb_mutex_unlock(&g_server.conn_lock);
	if (!was_listed) return;
	epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	log_info("connection from %s closed (%s)", c->peer_str, p->why ? p->why : "closed");
	/* Pending async requests first: nothing can be sent any more, they
	 * only drop their session/tree/open references. */
	p->dead = true;
	c->state = CONN_DEAD;
	/* A streamed WRITE whose body will not arrive: its buffer is the
	 * job's, which ends now or (queued or running) by itself. */
	if (p->big_job) {
		struct io_job *job = p->big_job;
		p->big_job = NULL;
		p->big = NULL;
		io_stream_abort(job);
	}
	/* A frame waiting for a decryption that will not be dispatched (the
	 * decryption's job ends by itself, conn_decrypt_finished). */
	free(p->held);
	p->held = NULL;
	smbd_async_cancel_all(c, NULL, NULL, SMBD_ASYNC_CONN_GONE);
	/* Sessions close their trees and opens; each is unpublished before its
	 * files are closed. */
	while (!list_empty(&c->sessions)) {
		struct smbd_session *s = list_entry(c->sessions.next, struct smbd_session, conn_link);
		session_destroy(s);
	}
	close(c->fd);
	c->fd = -1;
	p->dead = true;
	conn_put(c);   /* the loop's reference */
}
