/* I/O worker pool.  See io_pool.h for what runs where and why. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/server.h"

/* Queue bound: past it the dispatcher keeps the synchronous path, which
 * also back-pressures the client through the loop. */
#define IO_POOL_MAX_QUEUED 1024u

/* Memory after a large transfer.  READ responses and WRITE requests are
 * buffers of up to 8 MiB.  glibc serves them from mmap only until the
 * first one is freed: its dynamic threshold then rises to that size and
 * later ones come from the arenas, whose freed memory mostly stays
 * resident (only the top of the main heap is trimmed).  smbkitd kept
 * 20-80 MiB after a 1 GiB put.  Forcing mmap for them instead (a fixed
 * M_MMAP_THRESHOLD) costs an mmap, munmap and 2048 page faults per 8 MiB,
 * on every request of the transfer.  So the transfer keeps reusing arena
 * memory, and once the pool has moved IO_TRIM_AFTER_BYTES and then sat
 * idle for IO_TRIM_IDLE_MS (the completions, which free the buffers on
 * the loops, have run by then) one worker gives the free pages back with
 * malloc_trim(0).
 *
 * malloc_trim releases the free chunks of every arena but the top chunk
 * only of the main one, and a thread arena keeps a top of up to twice the
 * (risen) mmap threshold, 16 MiB, each: with the receive buffers in a
 * loop's arena and the READ responses in the workers' ones that was the
 * memory that stayed.  So the process uses one arena (M_ARENA_MAX 1, set
 * before the loops and workers start): small allocations are served from
 * each thread's tcache without the arena lock, and the large ones are a
 * few per MiB moved.  Measured (1 GiB put, tmpfs): VmRSS 23.7 MiB after
 * the transfer before, 7.5 MiB 0.3 s after it now; MiB/s and CPU/GiB
 * within the noise. */
#define IO_TRIM_AFTER_BYTES (32u * 1024 * 1024)
#define IO_TRIM_IDLE_MS 300

/* A descriptor for a worker to close (io_pool_close_fd). */
struct fd_close {
	struct io_task task;
	int fd;
};

static struct {
	struct smb_mutex lock;        /* rank io_pool: queue, counters, stop flag */
	struct io_task *tasks_head, *tasks_tail; /* guarded by lock: io_pool_run, FIFO */
	pthread_cond_t work;          /* a job was queued, or stop */
	pthread_cond_t idle;          /* a job finished (for io_pool_stop) */
	struct io_job *head, *tail;   /* guarded by lock */
	unsigned queued;              /* guarded by lock */
	unsigned running;             /* jobs taken by workers, guarded by lock */
	bool stop;                    /* guarded by lock */
	size_t bytes_since_trim;      /* guarded by lock */
	pthread_t *threads;
	int nthreads;
	atomic_bool enabled;
	bool stream_writes;           /* set before the loops start */
} pool;

bool io_pool_enabled(void) { return atomic_load_explicit(&pool.enabled, memory_order_relaxed); }
bool io_pool_streams_writes(void) { return pool.stream_writes && io_pool_enabled(); }

/* Fills req with the fixed fields of job's request (no response buffer). */
static void job_request(struct io_job *job, struct smb2_request *req, bool *have_related_fid, uint64_t *related_p,
			uint64_t *related_v)
{
	memset(req, 0, sizeof(*req));
	req->conn = job->conn;
	req->session = job->session;
	req->tree = job->tree;
	smb2_hdr_decode(job->msg, job->msg_len, &req->hdr);   /* decoded once already by the loop */
	req->msg = job->msg;
	req->msg_len = job->msg_len;
	req->have_related_fid = have_related_fid;
	req->related_persistent = related_p;
	req->related_volatile = related_v;
	req->last_in_chain = true;
	req->encrypted_by = job->encrypted_by;
}

/* One worker run of a signed streamed WRITE before its signature is known
 * (io_pool.h): feeds what has arrived to the signature and parks until
 * the next chunk.  True when it is decided (stream.signature_ok) or the
 * connection died (stream.status CANCELLED); false when it parked and is
 * not this worker's any more. */
