/* Request dispatcher: transport message -> (compound) SMB2 commands ->
 * handlers -> one response message.
 *
 * Per command (MS-SMB2 3.3.5.2): header validation, message id and credit
 * charge checks against the connection's sequence window (3.3.5.2.3), the
 * session and tree lookups (3.3.5.2.9, 3.3.5.2.11), signature verification
 * (3.3.5.2.4), the handler, and the response header with granted credits.
 * Compound chains (3.3.5.2.7) are answered in one message with 8-byte padded
 * responses, each signed on its own. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/loop.h"
#include "server/server.h"
#include "wire/transform.h"

/* async.c */
void smbd_async_cancel_request(struct smbd_conn *c, const struct smb2_hdr *h);
void smbd_async_sweep_closed(struct smbd_conn *c);

struct smb2_command_desc {
	smb2_handler_fn fn;
	uint16_t structure_size;  /* request StructureSize (MS-SMB2 2.2.x) */
	bool need_session;
	bool need_tree;
};


static const struct smb2_command_desc commands[SMB2_COMMAND_COUNT] = {
	[SMB2_NEGOTIATE] = { smb2_negotiate, 36, false, false },
	[SMB2_SESSION_SETUP] = { smb2_session_setup, 25, false, false },
	[SMB2_LOGOFF] = { smb2_logoff, 4, true, false },
	[SMB2_TREE_CONNECT] = { smb2_tree_connect, 9, true, false },
	[SMB2_TREE_DISCONNECT] = { smb2_tree_disconnect, 4, true, true },
	[SMB2_CREATE] = { smb2_create, 57, true, true },
	[SMB2_CLOSE] = { smb2_close, 24, true, true },
	[SMB2_FLUSH] = { smb2_flush, 24, true, true },
	[SMB2_READ] = { smb2_read, 49, true, true },
	[SMB2_WRITE] = { smb2_write, 49, true, true },
	[SMB2_LOCK] = { smb2_lock, 48, true, true },
	[SMB2_IOCTL] = { smb2_ioctl, 57, true, true },
	[SMB2_CANCEL] = { NULL, 4, false, false },
	[SMB2_ECHO] = { smb2_echo, 4, false, false },
	[SMB2_QUERY_DIRECTORY] = { smb2_query_directory, 33, true, true },
	[SMB2_CHANGE_NOTIFY] = { smb2_change_notify, 32, true, true },
	[SMB2_QUERY_INFO] = { smb2_query_info, 41, true, true },
	[SMB2_SET_INFO] = { smb2_set_info, 33, true, true },
	[SMB2_OPLOCK_BREAK] = { smb2_oplock_break, 24, true, true },  /* 24 oplock ack, 36 lease ack */
};

/* ---- sequence window (MS-SMB2 3.3.1.1) ---- */

