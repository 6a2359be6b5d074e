/* SMB2 WRITE (MS-SMB2 3.3.5.13).
 *
 * A WRITE runs in three steps so that a large one can be written while its
 * body is still arriving (a streamed WRITE, io_pool.h): write_begin does
 * every check that needs only the request's fixed part, write_data writes
 * the part of the data that is there, write_end moves the file position,
 * honours write-through and builds the response. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/lease.h"
#include "server/server.h"
#include "wire/write.h"

/* MAXFILESIZE of NTFS, 16 TiB - 64 KiB. */
#define SMB_MAX_FILE_SIZE 0xfffffff0000ULL

uint32_t smb2_write(struct smb2_request *req) { return smb2_write_on(req, NULL, -1); }

/* Checks the request against the open, its byte-range locks and other
 * opens' caching, and fills plan.  Reads nothing of the data. */
static uint32_t write_begin(struct smb2_request *req, struct smbd_open *o, int fd, const struct smb2_write_req *wr,
			    struct io_write_plan *plan)
{
	plan->length = wr->length;
	plan->data_off = (size_t)(wr->data - req->msg);
	plan->done = 0;
	plan->write_through = (wr->flags & SMB2_WRITEFLAG_WRITE_THROUGH) || (o->mode & FILE_WRITE_THROUGH);
	if (o->is_dir) return STATUS_INVALID_DEVICE_REQUEST;
	bool can_write = o->access & FILE_WRITE_DATA;
	bool can_append = o->access & FILE_APPEND_DATA;
	if (!can_write && !can_append) return STATUS_ACCESS_DENIED;
	if (o->tree->read_only) return STATUS_ACCESS_DENIED;
	uint64_t off = wr->offset;
	/* An open with append but no write access always writes at the end;
	 * it may say so with the all-ones offset (MS-FSA 2.1.5.3).  With
	 * write access that offset is invalid, like any offset beyond
	 * INT64_MAX (smbtorture smb2.rw.invalid, as Windows). */
	if (!can_write) {
		struct stat sb;
		if (fstat(fd, &sb) < 0) return ntstatus_from_errno(errno);
		off = (uint64_t)sb.st_size;
	} else if (wr->offset == UINT64_MAX) {
		return STATUS_INVALID_PARAMETER;
	}
	plan->offset = off;
	/* NTFS's largest file (smbtorture smb2.rw.invalid, Windows): a write
	 * starting at or past it is invalid, one reaching it is DISK_FULL;
	 * 0 bytes are always fine. */
	if (wr->length && off >= SMB_MAX_FILE_SIZE) return STATUS_INVALID_PARAMETER;
	if (wr->length && wr->length >= SMB_MAX_FILE_SIZE - off) return STATUS_DISK_FULL;
	/* Byte-range locks (MS-FSA 2.1.5.3, brl.c). */
	uint32_t status = brl_check_io(o, off, wr->length, true);
	if (status) return status;
	/* Other opens' read caching ends (MS-FSA 2.1.5.3, lease.c). */
	lease_break_on_write(o);
	return STATUS_SUCCESS;
}

/* Test hook, debug builds only: SMBKIT_TEST_WRITE_PAUSE="OFFSET:MS" makes
 * a WRITE at file offset OFFSET wait MS milliseconds before its first byte
 * is written: the window in which its connection is dropped and another
 * client opens the file (tests/stress/stress.py io-close checks that the
 * close waits for the write, open.c open_close_file). */
static void test_pause_before_write(uint64_t offset)
{
#ifndef NDEBUG
	/* Read each time, as test_hook_pause (test_hook.h). */
	const char *e = getenv("SMBKIT_TEST_WRITE_PAUSE");
	unsigned long long at;
	unsigned ms;
	if (e && sscanf(e, "%llu:%u", &at, &ms) == 2 && at == offset && ms <= 10000) usleep(ms * 1000u);
#else
	(void)offset;
#endif
}

/* Writes the request's data up to upto bytes of it (plan->done onwards). */
static uint32_t write_data(int fd, const uint8_t *msg, struct io_write_plan *plan, size_t upto)
{
	if (plan->done == 0 && upto > 0) test_pause_before_write(plan->offset);
	while (plan->done < upto) {
		ssize_t n = pwrite(fd, msg + plan->data_off + plan->done, upto - plan->done,
				   (off_t)(plan->offset + plan->done));
		if (n < 0) {
			if (errno == EINTR) continue;
			return ntstatus_from_errno(errno);
		}
		plan->done += (size_t)n;
	}
	return STATUS_SUCCESS;
}

