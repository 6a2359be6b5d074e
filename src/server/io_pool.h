/* I/O worker pool: large READ and WRITE requests run off the event loops.
 *
 * Why: a loop thread that preads/pwrites 8 MiB (and signs, verifies or
 * encrypts it) cannot receive the client's next request or send the
 * previous response meanwhile, so on a machine with more than one core the
 * transfer is serial.  With the pool the loop keeps receiving and sending
 * while the copies to and from the page cache, and the signing / encryption
 * of the response, happen on a worker; several outstanding requests of one
 * client (smbclient keeps a credit window of them) overlap.
 *
 * What runs where:
 *  - loop (dispatch.c): every check that touches loop-owned state or gives
 *    the request its place in the connection's state: message id and
 *    credit charge (MS-SMB2 3.3.5.2.3), session and tree lookup, the
 *    credits granted (3.3.1.2; the response carries them), the decision to
 *    sign or encrypt the response.  It resolves the FileId and dup()s the
 *    open's fd, so a CLOSE processed meanwhile cannot let the fd number be
 *    reused under the worker.
 *  - worker: signature verification of the request (3.3.5.2.4), the
 *    handler (smb2_read_on / smb2_write_on), the response header, signing
 *    or encryption, and queueing the response (conn send queue, under
 *    send_lock).
 *  - loop again (a task posted with loop_post): flush the send queue,
 *    release the references, resume reading when the connection was
 *    throttled.
 * Compound requests, small I/O and named pipes keep the synchronous path.
 * Before all of this, a large encrypted message (any command) is decrypted
 * by a worker too (io_pool_run; dispatch.c, dispatch_large_message), and
 * the loop dispatches the plaintext when it comes back.
 *
 * Lifetime: a job holds references on the connection, session, tree and
 * open, and a pin on the open (open_io_pin): the open's close, whoever
 * asks for it (CLOSE, teardown of a dead connection, logoff, a durable
 * handle's expiry), takes effect only when the last job on the open has
 * ended, so no job's data lands after another client has opened the file
 * in its place.  If the connection dies meanwhile the job's response is
 * queued on a dead connection and freed with it (conn_put).  loops_stop
 * drains the pool before it tears connections down. */
#ifndef SMBKIT_SERVER_IO_POOL_H
#define SMBKIT_SERVER_IO_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

/* Requests moving at least this many bytes are worth a thread hop. */
#define IO_POOL_MIN_BYTES (64u * 1024)

/* Starts nthreads workers (0: offloading off, everything stays on the
 * loops).  SMBKITD_IO_THREADS in the environment overrides the count. */
int io_pool_start(int nthreads);
/* Waits for every queued job to finish (their loop tasks are posted), then
 * stops the workers.  Called by loops_stop after the loops have stopped. */
void io_pool_stop(void);
bool io_pool_enabled(void);
/* Pool on and streamed WRITEs (below) not turned off by
 * SMBKITD_STREAM_WRITES=0 in the environment (an A/B switch). */
bool io_pool_streams_writes(void);

/* Streamed WRITE.
 *
 * Why: a client that keeps two 8 MiB WRITEs in flight (smbclient) waits for
 * the first response before it sends the third.  Storing each body whole
 * and only then writing it made every request cost (receive + write); the
 * pwrite threads sat idle a third of a 1 GiB put (strace, tmpfs).  A large
 * unsigned WRITE therefore goes to the pool as soon as its fixed part has
 * arrived, and its data is written in chunks while the rest of the body is
 * still being received: each request costs about max(receive, write).
 *
 * Which: a plain (not encrypted) message of one WRITE, at least
 * BIG_FRAME_MIN long (conn.c) and offloadable (dispatch.c).  A signed one
 * cannot be acted on before its whole message is authenticated (MS-SMB2
 * 3.3.5.2.4): its worker runs feed the signature as the body arrives
 * (io_stream.mac), and only when the signature matches does the WRITE
 * begin and write everything at once; what is saved is the signature
 * computation over the whole body after its last byte.  An encrypted
 * WRITE keeps the store-then-decrypt path (dispatch_large_message).
 *
 * Protocol between the loop that receives the body and the workers: one
 * atomic word holds the bytes received, ABORTED and PARKED, so that a
 * worker parks with a single compare-and-swap and never touches the job
 * after it (the loop may end and free a parked job at once):
 *  - loop, after each receive: adds the bytes; if the job was PARKED and
 *    has work (IO_STREAM_CHUNK new bytes, the whole body) it takes the job
 *    back (clears PARKED; a parked job is the loop's alone) and queues it;
 *  - worker: checks once (write_begin: access, offset, byte-range locks,
 *    oplock/lease breaks, all before the first byte is written), writes
 *    what has arrived, and when the body is not complete records what it
 *    consumed and sets PARKED if the word is still what it read; if it is
 *    not (more bytes, or ABORTED), it runs again.
 *  - loop, when the connection dies: sets ABORTED; a parked job is ended
 *    on the spot, a queued or running one ends by itself.
 * A parked job occupies no worker: a client that sends a header and then
 * trickles (or never sends) its body costs memory that the connection's
 * in-flight cap already counts, never a thread.  The response is built
 * only once the whole body has arrived (or the connection died: the job
 * then ends with nothing sent), so the loop never receives into a buffer
 * that has been freed.  A failed check or pwrite is remembered; the rest
 * of the body is received and not written (the job is not queued again
 * until it is all in), and the response carries the status. */