static bool stream_verify_step(struct io_job *job)
{
	struct io_stream *st = &job->stream;
	for (;;) {
		uint64_t word = atomic_load_explicit(&st->word, memory_order_acquire);
		size_t have = (size_t)(word >> IO_STREAM_SHIFT);
		if (st->maced == 0) {
			/* The header arrived before the job was queued (dispatch.c). */
			st->mac = smb2_sign_stream_begin(job->conn->signing_algo, job->session->keys.signing, job->msg);
			st->maced = SMB2_HDR_SIZE;
		}
		if (word & IO_STREAM_ABORTED) {
			smb2_sign_stream_free(st->mac);
			st->mac = NULL;
			st->status = STATUS_CANCELLED;   /* answered to nobody */
			return true;
		}
		if (st->mac && have > st->maced) {
			if (smb2_sign_stream_update(st->mac, job->msg + st->maced, have - st->maced) == 0) {
				st->maced = have;
			} else {
				smb2_sign_stream_free(st->mac);
				st->mac = NULL;
			}
		}
		if (have == job->msg_len) {
			st->signature_ok = smb2_sign_stream_verify(st->mac, job->msg + 48);   /* Signature, 2.2.1 */
			st->mac = NULL;
			return true;
		}
		if (io_stream_park(job, word)) return false;
	}
}

/* Runs one job: verification, handler, response.  Returns false when a
 * streamed WRITE parked (io_pool.h): the job is the loop's again and may
 * already run on another worker, so the caller must not touch it. */
static bool job_run(struct io_job *job)
{
	struct smbd_conn *c = job->conn;
	struct smbd_session *s = job->session;
	uint32_t status = STATUS_SUCCESS;
	bool have_related_fid = false;
	uint64_t related_p = 0, related_v = 0;
	struct smb2_request req;
	job_request(job, &req, &have_related_fid, &related_p, &related_v);
	/* A signed WRITE still arriving: its signature is computed as the
	 * body comes in (CANCELLED: the connection died first). */
	if (job->streamed && job->verify) {
		if (!stream_verify_step(job)) return false;
		status = job->stream.status;
	}
	/* 3.3.5.2.4: a request whose signature does not verify is refused
	 * before anything else happens; the dispatcher left only this check. */
	if (status == STATUS_SUCCESS && job->verify &&
	    !(job->streamed ? job->stream.signature_ok
			    : smb2_verify_signature(c->signing_algo, s->keys.signing, job->msg, job->msg_len))) {
		log_warn("%s: bad signature on %s, request refused", c->peer_str,
			 smb2_command_name(job->rsp_hdr.command));
		status = STATUS_ACCESS_DENIED;
	}
	if (job->streamed && status == STATUS_SUCCESS) {
		smbd_impersonate(s);
		bool finished = smb2_write_stream_step(job, &req);
		smbd_unimpersonate();
		if (!finished) return false;
	}

	/* The response buffer is sized for the whole READ up front so the
	 * handler's data lands in it without a reallocation or zeroing. */
	size_t hint = IO_RSP_HEADROOM + SMB2_HDR_SIZE + 64;
	if (job->rsp_hdr.command == SMB2_READ && job->msg_len >= SMB2_HDR_SIZE + 8)
		hint += get_le32(job->msg + SMB2_HDR_SIZE + 4);
	struct wbuf out;
	wbuf_init(&out, hint);
	wbuf_zero(&out, IO_RSP_HEADROOM + SMB2_HDR_SIZE);
	const size_t hoff = IO_RSP_HEADROOM;

	req.out = &out;
	req.out_hdr_off = hoff;

	if (status == STATUS_SUCCESS && !out.err) {
		smbd_impersonate(s);
		if (job->streamed) status = smb2_write_stream_end(&req, job);
		else if (job->rsp_hdr.command == SMB2_READ) status = smb2_read_on(&req, job->open, job->fd);
		else status = smb2_write_on(&req, job->open, job->fd);
		smbd_unimpersonate();
	}
	if (out.err && out.p) {
		out.err = false;
		out.len = hoff + SMB2_HDR_SIZE;
		status = STATUS_INSUFFICIENT_RESOURCES;
	}
	if (nt_is_error(status) && !req.body_written) out.len = hoff + SMB2_HDR_SIZE;
	if (out.len == hoff + SMB2_HDR_SIZE) smb2_error_rsp_encode(&out);

	struct smb2_hdr rh = job->rsp_hdr;
	rh.status = status;
	if (job->sign) rh.flags |= SMB2_FLAGS_SIGNED;
	uint8_t *rsp = NULL;
	size_t rsp_len = 0;
	if (!out.err) {
		smb2_hdr_encode(out.p + hoff, &rh);
		if (job->sign) smb2_sign_in_place(c->signing_algo, s->keys.signing, out.p + hoff, out.len - hoff);
		rsp = wbuf_steal(&out, &rsp_len);
		rsp_len -= hoff;
	} else {
		job->send_failed = true;
	}
	wbuf_free(&out);
	conn_io_finished(job, rsp, rsp_len);
	return true;
}

/* Lock held: is anything queued (jobs or tasks)?  Idle:
 * nothing queued and nothing running (io_pool_stop waits for that). */
static bool pool_has_queued(void) { return pool.head || pool.tasks_head; }
static bool pool_idle(void) { return !pool_has_queued() && !pool.running; }

