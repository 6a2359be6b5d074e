/* SMB2 WRITE (MS-SMB2 3.3.5.13). */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/io_pool.h"
#include "server/lease.h"
#include "server/server.h"
#include "wire/write.h"

/* MAXFILESIZE of NTFS, 16 TiB - 64 KiB. */
#define SMB_MAX_FILE_SIZE 0xfffffff0000ULL

uint32_t smb2_write(struct smb2_request *req) { return smb2_write_on(req, NULL, -1); }

/* o/fd: see io_pool.h and smb2_read_on. */
uint32_t smb2_write_on(struct smb2_request *req, struct smbd_open *o, int fd)
{
	struct smb2_write_req wr;
	uint32_t status = smb2_write_req_decode(req->msg, req->msg_len, &wr);
	if (status) {
		log_debug("write: malformed request");
		return status;
	}
	unsigned max_io = req->conn && req->conn->cfg ? req->conn->cfg->max_io_size : 8u << 20;
	bool append_pos = wr.offset == UINT64_MAX;
	if (wr.length > max_io || (!append_pos && wr.offset > (uint64_t)INT64_MAX) ||
	    wr.channel != SMB2_CHANNEL_NONE) {
		log_debug("write off %llu len %u channel %u: invalid", (unsigned long long)wr.offset, wr.length,
			  wr.channel);
		return STATUS_INVALID_PARAMETER;
	}
	if (o) {
		open_get(o);
	} else {
		o = smb2_req_open(req, wr.persistent_id, wr.volatile_id);
		if (!o) return STATUS_FILE_CLOSED;
		fd = o->fd;
	}
	size_t done = 0;

	if (o->pipe) {
		status = pipe_write(o->pipe, wr.data, wr.length);
		if (status == STATUS_SUCCESS) done = wr.length;
		goto out;
	}
	if (o->is_dir) {
		status = STATUS_INVALID_DEVICE_REQUEST;
		goto out;
	}
	bool can_write = o->access & FILE_WRITE_DATA;
	bool can_append = o->access & FILE_APPEND_DATA;
	if (!can_write && !can_append) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	if (o->tree->read_only) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	uint64_t off = wr.offset;
	/* An open with append but no write access always writes at the end;
	 * it may say so with the all-ones offset (MS-FSA 2.1.5.3).  With
	 * write access that offset is invalid, like any offset beyond
	 * INT64_MAX (smbtorture smb2.rw.invalid, as Windows). */
	if (!can_write) {
		struct stat sb;
		if (fstat(fd, &sb) < 0) {
			status = ntstatus_from_errno(errno);
			goto out;
		}
		off = (uint64_t)sb.st_size;
	} else if (append_pos) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	/* NTFS's largest file (smbtorture smb2.rw.invalid, Windows): a write
	 * starting at or past it is invalid, one reaching it is DISK_FULL;
	 * 0 bytes are always fine. */
	if (wr.length && off >= SMB_MAX_FILE_SIZE) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}
	if (wr.length && wr.length >= SMB_MAX_FILE_SIZE - off) {
		status = STATUS_DISK_FULL;
		goto out;
	}
	/* Byte-range locks (MS-FSA 2.1.5.3, brl.c). */
	status = brl_check_io(o, off, wr.length, true);
	if (status) goto out;
	/* Other opens' read caching ends (MS-FSA 2.1.5.3, lease.c). */
	lease_break_on_write(o);
	while (done < wr.length) {
		ssize_t n = pwrite(fd, wr.data + done, wr.length - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR) continue;
			status = ntstatus_from_errno(errno);
			break;
		}
		done += (size_t)n;
	}
	/* Synchronous I/O moves the file position (relaxed atomic: see smb2_read_on). */
	__atomic_store_n(&o->position, off + done, __ATOMIC_RELAXED);
	if (status == STATUS_SUCCESS && (wr.flags & SMB2_WRITEFLAG_WRITE_THROUGH || o->mode & FILE_WRITE_THROUGH))
		if (fdatasync(fd) < 0) status = ntstatus_from_errno(errno);
out:
	open_put(o);
	if (status) {
		log_debug("write off %llu len %u: %s", (unsigned long long)wr.offset, wr.length, ntstatus_name(status));
		return status;
	}
	struct smb2_write_rsp rsp = { .count = (uint32_t)done, .remaining = 0 };
	smb2_write_rsp_encode(req->out, req->out_hdr_off, &rsp);
	return STATUS_SUCCESS;
}