#define IO_STREAM_CHUNK (1024u * 1024)
#define IO_STREAM_PARKED 1u
#define IO_STREAM_ABORTED 2u
#define IO_STREAM_SHIFT 2   /* bytes received, above the two flags */

/* What write_begin decided for a WRITE (smb2_write.c). */
struct io_write_plan {
	uint64_t offset;        /* file offset of the first byte */
	size_t data_off;        /* where the data starts in the message */
	uint32_t length;
	size_t done;            /* bytes written so far */
	bool write_through;
};

struct io_stream {
	/* Bytes of the message received << IO_STREAM_SHIFT | ABORTED | PARKED. */
	_Atomic uint64_t word;
	/* Written by the worker before the CAS that parks, read by the loop
	 * only while the job is parked: the bytes received when it parked,
	 * and whether it failed (then only the end of the body is work). */
	size_t consumed;
	bool failed;
	/* Worker only (one run at a time; runs are ordered by the queue). */
	bool begun, writing;
	/* A signed WRITE (job->verify): the signature over the bytes up to
	 * maced (0: not started), NULL once finished or when it could not be
	 * computed (then the signature does not match).  Freed with the job
	 * if unfinished. */
	struct smb2_sign_stream *mac;
	size_t maced;
	bool signature_ok;
	uint32_t status;
	struct io_write_plan plan;
};

/* One offloaded request; built by the dispatcher (dispatch.c). */
struct io_job {
	struct io_job *next;              /* pool queue */
	struct smbd_conn *conn;           /* owner: job (1) */
	struct smbd_session *session;     /* owner: job (1) */
	struct smbd_tree *tree;           /* owner: job (1) */
	struct smbd_open *open;           /* owner: job (1) */
	struct smbd_session *encrypt_with;/* owner: job (1), or NULL: response goes in a TRANSFORM_HEADER */
	struct smbd_session *encrypted_by;/* not counted (== session when set): Request.IsEncrypted */
	int fd;                           /* dup of open->fd, owned */
	uint8_t *msg_base;                /* owned allocation holding msg (a decrypted request sits
	                                     52 bytes into its transform message) */
	uint8_t *msg;                     /* the request (one SMB2 message) */
	size_t msg_len;
	bool wipe_msg;                    /* decrypted request: zero it before freeing */
	bool verify;                      /* signature still to be checked (3.3.5.2.4) */
	bool sign;                        /* sign the response (3.3.4.1.1) */
	struct smb2_hdr rsp_hdr;          /* prebuilt by the loop; status and flags finished by the worker */
	size_t inflight_bytes;            /* what the connection's throttle counted for it */
	bool send_failed;                 /* the response could not be built/encrypted: disconnect */
	bool streamed;                    /* a WRITE whose body is still arriving (stream below) */
	struct io_stream stream;
};

/* Queues the job (taking it).  Returns false when the pool is off or
 * full; the caller then keeps the synchronous path and still owns it. */
bool io_pool_submit(struct io_job *job);
/* Other CPU work for a worker (a large encrypted message's decryption,
 * dispatch.c), embedded in the structure that owns it: run() gets the
 * task and is responsible for everything after, including its memory. */
struct io_task {
	struct io_task *next;             /* pool queue */
	void (*run)(struct io_task *task);
};
/* Queues the task (FIFO with other tasks); false when the pool is off or
 * stopping, and the caller does the work itself. */
bool io_pool_run(struct io_task *task);
/* Closes fd on a worker (takes it; closes it here when the pool is off
 * or stopping).  For a close that frees a large deleted file: on tmpfs
 * that is about 170 ms per GiB of freeing pages, which must not stall a
 * loop and all its connections (open.c, close_file_now). */
