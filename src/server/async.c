/* Asynchronous requests: AsyncId allocation, the connection's list of
 * pending requests (Connection.AsyncCommandList, MS-SMB2 3.3.1.7), final
 * responses (3.3.4.3, 3.3.4.4) and cancellation (3.3.5.16).  See the
 * interface comment in server.h.
 *
 * Lifetime: a record is created by smbd_go_async() with references on the
 * request's session, tree and (optional) open, and is freed when its final
 * response has been sent (or dropped, when the connection is gone).  The
 * connection does not hold a reference for it: conn_teardown ends every
 * pending request before dropping the loop's reference. */
#include <stdlib.h>
#include <string.h>

#include "server/loop.h"
#include "server/server.h"

/* A client may have this many requests pending on one connection; more is
 * refused with STATUS_INSUFFICIENT_RESOURCES (3.3.4.2 allows it). */
#define ASYNC_MAX_PER_CONN 4096u

struct smbd_async {
	struct list_head link;         /* conn->async_list, loop */
	struct smbd_conn *conn;        /* not counted: ended before the conn is freed */
	struct smbd_session *session;  /* owner: record (1), or NULL */
	struct smbd_tree *tree;        /* owner: record (1), or NULL */
	struct smbd_open *open;        /* owner: record (1), or NULL */
	smbd_async_cancel_fn cancel;
	void *arg;
	uint64_t async_id;
	uint64_t message_id;
	uint64_t session_id;
	uint16_t command;
	uint16_t credit_charge;
	uint32_t request_flags;        /* for the signing decision of the final response */
	bool encrypt;                  /* final response goes encrypted with session's key (3.3.4.1.4) */
	bool ending;                   /* cancel function running: ignore re-entry */
};

static void async_free(struct smbd_async *a)
{
	list_del(&a->link);
	if (a->conn->nasync) a->conn->nasync--;
	if (a->open) open_put(a->open);
	if (a->tree) tree_put(a->tree);
	if (a->session) session_put(a->session);
	free(a);
}

uint32_t smbd_go_async(struct smb2_request *req, struct smbd_open *open, smbd_async_cancel_fn cancel, void *arg,
		       struct smbd_async **out)
{
	struct smbd_conn *c = req->conn;
	*out = NULL;
	/* MS-SMB2 3.3.5.2.7 and <262>: Windows fails a request of a compound
	 * that would go asynchronous unless it is the last one of the chain. */
	if (!req->last_in_chain) return STATUS_INTERNAL_ERROR;
	if (req->async) return STATUS_INTERNAL_ERROR;
	if (c->nasync >= ASYNC_MAX_PER_CONN) return STATUS_INSUFFICIENT_RESOURCES;
	struct smbd_async *a = calloc(1, sizeof(*a));
	if (!a) return STATUS_INSUFFICIENT_RESOURCES;
	a->conn = c;
	if (req->session) { session_get(req->session); a->session = req->session; }
	if (req->tree) { tree_get(req->tree); a->tree = req->tree; }
	if (open) { open_get(open); a->open = open; }
	a->cancel = cancel;
	a->arg = arg;
	/* 3.3.4.2: nonzero, unique among the connection's outstanding async
	 * requests, not reused until the final response is sent.  A 64-bit
	 * counter never wraps in practice; skip 0 anyway. */
	if (c->async_id_next == 0) c->async_id_next = 1;
	a->async_id = c->async_id_next++;
	a->message_id = req->hdr.message_id;
	a->session_id = req->hdr.session_id;
	a->command = req->hdr.command;
	a->credit_charge = req->hdr.credit_charge;
	a->request_flags = req->hdr.flags;
	/* The final response is encrypted when the request was, or when the
	 * session or share encrypts everything (MS-SMB2 3.3.4.1.4).  The
	 * dispatcher guarantees an encrypted request's session is
	 * req->session. */
	a->encrypt = a->session && a->session->keyed && c->cipher &&
		(req->encrypted_by || a->session->encrypt_data || (a->tree && a->tree->encrypt_data));
	list_add_tail(&a->link, &c->async_list);
	c->nasync++;
	req->async = a;
	*out = a;
	return STATUS_PENDING;
}

uint64_t smbd_async_id(const struct smbd_async *a) { return a->async_id; }

/* 3.3.4.1.1: sign when the request was signed or the session requires it;
 * never for anonymous or guest sessions, which have no key. */
static bool async_should_sign(const struct smbd_async *a)
{
	const struct smbd_session *s = a->session;
	if (!s || !s->keyed) return false;
	if (a->request_flags & SMB2_FLAGS_SIGNED) return true;
	return s->signing_required;
}