/* Waits (lock held) until work is queued or stop; after a large
 * transfer, trims the heap once the pool has been idle a while (see
 * IO_TRIM_AFTER_BYTES). */
static void wait_for_work(void)
{
	while (!pool_has_queued() && !pool.stop) {
		if (pool.bytes_since_trim < IO_TRIM_AFTER_BYTES || pool.running) {
			pthread_cond_wait(&pool.work, &pool.lock.m);
			continue;
		}
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += IO_TRIM_IDLE_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		int r = pthread_cond_timedwait(&pool.work, &pool.lock.m, &until);
		if (r == ETIMEDOUT && pool_idle() && !pool.stop &&
		    pool.bytes_since_trim >= IO_TRIM_AFTER_BYTES) {
			/* One worker trims; the others see the counter reset. */
			pool.bytes_since_trim = 0;
			smb_mutex_unlock(&pool.lock);
			malloc_trim(0);
			smb_mutex_lock(&pool.lock);
		}
	}
}

static void *worker_main(void *arg)
{
	(void)arg;
	/* A worker runs nothing but READ/WRITE handlers, each impersonating
	 * its session: the identity may stay from one job to the next
	 * (session.c, identity). */
	smbd_identity_lazy(true);
	smb_mutex_lock(&pool.lock);
	for (;;) {
		wait_for_work();
		/* A task first (a descriptor to close: a few µs to queue, maybe
		 * 100 ms to run; a decryption a connection waits for), then a
		 * job. */
		struct io_task *task = pool.tasks_head;
		struct io_job *job = task ? NULL : pool.head;
		if (!task && !job) break;   /* stop, and nothing left */
		if (task) {
			pool.tasks_head = task->next;
			if (!pool.tasks_head) pool.tasks_tail = NULL;
		} else {
			pool.head = job->next;
			if (!pool.head) pool.tail = NULL;
			pool.queued--;
		}
		pool.running++;
		smb_mutex_unlock(&pool.lock);
		size_t moved = 0;
		if (task) {
			task->run(task);   /* the task is gone once it ran */
		} else {
			/* The job is gone once it ran (its completion frees it). */
			moved = job->msg_len;
			if (job->rsp_hdr.command == SMB2_READ && job->msg_len >= SMB2_HDR_SIZE + 8)
				moved += get_le32(job->msg + SMB2_HDR_SIZE + 4);
			if (!job_run(job)) moved = 0;   /* parked: counted when it finishes */
		}
		smb_mutex_lock(&pool.lock);
		pool.running--;
		pool.bytes_since_trim += moved;
		if (pool_idle()) pthread_cond_broadcast(&pool.idle);
	}
	smb_mutex_unlock(&pool.lock);
	return NULL;
}

int io_pool_start(int nthreads)
{
	/* Before any loop or worker thread allocates (see IO_TRIM_AFTER_BYTES). */
	mallopt(M_ARENA_MAX, 1);
	/* Fixed thresholds instead of glibc's dynamic ones: buffers of up to
	 * 8 MiB + 64 KiB always come from the heap, and its top is given back
	 * only beyond 64 MiB (a connection's cap of offloaded bytes in flight)
	 * or by the idle trim above.  With the dynamic trim threshold (twice
	 * the largest buffer freed) the heap was trimmed and faulted in again
	 * page by page while a transfer ran: 5-6 % of smbkitd's CPU in an
	 * encrypted 1 GiB put went to page faults and zeroing in recv(). */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	const char *env = getenv("SMBKITD_IO_THREADS");
	if (env && *env) nthreads = atoi(env);
	if (nthreads < 0) nthreads = 0;
	if (nthreads > 64) nthreads = 64;
	env = getenv("SMBKITD_STREAM_WRITES");
	pool.stream_writes = !(env && strcmp(env, "0") == 0);
	smb_mutex_init(&pool.lock, LOCK_RANK_IO_POOL, "io_pool");
	/* The idle trim waits on the monotonic clock (wait_for_work). */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool.work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&pool.idle, NULL);
	pool.head = pool.tail = NULL;
	pool.tasks_head = pool.tasks_tail = NULL;
	pool.queued = pool.running = 0;
	pool.stop = false;
	pool.bytes_since_trim = 0;
	pool.nthreads = 0;
	if (nthreads == 0) return 0;
	pool.threads = calloc((size_t)nthreads, sizeof(*pool.threads));
	if (!pool.threads) return -1;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&pool.threads[i], NULL, worker_main, NULL) != 0) break;
		pool.nthreads++;
	}
	if (pool.nthreads == 0) return -1;
	atomic_store(&pool.enabled, true);
	log_info("I/O pool: %d worker threads", pool.nthreads);
	return 0;
}