void io_pool_close_fd(int fd);

/* Streamed WRITE (see above).  Worker: parks the job if its word is still
 * `seen` (what this run read); returns false when bytes arrived or the
 * connection died meanwhile, and the worker keeps running it.  After true
 * the job is not the worker's any more. */
bool io_stream_park(struct io_job *job, uint64_t seen);
/* Loop: `added` more bytes of the message are in; queues the job again
 * when it is parked and has work. */
void io_stream_progress(struct io_job *job, size_t added);
/* Loop: the connection died before the body was complete.  A parked job
 * is ended on the spot (conn_io_discard); a queued or running one ends by
 * itself. */
void io_stream_abort(struct io_job *job);
/* smb2_write.c: one worker run of a streamed WRITE: true when the job is
 * finished (smb2_write_stream_end then builds the response), false when
 * it parked.  req: the fixed fields of the request (no response yet). */
bool smb2_write_stream_step(struct io_job *job, struct smb2_request *req);
uint32_t smb2_write_stream_end(struct smb2_request *req, struct io_job *job);

/* conn.c: throttle accounting and the completion path. */
/* Counts a job against c's in-flight limit (start) or takes it off (loop
 * thread). */
void conn_io_account(struct smbd_conn *c, size_t bytes, bool start);
/* Worker: queues the finished response (encrypting it first when
 * job->encrypt_with is set) and posts the job's completion to c's loop,
 * which flushes, releases the job and frees it.  The response is
 * rsp_len bytes at buf + IO_RSP_HEADROOM; buf is a malloc'd block that
 * the queue takes.  The headroom lets the TRANSFORM_HEADER go in front and
 * the message be encrypted in place (no second multi-MiB buffer). */
#define IO_RSP_HEADROOM 52   /* SMB2_TRANSFORM_HDR_SIZE (MS-SMB2 2.2.41) */
void conn_io_finished(struct io_job *job, uint8_t *buf, size_t rsp_len);
/* Loop: releases a job that ends without running (a parked streamed WRITE
 * of a dead connection). */
void conn_io_discard(struct io_job *job);

/* smb2_read.c / smb2_write.c: the handlers with an already resolved open
 * and the fd to use (a dup the worker owns).  o NULL: resolve the request's
 * FileId and use o->fd (the synchronous handlers). */
uint32_t smb2_read_on(struct smb2_request *req, struct smbd_open *o, int fd);
uint32_t smb2_write_on(struct smb2_request *req, struct smbd_open *o, int fd);
/* The open such a handler acts on, with a reference for it: o again when
 * the caller resolved it (*fd is then the caller's), else the request's
 * FileId, whose fd goes to *fd.  NULL: not open. */
static inline struct smbd_open *smb2_io_open(struct smb2_request *req, struct smbd_open *o, uint64_t persistent_id,
					     uint64_t volatile_id, int *fd)
{
	if (o) {
		open_get(o);
		return o;
	}
	o = smb2_req_open(req, persistent_id, volatile_id);
	if (o) *fd = o->fd;
	return o;
}

/* dispatch.c: dispatch of a message whose buffer the callee owns (frees or
 * hands to a job). */
void dispatch_message_owned(struct smbd_conn *c, uint8_t *msg, size_t len);
/* dispatch.c: dispatch of a large message (received into its own buffer,
 * which the callee takes).  True when it is an encrypted message whose
 * decryption went to a worker: the connection dispatches nothing received
 * after it until conn_decrypt_finished; false when it was dispatched (or
 * the connection dropped) here. */
bool dispatch_large_message(struct smbd_conn *c, uint8_t *msg, size_t len);
/* conn.c, loop: the message of dispatch_large_message has been dispatched
 * (or dropped): receiving and dispatching go on. */
void conn_decrypt_finished(struct smbd_conn *c);
/* dispatch.c: may the (large) message whose first have bytes are at msg
 * be streamed (see above)? */
bool dispatch_can_stream(const struct smbd_conn *c, const uint8_t *msg, size_t have);
/* dispatch.c: dispatches it.  Returns the job that took the buffer (the
 * loop then receives the rest of the body into it and reports progress),
 * or NULL: the request was answered (an error) or the connection dropped,
 * and the caller still owns the buffer and drops the rest of the body. */
struct io_job *dispatch_message_streamed(struct smbd_conn *c, uint8_t *msg, size_t have, size_t len);

#endif
