/* SMB2 READ (MS-SMB2 3.3.5.12). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/server.h"
#include "wire/read.h"

uint32_t smb2_read(struct smb2_request *req) { return smb2_read_on(req, NULL, -1); }

/* o/fd: see io_pool.h.  On an I/O worker o is resolved and referenced by
 * the job and fd is the job's dup of o->fd; this function then takes its
 * own reference like the synchronous path does. */
uint32_t smb2_read_on(struct smb2_request *req, struct smbd_open *o, int fd)
{
	struct smb2_read_req rr;
	uint32_t status = smb2_read_req_decode(req->msg, req->msg_len, &rr);
	if (status) return status;
	unsigned max_io = req->conn && req->conn->cfg ? req->conn->cfg->max_io_size : 8u << 20;
	/* 3.3.5.12: Length above MaxReadSize, or an offset that cannot be a
	 * file position, is invalid.  RDMA channels come with SMB Direct. */
	if (rr.length > max_io || rr.offset > (uint64_t)INT64_MAX || rr.channel != SMB2_CHANNEL_NONE)
		return STATUS_INVALID_PARAMETER;
	o = smb2_io_open(req, o, rr.persistent_id, rr.volatile_id, &fd);
	if (!o) return STATUS_FILE_CLOSED;
	struct wbuf *w = req->out;
	size_t start = w->len;

	if (o->pipe) {
		uint8_t *fixed = wbuf_reserve(w, SMB2_READ_RSP_FIXED);
		if (!fixed) {
			open_put(o);
			return STATUS_NO_MEMORY;
		}
		size_t data_start = w->len;
		status = pipe_read(o->pipe, w, rr.length);
		if (nt_is_error(status) || w->err) {
			w->len = start;
			open_put(o);
			return w->err ? STATUS_NO_MEMORY : status;
		}
		smb2_read_rsp_encode_fixed(w->p + start, (uint32_t)(w->len - data_start), 0);
		if (w->len == data_start) wbuf_u8(w, 0);
		if (status == STATUS_BUFFER_OVERFLOW) req->body_written = true;
		open_put(o);
		return status;
	}

	if (o->is_dir) {
		status = STATUS_INVALID_DEVICE_REQUEST;
		goto out;
	}
	if (!(o->access & (FILE_READ_DATA | FILE_EXECUTE))) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	/* Byte-range locks of other opens (MS-FSA 2.1.5.2, brl.c). */
	status = brl_check_io(o, rr.offset, rr.length, false);
	if (status) goto out;
	/* Read straight into the response buffer.  When the caller sized it
	 * for the whole READ (the I/O worker does), take the room without
	 * wbuf_reserve's zeroing of bytes pread overwrites anyway. */
	size_t need = SMB2_READ_RSP_FIXED + (size_t)rr.length;
	uint8_t *fixed;
	if (!w->err && w->p && w->cap - w->len >= need) {
		fixed = w->p + w->len;
		memset(fixed, 0, SMB2_READ_RSP_FIXED);
		w->len += need;
	} else {
		fixed = wbuf_reserve(w, need);
	}
	if (!fixed) {
		w->err = false;
		w->len = start;
		status = STATUS_NO_MEMORY;
		goto out;
	}
	uint8_t *data = fixed + SMB2_READ_RSP_FIXED;
	size_t got = 0;
	while (got < rr.length) {
		ssize_t n = pread(fd, data + got, rr.length - got, (off_t)(rr.offset + got));
		if (n < 0) {
			if (errno == EINTR) continue;
			status = ntstatus_from_errno(errno);
			break;
		}
		if (n == 0) break;
		got += (size_t)n;
	}
	if (status == STATUS_SUCCESS && ((got == 0 && rr.length > 0) || got < rr.minimum_count))
		status = STATUS_END_OF_FILE;  /* at/after EOF, or short of MinimumCount */
	if (status) {
		w->len = start;
		goto out;
	}
	/* Synchronous I/O moves the file position.  A worker may store it
	 * while the loop reads it for a query: relaxed atomic at this end. */
	__atomic_store_n(&o->position, rr.offset + got, __ATOMIC_RELAXED);
	smb2_read_rsp_encode_fixed(w->p + start, (uint32_t)got, 0);
	w->len = start + SMB2_READ_RSP_FIXED + got;
	if (got == 0) wbuf_u8(w, 0);  /* StructureSize 17 counts one byte */
out:
	if (status) log_debug("read off %llu len %u: %s", (unsigned long long)rr.offset, rr.length, ntstatus_name(status));
	open_put(o);
	return status;
}