/* After write_data: file position, write-through, response. */
static uint32_t write_end(struct smb2_request *req, struct smbd_open *o, int fd, const struct io_write_plan *plan,
			  uint32_t status)
{
	/* Synchronous I/O moves the file position (relaxed atomic: see smb2_read_on). */
	__atomic_store_n(&o->position, plan->offset + plan->done, __ATOMIC_RELAXED);
	if (status == STATUS_SUCCESS && plan->write_through && fdatasync(fd) < 0) status = ntstatus_from_errno(errno);
	if (status) return status;
	struct smb2_write_rsp rsp = { .count = (uint32_t)plan->done, .remaining = 0 };
	smb2_write_rsp_encode(req->out, req->out_hdr_off, &rsp);
	return STATUS_SUCCESS;
}

/* Decodes the request and checks what does not depend on the open. */
static uint32_t write_decode(const struct smb2_request *req, struct smb2_write_req *wr)
{
	uint32_t status = smb2_write_req_decode(req->msg, req->msg_len, wr);
	if (status) {
		log_debug("write: malformed request");
		return status;
	}
	unsigned max_io = req->conn && req->conn->cfg ? req->conn->cfg->max_io_size : 8u << 20;
	if (wr->length > max_io || (wr->offset != UINT64_MAX && wr->offset > (uint64_t)INT64_MAX) ||
	    wr->channel != SMB2_CHANNEL_NONE) {
		log_debug("write off %llu len %u channel %u: invalid", (unsigned long long)wr->offset, wr->length,
			  wr->channel);
		return STATUS_INVALID_PARAMETER;
	}
	return STATUS_SUCCESS;
}

/* o/fd: see io_pool.h and smb2_read_on. */
uint32_t smb2_write_on(struct smb2_request *req, struct smbd_open *o, int fd)
{
	struct smb2_write_req wr;
	uint32_t status = write_decode(req, &wr);
	if (status) return status;
	o = smb2_io_open(req, o, wr.persistent_id, wr.volatile_id, &fd);
	if (!o) return STATUS_FILE_CLOSED;
	if (o->pipe) {
		status = pipe_write(o->pipe, wr.data, wr.length);
		open_put(o);
		if (status) return status;
		struct smb2_write_rsp rsp = { .count = wr.length, .remaining = 0 };
		smb2_write_rsp_encode(req->out, req->out_hdr_off, &rsp);
		return STATUS_SUCCESS;
	}
	struct io_write_plan plan = { 0 };
	status = write_begin(req, o, fd, &wr, &plan);
	if (status == STATUS_SUCCESS) {
		status = write_data(fd, req->msg, &plan, plan.length);
		status = write_end(req, o, fd, &plan, status);
	}
	open_put(o);
	if (status) log_debug("write off %llu len %u: %s", (unsigned long long)wr.offset, wr.length, ntstatus_name(status));
	return status;
}

/* ---- streamed WRITE (worker; io_pool.h) ---- */

bool smb2_write_stream_step(struct io_job *job, struct smb2_request *req)
{
	struct io_stream *st = &job->stream;
	for (;;) {
		uint64_t word = atomic_load_explicit(&st->word, memory_order_acquire);
		size_t have = (size_t)(word >> IO_STREAM_SHIFT);
		bool aborted = word & IO_STREAM_ABORTED;
		if (!st->begun) {
			/* The fixed part arrived before the job was queued
			 * (dispatch.c checked its size). */
			struct smb2_write_req wr;
			st->begun = true;
			st->status = write_decode(req, &wr);
			if (st->status == STATUS_SUCCESS) st->status = write_begin(req, job->open, job->fd, &wr, &st->plan);
			st->writing = st->status == STATUS_SUCCESS;
		}
		/* A connection that died mid-body: nothing more is written.  No
		 * one will see the WRITE answered, and its open's close (which
		 * waits for this job, open_close_file) should not wait for a
		 * body that may never come.  A pwrite already running when the
		 * connection died ends first; the close runs after it. */
		if (st->status == STATUS_SUCCESS && !aborted && have > st->plan.data_off) {
			size_t avail = have - st->plan.data_off;
			if (avail > st->plan.length) avail = st->plan.length;
			if (avail > st->plan.done) st->status = write_data(job->fd, job->msg, &st->plan, avail);
		}
		if (have == job->msg_len) return true;
		if (aborted) {
			if (st->status == STATUS_SUCCESS) st->status = STATUS_CANCELLED;   /* answered to nobody */
			return true;
		}
		if (io_stream_park(job, word)) return false;
	}
}

uint32_t smb2_write_stream_end(struct smb2_request *req, struct io_job *job)
{
	struct io_stream *st = &job->stream;
	uint32_t status = st->status;
	if (st->writing) status = write_end(req, job->open, job->fd, &st->plan, status);
	if (status)
		log_debug("write off %llu len %u: %s", (unsigned long long)st->plan.offset, st->plan.length,
			  ntstatus_name(status));
	return status;
}