void io_pool_stop(void)
{
	if (!pool.nthreads) return;
	atomic_store(&pool.enabled, false);
	smb_mutex_lock(&pool.lock);
	while (!pool_idle()) pthread_cond_wait(&pool.idle, &pool.lock.m);
	pool.stop = true;
	pthread_cond_broadcast(&pool.work);
	smb_mutex_unlock(&pool.lock);
	for (int i = 0; i < pool.nthreads; i++) pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.nthreads = 0;
}

/* A streamed WRITE is queued past IO_POOL_MAX_QUEUED: its buffer already
 * holds part of the body, and a connection streams one at a time. */
static bool pool_enqueue(struct io_job *job)
{
	job->next = NULL;
	smb_mutex_lock(&pool.lock);
	if (pool.stop || (pool.queued >= IO_POOL_MAX_QUEUED && !job->streamed)) {
		smb_mutex_unlock(&pool.lock);
		return false;
	}
	if (pool.tail) pool.tail->next = job;
	else pool.head = job;
	pool.tail = job;
	pool.queued++;
	pthread_cond_signal(&pool.work);
	smb_mutex_unlock(&pool.lock);
	return true;
}

bool io_pool_submit(struct io_job *job)
{
	if (!io_pool_enabled()) return false;
	return pool_enqueue(job);
}

bool io_pool_run(struct io_task *task)
{
	if (!io_pool_enabled()) return false;
	task->next = NULL;
	smb_mutex_lock(&pool.lock);
	bool queued = !pool.stop;
	if (queued) {
		if (pool.tasks_tail) pool.tasks_tail->next = task;
		else pool.tasks_head = task;
		pool.tasks_tail = task;
		pthread_cond_signal(&pool.work);
	}
	smb_mutex_unlock(&pool.lock);
	return queued;
}

static void fd_close_run(struct io_task *task)
{
	struct fd_close *fc = container_of(task, struct fd_close, task);
	close(fc->fd);
	free(fc);
}

void io_pool_close_fd(int fd)
{
	struct fd_close *fc = io_pool_enabled() ? malloc(sizeof(*fc)) : NULL;
	if (fc) {
		*fc = (struct fd_close){ .task.run = fd_close_run, .fd = fd };
		if (io_pool_run(&fc->task)) return;
		free(fc);
	}
	close(fd);
}

/* ---- streamed WRITE (io_pool.h) ---- */

/* Has a parked job work (the loop asks; the job is parked, so consumed
 * is stable)? */
static bool stream_has_work(const struct io_job *job, uint64_t word)
{
	size_t have = (size_t)(word >> IO_STREAM_SHIFT);
	if (have == job->msg_len || (word & IO_STREAM_ABORTED)) return true;
	return !job->stream.failed && have - job->stream.consumed >= IO_STREAM_CHUNK;
}

bool io_stream_park(struct io_job *job, uint64_t seen)
{
	job->stream.consumed = (size_t)(seen >> IO_STREAM_SHIFT);
	job->stream.failed = job->stream.status != STATUS_SUCCESS;
	/* Release: the loop reads consumed (and the run's other effects) once
	 * it sees PARKED.  On failure the word changed: run again. */
	return atomic_compare_exchange_strong_explicit(&job->stream.word, &seen, seen | IO_STREAM_PARKED,
						       memory_order_acq_rel, memory_order_acquire);
}

void io_stream_progress(struct io_job *job, size_t added)
{
	uint64_t word = atomic_fetch_add_explicit(&job->stream.word, (uint64_t)added << IO_STREAM_SHIFT,
						  memory_order_acq_rel) + ((uint64_t)added << IO_STREAM_SHIFT);
	if (!(word & IO_STREAM_PARKED) || !stream_has_work(job, word)) return;
	/* Parked: only this thread changes the word now. */
	atomic_fetch_and_explicit(&job->stream.word, ~(uint64_t)IO_STREAM_PARKED, memory_order_acq_rel);
	/* The pool stops only after the loops (loops_stop), so this queues;
	 * if it ever did not, the job parks again and the teardown of the
	 * connection ends it. */
	if (!pool_enqueue(job)) atomic_fetch_or(&job->stream.word, IO_STREAM_PARKED);
}

void io_stream_abort(struct io_job *job)
{
	uint64_t old = atomic_fetch_or_explicit(&job->stream.word, IO_STREAM_ABORTED, memory_order_acq_rel);
	/* A parked job is ended here, without a worker (the pool may already
	 * be stopped: loops_stop tears connections down after it).  A queued
	 * or running one cannot park any more (its CAS fails) and ends
	 * through its completion. */
	if (old & IO_STREAM_PARKED) conn_io_discard(job);
}
