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
 *
 * Lifetime: a job holds references on the connection, session, tree and
 * open; if the connection dies meanwhile its response is queued on a dead
 * connection and freed with it (conn_put).  loops_stop drains the pool
 * before it tears connections down. */
#ifndef SMBKIT_SERVER_IO_POOL_H
#define SMBKIT_SERVER_IO_POOL_H

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
};

/* Queues the job (taking it).  Returns false when the pool is off or
 * full; the caller then keeps the synchronous path and still owns it. */
bool io_pool_submit(struct io_job *job);

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

/* smb2_read.c / smb2_write.c: the handlers with an already resolved open
 * and the fd to use (a dup the worker owns).  o NULL: resolve the request's
 * FileId and use o->fd (the synchronous handlers). */
uint32_t smb2_read_on(struct smb2_request *req, struct smbd_open *o, int fd);
uint32_t smb2_write_on(struct smb2_request *req, struct smbd_open *o, int fd);

/* dispatch.c: dispatch of a message whose buffer the callee owns (frees or
 * hands to a job). */
void dispatch_message_owned(struct smbd_conn *c, uint8_t *msg, size_t len);

#endif