void smbd_async_complete(struct smbd_async *a, uint32_t status, const uint8_t *body, size_t body_len)
{
	struct smbd_conn *c = a->conn;
	if (!conn_is_dead(c) && c->state != CONN_DEAD) {
		struct wbuf w;
		wbuf_init(&w, SMB2_HDR_SIZE + 16 + body_len);
		wbuf_zero(&w, SMB2_HDR_SIZE);
		if (body && body_len)
			wbuf_bytes(&w, body, body_len);
		else
			smb2_error_rsp_encode(&w);
		/* Responses end on an 8-byte boundary like compound elements do. */
		wbuf_align(&w, 0, 8);
		bool sign = !a->encrypt && async_should_sign(a);
		/* 3.3.4.3 / 3.3.4.4: the final response of an async request carries
		 * its AsyncId and grants no credits (they came with the interim). */
		struct smb2_hdr rh = {
			.credit_charge = a->credit_charge,
			.status = status,
			.command = a->command,
			.credit = 0,
			.flags = SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_ASYNC_COMMAND | (sign ? SMB2_FLAGS_SIGNED : 0),
			.message_id = a->message_id,
			.async_id = a->async_id,
			.session_id = a->session_id,
		};
		if (!w.err) {
			smb2_hdr_encode(w.p, &rh);
			if (sign)
				smb2_sign_in_place(c->signing_algo, a->session->keys.signing, w.p, w.len);
			size_t len;
			uint8_t *buf = wbuf_steal(&w, &len);
			if (a->encrypt) conn_send_encrypted(c, a->session, buf, len);
			else conn_send(c, buf, len);
		} else {
			log_warn("%s: could not build the final response of async %s", c->peer_str,
				 smb2_command_name(a->command));
		}
		wbuf_free(&w);
	}
	async_free(a);
}

/* Runs the owner's cancel function and sends the status it chooses. */
static void async_end(struct smbd_async *a, enum smbd_async_reason why)
{
	if (a->ending) return;
	a->ending = true;
	uint32_t status = STATUS_CANCELLED;
	if (a->cancel) status = a->cancel(a, why, a->arg);
	if (why == SMBD_ASYNC_CONN_GONE) {
		async_free(a);
		return;
	}
	smbd_async_complete(a, status, NULL, 0);
}

void smbd_async_cancel_all(struct smbd_conn *c, const struct smbd_session *s, const struct smbd_tree *t,
			   enum smbd_async_reason why)
{
	/* A cancel function may complete other records; restart the walk after
	 * each one instead of trusting a saved next pointer. */
	for (;;) {
		struct smbd_async *found = NULL;
		struct list_head *pos;
		list_for_each(pos, &c->async_list) {
			struct smbd_async *a = list_entry(pos, struct smbd_async, link);
			if (a->ending) continue;
			if (s && a->session != s) continue;
			if (t && a->tree != t) continue;
			found = a;
			break;
		}
		if (!found) return;
		async_end(found, why);
	}
}

void *smbd_async_find(struct smbd_conn *c, smbd_async_cancel_fn cancel, bool (*match)(void *arg, const void *ctx),
		      const void *ctx)
{
	struct list_head *pos;
	list_for_each(pos, &c->async_list) {
		struct smbd_async *a = list_entry(pos, struct smbd_async, link);
		if (a->ending || a->cancel != cancel) continue;
		if (match(a->arg, ctx)) return a->arg;
	}
	return NULL;
}

/* CANCEL (3.3.5.16): an async cancel names the request by AsyncId, a sync
 * one by MessageId.  Unknown or already finished requests are ignored: the
 * client raced with the final response.  No response is sent for CANCEL
 * itself. */
void smbd_async_cancel_request(struct smbd_conn *c, const struct smb2_hdr *h);
void smbd_async_cancel_request(struct smbd_conn *c, const struct smb2_hdr *h)
{
	bool by_async = (h->flags & SMB2_FLAGS_ASYNC_COMMAND) != 0;
	struct list_head *pos;
	list_for_each(pos, &c->async_list) {
		struct smbd_async *a = list_entry(pos, struct smbd_async, link);
		if (a->ending) continue;
		if (by_async ? a->async_id != h->async_id : a->message_id != h->message_id) continue;
		/* A request belongs to its session: another session on the same
		 * connection cannot cancel it. */
		if (h->session_id && a->session_id && h->session_id != a->session_id) return;
		log_debug("%s: cancel of %s (async id %llu)", c->peer_str, smb2_command_name(a->command),
			  (unsigned long long)a->async_id);
		async_end(a, SMBD_ASYNC_CANCELLED);
		return;
	}
	log_debug("%s: cancel of unknown request (%s id %llu) ignored", c->peer_str, by_async ? "async" : "message",
		  (unsigned long long)(by_async ? h->async_id : h->message_id));
}

/* Ends pending requests whose open has been closed since they went async
 * (its ids are cleared when it is unpublished, see open_table_remove). */
void smbd_async_sweep_closed(struct smbd_conn *c);
void smbd_async_sweep_closed(struct smbd_conn *c)
{
	for (;;) {
		struct smbd_async *found = NULL;
		struct list_head *pos;
		list_for_each(pos, &c->async_list) {
			struct smbd_async *a = list_entry(pos, struct smbd_async, link);
			if (a->ending || !a->open) continue;
			smb_mutex_lock(&g_server.open_lock);
			bool closed = a->open->volatile_id == 0;
			smb_mutex_unlock(&g_server.open_lock);
			if (closed) {
				found = a;
				break;
			}
		}
		if (!found) return;
		async_end(found, SMBD_ASYNC_CLOSED);
	}
}