static bool seq_test(const struct smbd_conn *c, uint64_t id)
{
	uint64_t bit = id % SEQ_WINDOW_MAX;
	return c->seq_bitmap[bit / 8] & (1u << (bit % 8));
}
static void seq_flip(struct smbd_conn *c, uint64_t id)
{
	uint64_t bit = id % SEQ_WINDOW_MAX;
	c->seq_bitmap[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Consumes [mid, mid+charge) from the window.  Returns false if any id is
 * outside the granted window or already used: the client is broken or
 * hostile and the connection is dropped (Windows does the same). */
static bool seq_consume(struct smbd_conn *c, uint64_t mid, uint16_t charge)
{
	if (mid < c->seq_low || mid - c->seq_low >= c->seq_range || charge > c->seq_range - (mid - c->seq_low))
		return false;
	for (uint64_t i = mid; i < mid + charge; i++)
		if (seq_test(c, i)) return false;
	for (uint64_t i = mid; i < mid + charge; i++) seq_flip(c, i);
	/* Slide the low edge over used ids, clearing their bits for reuse. */
	while (c->seq_range && seq_test(c, c->seq_low)) {
		seq_flip(c, c->seq_low);
		c->seq_low++;
		c->seq_range--;
	}
	return true;
}

/* Number of credits still usable by the client. */
static uint32_t seq_outstanding(const struct smbd_conn *c)
{
	uint32_t used = 0;
	for (uint64_t i = c->seq_low; i < c->seq_low + c->seq_range; i++)
		if (seq_test(c, i)) used++;
	return c->seq_range - used;
}

/* Grants up to `requested` new credits (at least 1 if the client would run
 * dry), never letting the window exceed SEQ_WINDOW_MAX. */
static uint16_t seq_grant(struct smbd_conn *c, uint16_t requested, uint16_t charge)
{
	uint32_t want = requested ? requested : 1;
	if (want < charge) want = charge;   /* keep a large-MTU client going */
	uint32_t room = SEQ_WINDOW_MAX - c->seq_range;
	if (want > room) want = room;
	if (want == 0 && seq_outstanding(c) == 0 && room) want = 1;
	c->seq_range += want;
	return (uint16_t)want;
}

/* Required CreditCharge for a payload of `bytes` (MS-SMB2 3.1.5.2). */
static uint16_t credit_charge_for(size_t bytes)
{
	if (bytes == 0) return 1;
	return (uint16_t)((bytes - 1) / 65536 + 1);
}

static size_t payload_size(const struct smb2_hdr *h, const uint8_t *msg, size_t len)
{
	/* Both the request payload and the expected response count. */
	const uint8_t *b = msg + SMB2_HDR_SIZE;
	size_t blen = len - SMB2_HDR_SIZE;
	size_t in = 0, out = 0;
	switch (h->command) {
	case SMB2_READ:
		if (blen >= 8) out = get_le32(b + 4);
		break;
	case SMB2_WRITE:
		if (blen >= 8) in = get_le32(b + 4);
		break;
	case SMB2_IOCTL:
		if (blen >= 56) {
			in = (size_t)get_le32(b + 28) + get_le32(b + 36);
			size_t o1 = get_le32(b + 32), o2 = get_le32(b + 44);
			out = o1 > o2 ? o1 : o2;
		}
		break;
	case SMB2_QUERY_DIRECTORY:
		if (blen >= 32) out = get_le32(b + 28);
		break;
	case SMB2_QUERY_INFO:
		if (blen >= 40) { out = get_le32(b + 4); in = get_le32(b + 12); }
		break;
	case SMB2_SET_INFO:
		if (blen >= 32) in = get_le32(b + 4);
		break;
	case SMB2_CHANGE_NOTIFY:
		if (blen >= 8) out = get_le32(b + 4);
		break;
	default:
		break;
	}
	return in > out ? in : out;
}

/* Offset of the FileId in a request body (after the SMB2 header), or 0 for
 * commands without one (MS-SMB2 2.2.x request layouts). */
static size_t request_fileid_offset(uint16_t command)
{
	switch (command) {
	case SMB2_CLOSE: case SMB2_FLUSH: case SMB2_LOCK: case SMB2_IOCTL:
	case SMB2_QUERY_DIRECTORY: case SMB2_CHANGE_NOTIFY: case SMB2_OPLOCK_BREAK:
		return 8;
	case SMB2_READ: case SMB2_WRITE: case SMB2_SET_INFO:
		return 16;
	case SMB2_QUERY_INFO:
		return 24;
	default:
		return 0;
	}
}

/* ---- responses ---- */

struct rsp_slot {
	size_t off;           /* header offset in the output buffer */
	size_t len;           /* bytes, including trailing padding */
	bool sign;
	struct smbd_session *sign_session;  /* reference */
};

static void write_error_body(struct wbuf *w) { smb2_error_rsp_encode(w); }

static bool should_sign_response(const struct smb2_request *req, const struct smbd_session *s, uint32_t status)
{
	/* LOGOFF has expired its session by the time the response is built but
	 * its response is still signed with the session's key. */
	if (!s || !s->keyed) return false;
	if (s->state != SESSION_VALID && !(req->hdr.command == SMB2_LOGOFF && status == STATUS_SUCCESS)) return false;
	if (status == STATUS_PENDING) return false;
	/* MS-SMB2 3.3.4.1.1: sign if the request was signed or the session
	 * requires signing; the final SESSION_SETUP response of 3.x is signed. */
	if (req->hdr.flags & SMB2_FLAGS_SIGNED) return true;
	if (s->signing_required) return true;
	if (req->hdr.command == SMB2_SESSION_SETUP && status == STATUS_SUCCESS && req->conn->dialect >= SMB2_DIALECT_300)
		return true;
	return false;
}

/* Should this response go encrypted although its request was not
 * (MS-SMB2 3.3.4.1.4)?  Session.EncryptData covers everything but NEGOTIATE
 * and SESSION_SETUP; a share's EncryptData everything but those and
 * TREE_CONNECT.  Returns the session whose key encrypts it, or NULL. */
static struct smbd_session *response_encrypt_session(const struct smbd_conn *c, uint16_t command,
						      struct smbd_session *s, const struct smbd_tree *t)
{
	if (!c->cipher || !s || !s->keyed || s->state != SESSION_VALID) return NULL;
	if (command == SMB2_NEGOTIATE || command == SMB2_SESSION_SETUP) return NULL;
	if (s->encrypt_data) return s;
	if (t && t->encrypt_data && command != SMB2_TREE_CONNECT) return s;
	return NULL;
}

/* A streamed WRITE being dispatched (io_pool.h): only the first have
 * bytes of the message are in; the job that takes it is returned here. */
struct dispatch_stream {
	size_t have;
	struct io_job *job;
};

static void dispatch_plain(struct smbd_conn *c, const uint8_t *msg, size_t len, struct smbd_session *enc,
			   uint8_t **own, struct dispatch_stream *ds);

/* Identity caching (session.c): may this plain message be dispatched in a
 * lazy scope, i.e. is every command of it one whose handler runs only
 * impersonated (it needs a valid session before it runs, MS-SMB2
 * 3.3.5.2.9; see the command table)?  Anything else (NEGOTIATE,
 * SESSION_SETUP, ECHO, CANCEL, anything malformed) is dispatched as root.
 * The walk only reads: dispatch_plain does the real validation. */
static bool message_runs_impersonated(const uint8_t *msg, size_t len)
{
	size_t off = 0;
	for (int n = 0; n < 64; n++) {
		if (len - off < SMB2_HDR_SIZE || get_le32(msg + off) != SMB2_PROTOCOL_ID) return false;
		uint16_t command = get_le16(msg + off + 12);   /* Command (2.2.1) */
		if (command >= SMB2_COMMAND_COUNT || !commands[command].fn || !commands[command].need_session)
			return false;
		uint32_t next = get_le32(msg + off + 20);   /* NextCommand */
		if (!next) return true;
		if ((next & 7) || next < SMB2_HDR_SIZE || next > len - off) return false;
		off += next;
	}
	return false;
}

/* Dispatches a plain SMB2 message (received as such, or decrypted) in the
 * identity scope its commands allow.  For an encrypted message the scope is
 * only chosen here, after decryption: nothing before it (transform checks,
 * session lookup, decryption) touches the file system, so the identity a
 * previous request left in effect does no harm there, and a run of
 * encrypted requests of one user switches identity as rarely as plain ones. */
static void dispatch_plain_scoped(struct smbd_conn *c, const uint8_t *msg, size_t len, struct smbd_session *enc,
				  uint8_t **own, struct dispatch_stream *ds)
{
	/* A streamed message is one WRITE (dispatch_can_stream), whose header
	 * is in: the walk reads only the header. */
	bool lazy = message_runs_impersonated(msg, ds ? ds->have : len);
	if (!lazy) smbd_become_root();
	bool was = smbd_identity_lazy(lazy);
	dispatch_plain(c, msg, len, enc, own, ds);
	smbd_identity_lazy(was);
}

/* A TRANSFORM_HEADER message (MS-SMB2 3.3.5.2.1.1): every failure here
 * drops the connection, as Windows does; nothing is answered to a message
 * that cannot be authenticated.
 *
 * The checks before decryption: returns the session whose key decrypts
 * the message (a reference for the caller), or NULL when the connection
 * was dropped.  The whole message is authenticated by the AEAD tag; the
 * header's claims are checked once it has been decrypted. */
static struct smbd_session *encrypted_session(struct smbd_conn *c, const uint8_t *msg, size_t len,
					      struct smb2_transform_hdr *th)
{
	if (c->state == CONN_NEW || c->dialect < SMB2_DIALECT_300 || !c->cipher) {
		conn_disconnect(c, "encrypted message received but encryption is not negotiated");
		return NULL;
	}
	if (smb2_transform_decode(msg, len, th) != STATUS_SUCCESS) {
		conn_disconnect(c, "malformed SMB2 TRANSFORM_HEADER");
		return NULL;
	}
	/* The session must be this connection's and have keys: anonymous and
	 * guest sessions have none (3.3.5.2.1.1 <258>: Windows disconnects). */
	struct smbd_session *s = session_lookup(th->session_id);
	if (!s || s->conn != c || !s->keyed || s->state == SESSION_IN_PROGRESS) {
		if (s) session_put(s);
		conn_disconnect(c, "encrypted message for an unknown or unkeyed session");
		return NULL;
	}
	return s;
}

/* After decryption (decrypted: whether the tag matched): dispatches the
 * plaintext, which is th->original_size bytes at plain inside the malloc'd
 * block (taken: freed here or handed to an offloaded READ/WRITE). */
static void dispatch_decrypted(struct smbd_conn *c, struct smbd_session *s, const struct smb2_transform_hdr *th,
			       uint8_t *block, uint8_t *plain, bool decrypted)
{
	if (!decrypted) {
		log_warn("%s: message for session %#llx failed decryption", c->peer_str, (unsigned long long)th->session_id);
		free(block);
		conn_disconnect(c, "decryption failed");
		return;
	}
	/* Only a plain SMB2 message may be inside (no nested transform or
	 * compression), and it must name the session that decrypted it. */
	if (get_le32(plain) != SMB2_PROTOCOL_ID || get_le64(plain + 40) != th->session_id) {
		explicit_bzero(plain, th->original_size);
		free(block);
		conn_disconnect(c, "decrypted message is not an SMB2 request of its session");
		return;
	}
	/* An offloaded READ/WRITE takes the buffer (and wipes it itself). */
	dispatch_plain_scoped(c, plain, th->original_size, s, &block, NULL);
	if (block) {
		explicit_bzero(plain, th->original_size);   /* no decrypted requests left in freed memory */
		free(block);
	}
}

static void dispatch_encrypted(struct smbd_conn *c, const uint8_t *msg, size_t len, uint8_t **own)
{
	struct smb2_transform_hdr th;
	struct smbd_session *s = encrypted_session(c, msg, len, &th);
	if (!s) return;
	/* When the caller owns the transform message (a large one, received
	 * into its own buffer), decrypt in place: the plaintext replaces the
	 * ciphertext behind the transform header, and that whole block goes on
	 * as the request's buffer. */
	uint8_t *block = own && *own == msg ? *own : NULL;
	uint8_t *plain = block ? block + SMB2_TRANSFORM_HDR_SIZE : malloc(th.original_size);
	if (!plain) {
		session_put(s);
		conn_disconnect(c, "out of memory");
		return;
	}
	if (block) *own = NULL;   /* ours now, freed below (or taken by a job) */
	if (!block) block = plain;
	bool decrypted = smb3_decrypt_message(c->cipher, s->keys.decrypt, msg, len, plain) == 0;
	dispatch_decrypted(c, s, &th, block, plain, decrypted);
	session_put(s);
}

/* ---- large encrypted messages decrypted on an I/O worker ----
 *
 * Why: decrypting an 8 MiB encrypted WRITE takes the loop about 2.5 ms
 * (AES-GCM), during which it receives nothing: the client's next request
 * stops in its socket and its sender waits.  The decryption therefore
 * goes to a worker while the loop goes on receiving; the connection
 * dispatches nothing after the message until it has been decrypted and
 * dispatched itself (conn_decrypt_finished), so requests are still
 * processed in the order they arrived. */
struct decrypt_job {
	struct io_task task;             /* pool queue */
	struct smbd_conn *conn;          /* owner: job (1) */
	struct smbd_session *session;    /* owner: job (1) */
	struct smb2_transform_hdr th;
	uint16_t cipher;
	/* A copy, wiped after use: the worker reads nothing of the session. */
	uint8_t key[sizeof(((struct smb_session_keys *)0)->decrypt)];
	uint8_t *msg;                    /* owned: the transform message; the plaintext replaces it in place */
	size_t len;
	bool decrypted;                  /* worker's result, read by the loop task */
};

/* Loop: the worker is done; dispatch as dispatch_encrypted would have. */
static void decrypt_job_done(void *arg)
{
	struct decrypt_job *job = arg;
	struct smbd_conn *c = job->conn;
	if (!conn_is_closing(c)) {
		dispatch_decrypted(c, job->session, &job->th, job->msg, job->msg + SMB2_TRANSFORM_HDR_SIZE,
				   job->decrypted);
	} else {
		if (job->decrypted) explicit_bzero(job->msg + SMB2_TRANSFORM_HDR_SIZE, job->th.original_size);
		free(job->msg);
	}
	/* The last reference on a logged-off session may go here; its
	 * release runs as root like any outside a request (session.c). */
	smbd_become_root();
	session_put(job->session);
	conn_decrypt_finished(c);
	conn_put(c);
	free(job);
}

/* Worker. */
static void decrypt_job_run(struct io_task *task)
{
	struct decrypt_job *job = container_of(task, struct decrypt_job, task);
	job->decrypted = smb3_decrypt_message(job->cipher, job->key, job->msg, job->len,
					      job->msg + SMB2_TRANSFORM_HDR_SIZE) == 0;
	explicit_bzero(job->key, sizeof(job->key));
	/* loop_post fails only without memory; retry rather than strand the
	 * connection, which waits for this message. */
	while (loop_post(job->conn->loop, decrypt_job_done, job) < 0) usleep(1000);
}

bool dispatch_large_message(struct smbd_conn *c, uint8_t *msg, size_t len)
{
	if (len < 4 || get_le32(msg) != SMB2_TRANSFORM_ID || !io_pool_enabled()) {
		dispatch_message_owned(c, msg, len);
		return false;
	}
	struct smb2_transform_hdr th;
	struct smbd_session *s = encrypted_session(c, msg, len, &th);
	if (!s) {
		free(msg);
		return false;
	}
	struct decrypt_job *job = malloc(sizeof(*job));
	if (job) {
		*job = (struct decrypt_job){ .task.run = decrypt_job_run, .conn = c, .session = s, .th = th,
					     .cipher = c->cipher, .msg = msg, .len = len };
		memcpy(job->key, s->keys.decrypt, sizeof(job->key));
		conn_get(c);
		if (io_pool_run(&job->task)) return true;
		conn_put(c);
		explicit_bzero(job->key, sizeof(job->key));
		free(job);
	}
	/* No job or the pool refused it (stopping): decrypt here. */
	session_put(s);
	dispatch_message_owned(c, msg, len);
	return false;
}

/* Entry points from conn.c, where each message starts with whatever
 * identity the previous one left (session.c): plain messages pick their
 * scope in dispatch_plain_scoped, encrypted ones after decryption, and
 * everything else runs as root. */
void dispatch_message(struct smbd_conn *c, const uint8_t *msg, size_t len)
{
	if (len >= 4 && get_le32(msg) == SMB2_TRANSFORM_ID) {
		dispatch_encrypted(c, msg, len, NULL);
		return;
	}
	if (len >= SMB2_HDR_SIZE && get_le32(msg) == SMB2_PROTOCOL_ID) {
		dispatch_plain_scoped(c, msg, len, NULL, NULL, NULL);
		return;
	}
	smbd_become_root();
	if (len >= 4 && get_le32(msg) == SMB1_PROTOCOL_ID) {
		if (c->state == CONN_NEW) smb1_negotiate(c, msg, len);
		else conn_disconnect(c, "SMB1 request after negotiation");
		return;
	}
	conn_disconnect(c, "not an SMB2 message");
}

void dispatch_message_owned(struct smbd_conn *c, uint8_t *msg, size_t len)
{
	if (len >= SMB2_HDR_SIZE && get_le32(msg) == SMB2_PROTOCOL_ID) {
		dispatch_plain_scoped(c, msg, len, NULL, &msg, NULL);
		free(msg);   /* NULL when a job took it */
		return;
	}
	if (len >= 4 && get_le32(msg) == SMB2_TRANSFORM_ID) {
		dispatch_encrypted(c, msg, len, &msg);
		free(msg);   /* NULL when it was decrypted in place */
		return;
	}
	dispatch_message(c, msg, len);
	free(msg);
}

bool dispatch_can_stream(const struct smbd_conn *c, const uint8_t *msg, size_t have)
{
	/* One plain WRITE, after NEGOTIATE, big enough for the pool, whose
	 * fixed part has arrived.  Everything else about it is checked as for
	 * any request: the header by dispatch_plain, DataOffset and Length by
	 * the worker's decode (a bad one is answered once the body is in).  A
	 * signed one is verified by the worker as its body arrives, and acted
	 * on only after that (io_pool.h). */
	if (!io_pool_streams_writes() || c->state == CONN_NEW) return false;
	if (have < SMB2_HDR_SIZE + 48 || get_le32(msg) != SMB2_PROTOCOL_ID) return false;
	if (get_le16(msg + 12) != SMB2_WRITE || get_le32(msg + 20) != 0) return false;   /* Command, NextCommand */
	if (get_le32(msg + 16) & SMB2_FLAGS_SERVER_TO_REDIR) return false;   /* Flags */
	return get_le32(msg + SMB2_HDR_SIZE + 4) >= IO_POOL_MIN_BYTES;   /* Length */
}

struct io_job *dispatch_message_streamed(struct smbd_conn *c, uint8_t *msg, size_t have, size_t len)
{
	struct dispatch_stream ds = { .have = have, .job = NULL };
	uint8_t *own = msg;
	dispatch_plain_scoped(c, msg, len, NULL, &own, &ds);
	return own ? NULL : ds.job;
}

/* ---- offloading large READ/WRITE to the I/O pool (io_pool.h) ---- */

/* Is this request a candidate: the only command of its message, a READ or
 * WRITE moving at least IO_POOL_MIN_BYTES? */
static bool offload_candidate(const struct smb2_hdr *h, const uint8_t *m, size_t mlen, bool single)
{
	if (!single || !io_pool_enabled()) return false;
	if (h->command != SMB2_READ && h->command != SMB2_WRITE) return false;
	if (mlen < SMB2_HDR_SIZE + 8) return false;
	return get_le32(m + SMB2_HDR_SIZE + 4) >= IO_POOL_MIN_BYTES;   /* Length, both requests (2.2.19, 2.2.21) */
}

/* Hands the request to the pool.  Returns false (nothing changed) when it
 * must stay synchronous: a pipe, an unknown FileId (the handler answers),
 * no memory, the pool full.  own (may be NULL, or point to NULL): the
 * malloc'd block that holds the message, which the job takes on success
 * (*own set to NULL); otherwise the message is copied. */
static bool offload_submit(struct smb2_request *req, struct smbd_session *enc, uint8_t **own, bool wipe,
			   bool verify, const struct smb2_hdr *rh, bool sign, struct smbd_session *encrypt_with,
			   struct dispatch_stream *ds)
{
	struct smbd_conn *c = req->conn;
	const uint8_t *b = req->msg + SMB2_HDR_SIZE;
	if (req->msg_len < SMB2_HDR_SIZE + 32) return false;
	struct smbd_open *o = smb2_req_open(req, get_le64(b + 16), get_le64(b + 24));
	if (!o) return false;
	if (o->pipe || o->fd < 0 || o->is_dir) {
		open_put(o);
		return false;
	}
	/* The open's close waits for the job (open_io_pin); a close already
	 * under way leaves the request to the synchronous path, which finds
	 * the FileId gone. */
	if (!open_io_pin(o)) {
		open_put(o);
		return false;
	}
	struct io_job *job = calloc(1, sizeof(*job));
	/* The fd is ours: a CLOSE that runs on this loop while the worker
	 * reads cannot make its number name another file. */
	if (job) job->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	if (!job || job->fd < 0) {
		free(job);
		open_io_unpin(o);
		open_put(o);
		return false;
	}
	if (ds) {
		/* The body is still arriving: the job takes the buffer the loop
		 * receives it into (own, which is set for a streamed message). */
		job->streamed = true;
		atomic_init(&job->stream.word, (uint64_t)ds->have << IO_STREAM_SHIFT);
	}
	if (own && *own) {
		job->msg_base = *own;
		job->msg = (uint8_t *)req->msg;
	} else {
		job->msg_base = job->msg = malloc(req->msg_len);
		if (job->msg) memcpy(job->msg, req->msg, req->msg_len);
	}
	if (!job->msg) {
		close(job->fd);
		free(job);
		open_io_unpin(o);
		open_put(o);
		return false;
	}
	job->msg_len = req->msg_len;
	job->wipe_msg = wipe;
	job->open = o;
	job->verify = verify;
	job->sign = sign;
	job->rsp_hdr = *rh;
	job->encrypted_by = enc;
	size_t bytes = get_le32(b + 4);
	job->inflight_bytes = bytes;
	conn_get(c);
	job->conn = c;
	session_get(req->session);
	job->session = req->session;
	tree_get(req->tree);
	job->tree = req->tree;
	if (encrypt_with) session_get(encrypt_with);
	job->encrypt_with = encrypt_with;
	conn_io_account(c, bytes, true);
	if (!io_pool_submit(job)) {
		/* Undo: the caller runs the request synchronously. */
		conn_io_account(c, bytes, false);
		if (encrypt_with) session_put(encrypt_with);
		tree_put(job->tree);
		session_put(job->session);
		conn_put(c);
		if (!own || job->msg_base != *own) free(job->msg_base);
		close(job->fd);
		free(job);
		open_io_unpin(o);
		open_put(o);
		return false;
	}
	if (own) *own = NULL;
	if (ds) ds->job = job;
	return true;
}

/* A streamed WRITE that cannot go to the pool cannot run here either (its
 * data is not in yet): it fails with what its handler would answer
 * without data, or with INSUFFICIENT_RESOURCES. */
static uint32_t streamed_refusal(struct smb2_request *req)
{
	const uint8_t *b = req->msg + SMB2_HDR_SIZE;
	struct smbd_open *o = smb2_req_open(req, get_le64(b + 16), get_le64(b + 24));
	if (!o) return STATUS_FILE_CLOSED;
	uint32_t status = o->pipe ? STATUS_INVALID_PARAMETER   /* pipe_write's limit is 64 KiB */
			  : o->is_dir ? STATUS_INVALID_DEVICE_REQUEST
				      : STATUS_INSUFFICIENT_RESOURCES;
	open_put(o);
	return status;
}

/* Processes a plain SMB2 message; enc is the session that decrypted it
 * (the caller holds a reference), or NULL. */
static void dispatch_plain(struct smbd_conn *c, const uint8_t *msg, size_t len, struct smbd_session *enc,
			   uint8_t **own, struct dispatch_stream *ds)
{

	struct wbuf out;
	wbuf_init(&out, 512);
	struct rsp_slot slots[64];
	unsigned nslots = 0;
	size_t off = 0;
	struct smbd_session *last_session = NULL;  /* reference */
	struct smbd_tree *last_tree = NULL;        /* reference */
	uint32_t last_status = STATUS_SUCCESS;
	uint64_t last_session_id = 0;
	uint32_t last_tree_id = 0;
	bool have_related_fid = false;
	uint64_t related_p = 0, related_v = 0;
	bool drop = false;
	bool first = true;
	/* Session whose key encrypts the whole response message (one
	 * TRANSFORM_HEADER covers the compound); reference when set. */
	struct smbd_session *encrypt_with = NULL;
	if (enc) {
		session_get(enc);
		encrypt_with = enc;
	}

	while (off < len) {
		struct smb2_hdr h;
		const uint8_t *m = msg + off;
		size_t mlen = len - off;
		if (!smb2_hdr_decode(m, mlen, &h)) {
			drop = true;
			conn_disconnect(c, "malformed SMB2 header");
			break;
		}
		if (h.next_command) {
			if ((h.next_command & 7) || h.next_command < SMB2_HDR_SIZE || h.next_command > mlen) {
				drop = true;
				conn_disconnect(c, "invalid NextCommand in compound");
				break;
			}
			mlen = h.next_command;
		}
		if (nslots == 64) {
			drop = true;
			conn_disconnect(c, "compound chain too long");
			break;
		}
		if (h.flags & SMB2_FLAGS_SERVER_TO_REDIR) {
			drop = true;
			conn_disconnect(c, "response flag set in a request");
			break;
		}

		/* CANCEL consumes no message id or credit and gets no response of
		 * its own (3.3.5.2.3, 3.3.5.16): the cancelled request answers. */
		if (h.command == SMB2_CANCEL) {
			if (c->state != CONN_NEW) smbd_async_cancel_request(c, &h);
			off += h.next_command ? h.next_command : mlen;
			if (!h.next_command) break;
			continue;
		}

		/* Message id and credit charge (3.3.5.2.3, 3.3.5.2.5). */
		uint16_t charge = h.credit_charge ? h.credit_charge : 1;
		if (c->dialect == SMB2_DIALECT_202 || c->state == CONN_NEW) charge = 1;
		if (!seq_consume(c, h.message_id, charge)) {
			drop = true;
			conn_disconnect(c, "message id outside the granted credit window");
			break;
		}

		struct smb2_request req;
		memset(&req, 0, sizeof(req));
		req.conn = c;
		req.hdr = h;
		req.msg = m;
		req.msg_len = mlen;
		req.out = &out;
		req.have_related_fid = &have_related_fid;
		req.related_persistent = &related_p;
		req.related_volatile = &related_v;
		req.last_in_chain = h.next_command == 0;
		req.encrypted_by = enc;

		bool related = (h.flags & SMB2_FLAGS_RELATED_OPERATIONS) != 0;
		uint32_t status = STATUS_SUCCESS;
		if (related && first) status = STATUS_INVALID_PARAMETER;
		if (!related) {
			have_related_fid = false;
		} else if (!first) {
			/* 3.3.5.2.7.2: related operations use the previous request's
			 * session and tree. */
			req.hdr.session_id = last_session_id;
			req.hdr.tree_id = last_tree_id;
		}

		/* Header size and the command's fixed StructureSize. */
		const struct smb2_command_desc *d = h.command < SMB2_COMMAND_COUNT ? &commands[h.command] : NULL;
		if (status == STATUS_SUCCESS && !d) status = STATUS_INVALID_PARAMETER;
		if (status == STATUS_SUCCESS && (mlen < SMB2_HDR_SIZE + 2 ||
		    (get_le16(m + SMB2_HDR_SIZE) != d->structure_size &&
		     !(h.command == SMB2_OPLOCK_BREAK && get_le16(m + SMB2_HDR_SIZE) == 36)) ||
		    mlen < (size_t)SMB2_HDR_SIZE + (d->structure_size & 0xFFFEu)))
			status = STATUS_INVALID_PARAMETER;
		if (status == STATUS_SUCCESS && c->state == CONN_NEW && h.command != SMB2_NEGOTIATE) {
			drop = true;
			conn_disconnect(c, "request before NEGOTIATE");
			break;
		}
		if (status == STATUS_SUCCESS && c->dialect > SMB2_DIALECT_202 && c->state != CONN_NEW &&
		    (c->server_capabilities & SMB2_GLOBAL_CAP_LARGE_MTU)) {
			size_t psz = payload_size(&h, m, mlen);
			if (h.credit_charge < credit_charge_for(psz) && psz > 65536)
				status = STATUS_INVALID_PARAMETER;
		}
		if (related && !first && last_status != STATUS_SUCCESS && nt_is_error(last_status) &&
		    status == STATUS_SUCCESS && h.command != SMB2_CREATE) {
			/* A failed CREATE in a related chain fails what depends on it
			 * (the related FileId) with the same status. */
			if (!have_related_fid) status = last_status;
		}

		/* Inside an encrypted message every command acts for the session
		 * that decrypted it (3.3.5.2.9); SessionId 0 (a new SESSION_SETUP,
		 * ECHO) names none. */
		if (enc && req.hdr.session_id && req.hdr.session_id != enc->id) {
			drop = true;
			conn_disconnect(c, "encrypted request names another session");
			break;
		}

		/* Session (3.3.5.2.9). */
		struct smbd_session *s = NULL;
		if (status == STATUS_SUCCESS && d->need_session) {
			s = session_lookup(req.hdr.session_id);
			if (!s || s->conn != c) status = STATUS_USER_SESSION_DELETED;
			else if (s->state == SESSION_EXPIRED) status = STATUS_NETWORK_SESSION_EXPIRED;
			else if (s->state != SESSION_VALID) status = STATUS_USER_SESSION_DELETED;
		} else if (status == STATUS_SUCCESS && h.command == SMB2_SESSION_SETUP && req.hdr.session_id) {
			s = session_lookup(req.hdr.session_id);
			if (!s || s->conn != c) status = STATUS_USER_SESSION_DELETED;
		}
		/* Encryption required for the session (3.3.5.2.9): a client
		 * that was told to encrypt and does not is refused. */
		if (status == STATUS_SUCCESS && !enc && s && s->state == SESSION_VALID && s->encrypt_required &&
		    h.command != SMB2_SESSION_SETUP) {
			log_warn("%s: unencrypted %s on a session that requires encryption", c->peer_str,
				 smb2_command_name(h.command));
			status = STATUS_ACCESS_DENIED;
		}
		/* Signature (3.3.5.2.4); an encrypted request is authenticated by
		 * its AEAD tag instead.  A large READ/WRITE that may go to the I/O
		 * pool is verified there (verify_deferred), or below if it stays. */
		bool offload = status == STATUS_SUCCESS && offload_candidate(&h, m, mlen, off == 0 && !h.next_command);
		bool verify_deferred = false;
		if (status == STATUS_SUCCESS && !enc && s && s->state == SESSION_VALID && s->keyed) {
			if ((h.flags & SMB2_FLAGS_SIGNED) && offload) {
				verify_deferred = true;
			} else if (h.flags & SMB2_FLAGS_SIGNED) {
				if (!smb2_verify_signature(c->signing_algo, s->keys.signing, m, mlen)) {
					log_warn("%s: bad signature on %s, request refused", c->peer_str, smb2_command_name(h.command));
					status = STATUS_ACCESS_DENIED;
				}
			} else if (s->signing_required && h.command != SMB2_ECHO) {
				log_warn("%s: unsigned %s on a session that requires signing", c->peer_str,
					 smb2_command_name(h.command));
				status = STATUS_ACCESS_DENIED;
			}
		}
		/* Tree (3.3.5.2.11). */
		struct smbd_tree *t = NULL;
		if (status == STATUS_SUCCESS && d->need_tree) {
			t = tree_lookup(s, req.hdr.tree_id);
			if (!t) status = STATUS_NETWORK_NAME_DELETED;
			/* 3.3.5.2.11: a share that requires encryption refuses
			 * unencrypted requests. */
			else if (!enc && t->encrypt_required) {
				log_warn("%s: unencrypted %s on share '%s', which requires encryption", c->peer_str,
					 smb2_command_name(h.command), t->share->name);
				status = STATUS_ACCESS_DENIED;
			}
		}
		req.session = s;
		req.tree = t;

		if (offload && status == STATUS_SUCCESS) {
			/* Everything that needs the loop is done; what is left (the
			 * signature, the file I/O, the response) runs on a worker.
			 * The response's credits are granted now (3.3.1.2), in order
			 * with the other requests of the connection. */
			struct smbd_session *es = enc ? enc : response_encrypt_session(c, h.command, s, t);
			bool sign = !es && should_sign_response(&req, s, STATUS_SUCCESS);
			uint16_t granted = seq_grant(c, h.credit, charge);
			struct smb2_hdr rh = {
				.credit_charge = h.credit_charge,
				.command = h.command,
				.credit = granted,
				.flags = SMB2_FLAGS_SERVER_TO_REDIR | (h.flags & SMB2_FLAGS_PRIORITY_MASK),
				.message_id = h.message_id,
				.tree_id = req.hdr.tree_id,
				.session_id = req.hdr.session_id,
			};
			if (offload_submit(&req, enc, own, enc != NULL, verify_deferred, &rh, sign, es, ds)) {
				last_session = s;
				last_tree = t;
				break;
			}
			/* Stays synchronous: take back the grant, the response
			 * below grants again. */
			c->seq_range -= granted;
		}
		/* A streamed message that stays here is refused (its body is not
		 * in, so its signature cannot be checked: it gets the error
		 * status without one). */
		if (ds && status == STATUS_SUCCESS) status = streamed_refusal(&req);
		if (verify_deferred && !ds && !smb2_verify_signature(c->signing_algo, s->keys.signing, m, mlen)) {
			log_warn("%s: bad signature on %s, request refused", c->peer_str, smb2_command_name(h.command));
			status = STATUS_ACCESS_DENIED;
			if (t) tree_put(t);
			t = NULL;
			req.tree = NULL;
		}

		/* Response header placeholder. */
		size_t hoff = out.len;
		req.out_hdr_off = hoff;
		wbuf_zero(&out, SMB2_HDR_SIZE);

		bool handler_ran = status == STATUS_SUCCESS;
		if (status == STATUS_SUCCESS) {
			/* Only commands that act for a session's user run as that
			 * user.  SESSION_SETUP, NEGOTIATE and ECHO run as root even
			 * on a valid session: a re-authentication (3.3.5.5.3) reads
			 * the Kerberos keytab, which the user may not.  A handler
			 * without a valid session runs as root, never as the user a
			 * previous request may have left (session.c).  The choice is
			 * remembered: the handler may end the session (LOGOFF), and
			 * the pair must still be closed. */
			bool as_user = d->need_session && s && s->state == SESSION_VALID;
			if (as_user) smbd_impersonate(s);
			else smbd_become_root();
			status = d->fn(&req);
			if (as_user) smbd_unimpersonate();
		}
		if (out.err) {
			/* The response could not be built (allocation); fail the request. */
			out.err = false;
			out.len = hoff + SMB2_HDR_SIZE;
			status = STATUS_INSUFFICIENT_RESOURCES;
		}
		/* A request that went async answers with an interim response: an
		 * error body with Status PENDING (3.3.4.2).  PENDING without an
		 * async record is a handler bug: fail the request instead. */
		bool interim = status == STATUS_PENDING && req.async;
		if (status == STATUS_PENDING && !req.async) status = STATUS_INTERNAL_ERROR;
		if (interim) out.len = hoff + SMB2_HDR_SIZE;
		bool has_body = out.len > hoff + SMB2_HDR_SIZE;
		if (nt_is_error(status) && !req.body_written) {
			out.len = hoff + SMB2_HDR_SIZE;
			has_body = false;
		}
		if (!has_body) write_error_body(&out);

		/* Handlers may have created a session (SESSION_SETUP) or tree. */
		struct smbd_session *rs = s;
		if (!rs && req.hdr.session_id && h.command == SMB2_SESSION_SETUP) rs = session_lookup(req.hdr.session_id);
		else if (rs) session_get(rs);

		struct smb2_hdr rh = {
			.credit_charge = h.credit_charge,
			.status = status,
			.command = h.command,
			.credit = seq_grant(c, h.credit, charge),
			.flags = SMB2_FLAGS_SERVER_TO_REDIR | (h.flags & (SMB2_FLAGS_RELATED_OPERATIONS | SMB2_FLAGS_PRIORITY_MASK)),
			.message_id = h.message_id,
			.tree_id = req.hdr.tree_id,
			.session_id = req.hdr.session_id,
		};
		if (h.command == SMB2_NEGOTIATE) rh.credit_charge = 0;
		if (interim) {
			/* 3.3.4.2: the interim response carries the AsyncId instead
			 * of the TreeId and grants credits as any response does
			 * (3.3.1.2); the final one will grant none. */
			rh.flags |= SMB2_FLAGS_ASYNC_COMMAND;
			rh.async_id = smbd_async_id(req.async);
		}
		if (!encrypt_with) {
			struct smbd_session *es = response_encrypt_session(c, h.command, rs, t);
			if (es) {
				session_get(es);
				encrypt_with = es;
			}
		}
		/* 3.3.4.2: interim responses are not signed; an encrypted
		 * message is not signed either (its AEAD tag covers it). */
		bool sign = !interim && !encrypt_with && should_sign_response(&req, rs, status);
		if (sign) rh.flags |= SMB2_FLAGS_SIGNED;
		if (!out.err) smb2_hdr_encode(out.p + hoff, &rh);

		slots[nslots].off = hoff;
		slots[nslots].sign = sign;
		slots[nslots].sign_session = sign ? rs : NULL;
		if (!sign && rs) session_put(rs);
		nslots++;

		/* 3.1.1 preauth integrity (3.3.5.4, 3.3.5.5): NEGOTIATE request and
		 * response feed the connection hash; SESSION_SETUP requests and
		 * MORE_PROCESSING responses feed the session hash (the handler hashed
		 * the request). */
		if (c->dialect == SMB2_DIALECT_311 && !out.err) {
			struct iovec iov = { out.p + hoff, out.len - hoff };
			if (h.command == SMB2_NEGOTIATE && status == STATUS_SUCCESS) {
				crypto_preauth_update(c->preauth_hash, &iov, 1, c->preauth_hash);
			} else if (h.command == SMB2_SESSION_SETUP && status == STATUS_MORE_PROCESSING_REQUIRED) {
				struct smbd_session *ps = session_lookup(req.hdr.session_id);
				if (ps) {
					crypto_preauth_update(ps->preauth_hash, &iov, 1, ps->preauth_hash);
					session_put(ps);
				}
			}
		}

		/* 3.3.5.2.7.2: a related request uses the FileId "used in
		 * processing the previous operation", whichever command it was (a
		 * FLUSH followed by a related CLOSE closes the flushed handle).
		 * CREATE records the FileId it produced itself.  A request refused
		 * before its handler ran (e.g. a related first request) used no
		 * FileId: what follows inherits its failure instead. */
		size_t fid_off = handler_ran ? request_fileid_offset(h.command) : 0;
		if (fid_off && mlen >= SMB2_HDR_SIZE + fid_off + 16) {
			uint64_t p = get_le64(m + SMB2_HDR_SIZE + fid_off);
			uint64_t v = get_le64(m + SMB2_HDR_SIZE + fid_off + 8);
			if (p != UINT64_MAX || v != UINT64_MAX) {
				have_related_fid = true;
				related_p = p;
				related_v = v;
			}
		}

		last_status = status;
		last_session_id = req.hdr.session_id;
		last_tree_id = req.hdr.tree_id;
		if (last_session) session_put(last_session);
		if (last_tree) tree_put(last_tree);
		last_session = s;
		last_tree = t;
		first = false;

		if (req.disconnect) {
			drop = true;
			conn_disconnect(c, "request handler asked to disconnect");
			break;
		}
		if (!h.next_command) break;
		off += h.next_command;
		/* Pad this response so the next starts on an 8-byte boundary. */
		wbuf_align(&out, hoff, 8);
	}
	if (last_session) session_put(last_session);
	if (last_tree) tree_put(last_tree);

	if (!drop && nslots && !out.err) {
		/* Link the responses and sign each one (3.3.4.1.3). */
		for (unsigned i = 0; i < nslots; i++) {
			size_t end = i + 1 < nslots ? slots[i + 1].off : out.len;
			slots[i].len = end - slots[i].off;
			if (i + 1 < nslots) put_le32(out.p + slots[i].off + 20, (uint32_t)slots[i].len);
		}
		for (unsigned i = 0; i < nslots; i++) {
			if (encrypt_with) {
				/* An earlier slot was signed before a later one decided
				 * that the message goes encrypted: unsign it. */
				if (slots[i].sign) {
					uint8_t *hp = out.p + slots[i].off;
					put_le32(hp + 16, get_le32(hp + 16) & ~SMB2_FLAGS_SIGNED);
				}
				continue;
			}
			if (slots[i].sign)
				smb2_sign_in_place(c->signing_algo, slots[i].sign_session->keys.signing,
						   out.p + slots[i].off, slots[i].len);
		}
		size_t olen;
		uint8_t *buf = wbuf_steal(&out, &olen);
		/* 3.3.4.1.4: the response to an encrypted request, and responses
		 * on an encrypting session or share, go in a TRANSFORM_HEADER. */
		if (encrypt_with) conn_send_encrypted(c, encrypt_with, buf, olen);
		else conn_send(c, buf, olen);
	}
	if (encrypt_with) session_put(encrypt_with);
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].sign_session) session_put(slots[i].sign_session);
	wbuf_free(&out);
	/* Requests waiting on a handle this message closed end now, after the
	 * CLOSE response went out (STATUS_NOTIFY_CLEANUP for CHANGE_NOTIFY). */
	if (c->nasync) smbd_async_sweep_closed(c);
}
