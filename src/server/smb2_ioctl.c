/* SMB2 IOCTL (MS-SMB2 3.3.5.15): the FSCTLs a file server answers itself
 * (negotiate validation, interface list, DFS), named pipe transactions on
 * IPC$, and the few file-system controls that map onto POSIX.
 *
 * Status codes for controls we do not implement follow what NTFS answers
 * for an FSCTL it does not know: STATUS_INVALID_DEVICE_REQUEST. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/falloc.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/brl.h"   /* FSCTL_LMR_REQUEST_RESILIENCY (smb2_lock.c) */
#include "server/server.h"
#include "server/vfs.h"
#include "wire/ioctl.h"

#define FILEID_ANY UINT64_MAX   /* FileId {-1, -1}: no open (2.2.31) */
#define DEFAULT_LINK_SPEED 1000000000ULL  /* 1 Gbit/s when the kernel does not say */
#define MAX_INTERFACES 64

/* Fills out with the output of one FSCTL; the result of each handler. */
struct ioctl_ctx {
	struct smb2_request *req;
	const struct smb2_ioctl_req *in;
	struct smbd_open *open;    /* NULL for the FileId-less controls */
	struct wbuf out;
	/* Set by a handler whose error status still carries its output
	 * (the copy-chunk response, 2.2.32.1). */
	bool error_has_body;
};

/* ------------------------------------------------ VALIDATE_NEGOTIATE_INFO */

/* The dialects this server implements, for the "greatest common dialect"
 * check of 3.3.5.15.12. */
static const uint16_t server_dialects[] = { SMB2_DIALECT_311, SMB2_DIALECT_302, SMB2_DIALECT_300,
					    SMB2_DIALECT_210, SMB2_DIALECT_202 };

static uint16_t greatest_common_dialect(const struct validate_negotiate_req *v)
{
	for (size_t i = 0; i < sizeof(server_dialects) / sizeof(server_dialects[0]); i++)
		for (unsigned j = 0; j < v->dialect_count; j++)
			if (v->dialects[j] == server_dialects[i]) return server_dialects[i];
	return 0;
}

/* Every failure here means someone tampered with the NEGOTIATE (or the
 * client is broken): the spec's answer is to drop the connection. */
static uint32_t validate_negotiate_fail(struct ioctl_ctx *x, const char *why)
{
	struct smbd_conn *c = x->req->conn;
	log_warn("%s: VALIDATE_NEGOTIATE_INFO failed (%s), disconnecting", c->peer_str, why);
	x->req->disconnect = true;
	return STATUS_ACCESS_DENIED;
}

static uint32_t fsctl_validate_negotiate(struct ioctl_ctx *x)
{
	struct smbd_conn *c = x->req->conn;
	struct validate_negotiate_req v;
	/* 3.3.5.15.12, in the order the spec lists the checks. */
	if (c->dialect == SMB2_DIALECT_311)
		return validate_negotiate_fail(x, "not used with 3.1.1, preauth integrity protects the negotiate");
	if (x->in->max_output_response < VALIDATE_NEGOTIATE_RSP_SIZE)
		return validate_negotiate_fail(x, "MaxOutputResponse too small");
	if (!validate_negotiate_req_decode(x->in->input, x->in->input_count, &v))
		return validate_negotiate_fail(x, "malformed request");
	/* We implement 3.1.1, so the dialect list must match what NEGOTIATE
	 * carried exactly (Connection.ClientDialects).  The connection keeps
	 * at most 16 of them; compare those. */
	unsigned ncmp = v.dialect_count < 16 ? v.dialect_count : 16;
	if (v.dialect_count > 16 ? c->nclient_dialects != 16 : c->nclient_dialects != v.dialect_count)
		return validate_negotiate_fail(x, "dialect count differs");
	for (unsigned i = 0; i < ncmp; i++)
		if (v.dialects[i] != c->client_dialects[i]) return validate_negotiate_fail(x, "dialect list differs");
	if (greatest_common_dialect(&v) != c->dialect) return validate_negotiate_fail(x, "dialect differs");
	if (memcmp(v.guid, c->client_guid, 16) != 0) return validate_negotiate_fail(x, "client guid differs");
	if (v.security_mode != c->client_security_mode) return validate_negotiate_fail(x, "security mode differs");
	if (v.capabilities != c->client_capabilities) return validate_negotiate_fail(x, "capabilities differ");

	validate_negotiate_rsp_encode(&x->out, c->server_capabilities, g_server.guid, c->server_security_mode, c->dialect);
	return STATUS_SUCCESS;
}

/* --------------------------------------------- QUERY_NETWORK_INTERFACE_INFO */

/* Link speed in bit/s from sysfs (Mbit/s there); virtual devices report -1
 * or nothing, and then we claim 1 Gbit/s so clients still rank the link. */
static uint64_t link_speed(const char *ifname)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	FILE *f = fopen(path, "re");
	if (!f) return DEFAULT_LINK_SPEED;
	long mbit = -1;
	if (fscanf(f, "%ld", &mbit) != 1) mbit = -1;
	fclose(f);
	return mbit > 0 ? (uint64_t)mbit * 1000000ULL : DEFAULT_LINK_SPEED;
}

static size_t collect_interfaces(struct network_interface *ifs, size_t max, bool want_loopback)
{
	struct ifaddrs *list;
	if (getifaddrs(&list) != 0) return 0;
	size_t n = 0;
	for (struct ifaddrs *a = list; a && n < max; a = a->ifa_next) {
		if (!a->ifa_addr || !(a->ifa_flags & IFF_UP)) continue;
		if (!!(a->ifa_flags & IFF_LOOPBACK) != want_loopback) continue;
		int fam = a->ifa_addr->sa_family;
		if (fam != AF_INET && fam != AF_INET6) continue;
		struct network_interface *e = &ifs[n];
		memset(e, 0, sizeof(*e));
		e->if_index = if_nametoindex(a->ifa_name);
		e->capability = 0;
		e->link_speed = link_speed(a->ifa_name);
		e->family = fam;
		if (fam == AF_INET) {
			memcpy(e->addr, &((const struct sockaddr_in *)(const void *)a->ifa_addr)->sin_addr, 4);
		} else {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)a->ifa_addr;
			memcpy(e->addr, &s6->sin6_addr, 16);
			e->scope_id = s6->sin6_scope_id;
		}
		n++;
	}
	freeifaddrs(list);
	return n;
}

static uint32_t fsctl_network_interfaces(struct ioctl_ctx *x)
{
	struct network_interface ifs[MAX_INTERFACES];
	/* Real interfaces are what multichannel clients can use; a machine
	 * with nothing but loopback still gets an answer. */
	size_t n = collect_interfaces(ifs, MAX_INTERFACES, false);
	if (n == 0) n = collect_interfaces(ifs, MAX_INTERFACES, true);
	if (n == 0) return STATUS_NOT_SUPPORTED;
	size_t fit = x->in->max_output_response / NETWORK_INTERFACE_INFO_SIZE;
	if (fit == 0) return STATUS_BUFFER_TOO_SMALL;
	if (n > fit) n = fit;
	network_interface_info_encode(&x->out, ifs, n);
	return STATUS_SUCCESS;
}

/* --------------------------------------------------------------- pipes */

static uint32_t fsctl_pipe_transceive(struct ioctl_ctx *x)
{
	struct smbd_pipe *p = x->open->pipe;
	if (!p) return STATUS_INVALID_DEVICE_REQUEST;
	uint32_t st = pipe_write(p, x->in->input, x->in->input_count);
	if (nt_is_error(st)) return st;
	/* The reply is the pipe's next message, cut to MaxOutputResponse;
	 * the rest stays for READs (MS-SMB2 3.3.5.15.5). */
	st = pipe_read(p, &x->out, x->in->max_output_response);
	if (st == STATUS_PIPE_EMPTY) return STATUS_SUCCESS;
	return st;
}

/* FSCTL_PIPE_WAIT (MS-FSCC 2.3.31): our pipes never run out of instances,
 * so a wait on a known name succeeds at once. */
static uint32_t fsctl_pipe_wait(struct ioctl_ctx *x)
{
	if (!x->req->tree || !x->req->tree->share->ipc) return STATUS_INVALID_DEVICE_REQUEST;
	struct rbuf r = rbuf_make(x->in->input, x->in->input_count);
	rbuf_skip(&r, 8);   /* Timeout */
	uint32_t name_len = rbuf_u32(&r);
	rbuf_skip(&r, 2);   /* TimeoutSpecified, Padding */
	const uint8_t *name16 = rbuf_ptr(&r, name_len);
	if (r.err || name_len == 0 || (name_len & 1)) return STATUS_INVALID_PARAMETER;
	char *name = utf16le_to_utf8(name16, name_len, NULL);
	if (!name) return STATUS_INVALID_PARAMETER;
	uint32_t st;
	struct smbd_pipe *p = pipe_open(name, x->req->session, &st);
	free(name);
	if (!p) return st;
	pipe_close(p);
	return STATUS_SUCCESS;
}

/* ---------------------------------------------------------- file controls */

/* FSCTL_SRV_ENUMERATE_SNAPSHOTS (3.3.5.15.1): we keep no previous
 * versions, so the array is empty: only its terminating NUL (2 bytes). */
static uint32_t fsctl_enumerate_snapshots(struct ioctl_ctx *x)
{
	if (x->in->max_output_response < 16) return STATUS_INVALID_PARAMETER;
	wbuf_u32(&x->out, 0);   /* NumberOfSnapShots */
	wbuf_u32(&x->out, 0);   /* NumberOfSnapShotsReturned */
	wbuf_u32(&x->out, 2);   /* SnapShotArraySize */
	wbuf_u16(&x->out, 0);
	wbuf_u16(&x->out, 0);
	return STATUS_SUCCESS;
}

/* FSCTL_SRV_REQUEST_RESUME_KEY (3.3.5.15.6, SRV_REQUEST_RESUME_KEY
 * 2.2.32.3).  The 24-byte key is opaque to the client; ours is the open's
 * persistent id, its volatile id, and 8 zero bytes, so a later
 * FSCTL_SRV_COPYCHUNK can find the source open with open_table_lookup()
 * and must still check it belongs to the same session. */
static uint32_t fsctl_request_resume_key(struct ioctl_ctx *x)
{
	if (x->in->max_output_response < 32) return STATUS_INVALID_PARAMETER;
	wbuf_u64(&x->out, x->open->persistent_id);
	wbuf_u64(&x->out, x->open->volatile_id);
	wbuf_u64(&x->out, 0);
	wbuf_u32(&x->out, 0);   /* ContextLength: unused, MUST be 0 */
	wbuf_u32(&x->out, 0);   /* Context: 4 reserved bytes, as Windows sends them */
	return STATUS_SUCCESS;
}

/* ------------------------------------------------------- server-side copy */

/* Our limits for one FSCTL_SRV_COPYCHUNK(_WRITE) request, the
 * ServerSideCopyMaxNumberofChunks / MaxChunkSize / MaxDataSize of MS-SMB2
 * 3.3.1.5; they are the values Windows uses, so clients that learned them
 * from a Windows server are never refused. */
#define COPYCHUNK_MAX_CHUNKS 256u
#define COPYCHUNK_MAX_CHUNK_SIZE (1024u * 1024u)
#define COPYCHUNK_MAX_DATA_SIZE (16u * 1024u * 1024u)
/* A TargetOffset of all ones means "at the current end of file" (the
 * 64-bit FILE_WRITE_TO_END_OF_FILE of MS-FSA 2.1.5.3); 3.3.5.15.6 lets it
 * through while refusing every other negative offset. */
#define COPYCHUNK_TARGET_EOF UINT64_MAX
/* NTFS's largest file, as smb2_write.c enforces for WRITE. */
#define COPYCHUNK_MAX_FILE_SIZE 0xfffffff0000ULL

/* 3.3.5.15.6.2: a request outside the limits gets STATUS_INVALID_PARAMETER
 * and, in the response buffer, the limits themselves so the client can
 * split the copy and retry. */
static uint32_t copychunk_limits_reply(struct ioctl_ctx *x)
{
	srv_copychunk_rsp_encode(&x->out, COPYCHUNK_MAX_CHUNKS, COPYCHUNK_MAX_CHUNK_SIZE, COPYCHUNK_MAX_DATA_SIZE);
	x->error_has_body = true;
	return STATUS_INVALID_PARAMETER;
}

/* Finds the open a resume key names.  Our key is (persistent id, volatile
 * id, 8 zero bytes) -- see fsctl_request_resume_key -- which is guessable,
 * so unlike Windows (whose key is an unguessable token usable from any
 * session) we only honour keys for opens of the requesting session: on
 * any of its tree connects, which is what copying between two shares (or
 * two connects of one share) needs.  Anything else is "not found"
 * (3.3.5.15.6), which also covers a source closed in the meantime. */
static struct smbd_open *copychunk_find_source(struct ioctl_ctx *x, const uint8_t key[SRV_RESUME_KEY_SIZE])
{
	static const uint8_t zero[8];
	if (memcmp(key + 16, zero, 8) != 0) return NULL;
	uint64_t pid = get_le64(key), vid = get_le64(key + 8);
	struct smbd_session *s = x->req->session;
	if (!s || vid == 0) return NULL;
	struct smbd_open *found = NULL;
	/* Lock order: session (40) before open_table (50), which
	 * open_table_lookup takes. */
	smb_mutex_lock(&s->lock);
	struct list_head *pos;
	list_for_each(pos, &s->trees) {
		struct smbd_tree *t = list_entry(pos, struct smbd_tree, link);
		if (t->id == 0) continue;
		found = open_table_lookup(t, pid, vid);
		if (found) break;
	}
	smb_mutex_unlock(&s->lock);
	if (found && found->session != s) {
		open_put(found);
		found = NULL;
	}
	return found;
}

/* Copies len bytes through a buffer: the whole range is read before any of
 * it is written, so overlapping ranges of one file copy the original data
 * (what Windows Server 2012 and later do: its buffer holds a whole chunk).
 * *written counts the bytes that reached the destination. */
static uint32_t copy_buffered(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint32_t len,
			      uint8_t *buf, uint32_t *written)
{
	uint32_t got = 0;
	while (got < len) {
		ssize_t n = pread(src_fd, buf + got, len - got, (off_t)(src_off + got));
		if (n < 0) {
			if (errno == EINTR) continue;
			return ntstatus_from_errno(errno);
		}
		if (n == 0) return STATUS_INVALID_VIEW_SIZE;  /* the source shrank under us */
		got += (uint32_t)n;
	}
	while (*written < len) {
		ssize_t n = pwrite(dst_fd, buf + *written, len - *written, (off_t)(dst_off + *written));
		if (n < 0) {
			if (errno == EINTR) continue;
			return ntstatus_from_errno(errno);
		}
		*written += (uint32_t)n;
	}
	return STATUS_SUCCESS;
}

/* One chunk.  copy_file_range(2) lets the kernel copy (or reflink) without
 * bringing the data to user space; when it cannot (cross-device on older
 * kernels, file systems without support, or the same file with
 * overlapping ranges, which it refuses) the rest goes through a buffer. */
static uint32_t copy_chunk(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint32_t len, bool overlap,
			   uint8_t *buf, uint32_t *written)
{
	*written = 0;
	while (!overlap && *written < len) {
		loff_t in = (loff_t)(src_off + *written), out = (loff_t)(dst_off + *written);
		ssize_t n = copy_file_range(src_fd, &in, dst_fd, &out, len - *written, 0);
		if (n > 0) {
			*written += (uint32_t)n;
			continue;
		}
		if (n == 0) return STATUS_INVALID_VIEW_SIZE;  /* the source shrank under us */
		if (errno == EINTR) continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF ||
		    errno == ETXTBSY)
			break;
		return ntstatus_from_errno(errno);
	}
	if (*written == len) return STATUS_SUCCESS;
	uint32_t rest = 0;
	uint32_t st = copy_buffered(src_fd, src_off + *written, dst_fd, dst_off + *written, len - *written, buf, &rest);
	*written += rest;
	return st;
}

/* FSCTL_SRV_COPYCHUNK and FSCTL_SRV_COPYCHUNK_WRITE (MS-SMB2 3.3.5.15.6):
 * the destination is the open the IOCTL names, the source the open the
 * resume key names.  The checks run in the order the spec lists them. */
static uint32_t fsctl_copychunk(struct ioctl_ctx *x)
{
	struct smbd_open *dst = x->open;
	struct srv_copychunk_copy cc;
	enum srv_copychunk_decode_result dec = srv_copychunk_copy_decode(x->in->input, x->in->input_count, &cc);
	bool out_fits = x->in->max_output_response >= SRV_COPYCHUNK_RSP_SIZE;
	if (dec == SRV_COPYCHUNK_NO_KEY)
		return out_fits ? copychunk_limits_reply(x) : STATUS_INVALID_PARAMETER;

	struct smbd_open *src = copychunk_find_source(x, cc.source_key);
	if (!src) return STATUS_OBJECT_NAME_NOT_FOUND;
	uint32_t status;
	uint8_t *buf = NULL;
	if (!out_fits) {
		status = STATUS_INVALID_PARAMETER;
		goto out;
	}

	/* 3.3.5.15.6: malformed or over our limits -> the limits reply. */
	bool bad = dec != SRV_COPYCHUNK_OK || cc.chunk_count > COPYCHUNK_MAX_CHUNKS || src->pipe || dst->pipe;
	uint64_t total = 0;
	uint32_t biggest = 0;
	for (uint32_t i = 0; !bad && i < cc.chunk_count; i++) {
		struct srv_copychunk ch;
		srv_copychunk_get(&cc, i, &ch);
		if (ch.length == 0 || ch.length > COPYCHUNK_MAX_CHUNK_SIZE) bad = true;
		if (ch.target_offset > (uint64_t)INT64_MAX && ch.target_offset != COPYCHUNK_TARGET_EOF) bad = true;
		total += ch.length;
		if (ch.length > biggest) biggest = ch.length;
	}
	if (bad || total > COPYCHUNK_MAX_DATA_SIZE) {
		status = copychunk_limits_reply(x);
		goto out;
	}

	/* Access (3.3.5.15.6): read on the source -- FILE_EXECUTE counts,
	 * as for any read of file data (MS-FSA 2.1.5.2), and Windows accepts
	 * it here too (smbtorture copy_chunk_bad_access); write on the
	 * destination, and for FSCTL_SRV_COPYCHUNK also read there (the
	 * _WRITE variant exists for write-only handles). */
	bool need_dst_read = x->in->ctl_code == FSCTL_SRV_COPYCHUNK;
	if (!(src->access & (FILE_READ_DATA | FILE_EXECUTE)) || !(dst->access & FILE_WRITE_DATA) ||
	    (need_dst_read && !(dst->access & FILE_READ_DATA)) || dst->tree->read_only) {
		status = STATUS_ACCESS_DENIED;
		goto out;
	}
	/* Data copies between files only; NTFS answers a data request on a
	 * directory this way. */
	if (src->is_dir || dst->is_dir) {
		status = STATUS_INVALID_DEVICE_REQUEST;
		goto out;
	}

	buf = malloc(biggest ? biggest : 1);
	if (!buf) {
		status = STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	/* Two opens of one file share their data: overlap is a property of
	 * the file, not of the handles. */
	bool same_file = src->dev == dst->dev && src->ino == dst->ino;
	uint32_t chunks_done = 0, chunk_partial = 0;
	uint64_t bytes_done = 0;
	status = STATUS_SUCCESS;
	/* Byte-range locks are checked per chunk below: Windows 2012+
	 * answers STATUS_FILE_LOCK_CONFLICT for a chunk that touches a range
	 * locked by another open. */
	for (uint32_t i = 0; i < cc.chunk_count; i++) {
		struct srv_copychunk ch;
		srv_copychunk_get(&cc, i, &ch);
		struct stat sb;
		if (fstat(src->fd, &sb) < 0) {
			status = ntstatus_from_errno(errno);
			break;
		}
		/* A chunk reaching past the source's end is refused whole,
		 * STATUS_INVALID_VIEW_SIZE as Windows answers (smbtorture
		 * copy_chunk_src_exceed); the chunks before it stay copied. */
		uint64_t src_size = (uint64_t)sb.st_size;
		if (ch.source_offset > src_size || ch.length > src_size - ch.source_offset) {
			status = STATUS_INVALID_VIEW_SIZE;
			break;
		}
		uint64_t target = ch.target_offset;
		if (target == COPYCHUNK_TARGET_EOF) {
			if (fstat(dst->fd, &sb) < 0) {
				status = ntstatus_from_errno(errno);
				break;
			}
			target = (uint64_t)sb.st_size;
		}
		if (target >= COPYCHUNK_MAX_FILE_SIZE || ch.length >= COPYCHUNK_MAX_FILE_SIZE - target) {
			status = STATUS_DISK_FULL;
			break;
		}
		/* The source is read and the target written as by READ and
		 * WRITE (MS-FSA 2.1.5.2/2.1.5.3 through brl.c). */
		status = brl_check_io(src, ch.source_offset, ch.length, false);
		if (status == STATUS_SUCCESS) status = brl_check_io(dst, target, ch.length, true);
		if (status != STATUS_SUCCESS) break;
		bool overlap = same_file && ch.source_offset < target + ch.length && target < ch.source_offset + ch.length;
		uint32_t written = 0;
		status = copy_chunk(src->fd, ch.source_offset, dst->fd, target, ch.length, overlap, buf, &written);
		bytes_done += written;
		if (status != STATUS_SUCCESS) {
			chunk_partial = written;
			break;
		}
		chunks_done++;
	}
	if (status == STATUS_SUCCESS && (dst->mode & FILE_WRITE_THROUGH) && fdatasync(dst->fd) < 0)
		status = ntstatus_from_errno(errno);
	/* 2.2.32.1: outside the INVALID_PARAMETER case the response says how
	 * far the copy got -- also on failure, so the client knows what was
	 * written. */
	srv_copychunk_rsp_encode(&x->out, chunks_done, chunk_partial, (uint32_t)bytes_done);
	if (nt_is_error(status)) x->error_has_body = true;
	log_debug("ioctl: copychunk %u/%u chunks, %llu bytes: %s", chunks_done, cc.chunk_count,
		  (unsigned long long)bytes_done, ntstatus_name(status));
out:
	free(buf);
	open_put(src);
	return status;
}

/* FSCTL_CREATE_OR_GET_OBJECT_ID (MS-FSCC 2.3.7, FILE_OBJECTID_BUFFER
 * 2.1.3.1): the object id is derived from (dev, ino), which is stable for
 * the file's life, so no state is stored. */
static uint32_t fsctl_object_id(struct ioctl_ctx *x)
{
	if (x->in->max_output_response < 64) return STATUS_INVALID_PARAMETER;
	uint8_t id[16];
	put_le64(id, (uint64_t)x->open->ino);
	put_le64(id + 8, (uint64_t)x->open->dev);
	wbuf_bytes(&x->out, id, 16);    /* ObjectId */
	wbuf_zero(&x->out, 16);         /* BirthVolumeId */
	wbuf_bytes(&x->out, id, 16);    /* BirthObjectId */
	wbuf_zero(&x->out, 16);         /* DomainId */
	return STATUS_SUCCESS;
}

static bool can_write(const struct smbd_open *o)
{
	return (o->access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0;
}

/* FSCTL_SET_SPARSE (MS-FSA 2.1.5.10.36).  Linux files are always "sparse
 * capable"; the flag itself is a DOS attribute kept in the xattr. */
static uint32_t fsctl_set_sparse(struct ioctl_ctx *x)
{
	struct smbd_open *o = x->open;
	if (o->is_dir) return STATUS_INVALID_PARAMETER;
	if (!(o->access & (FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_APPEND_DATA))) return STATUS_ACCESS_DENIED;
	/* FILE_SET_SPARSE_BUFFER is optional; absent means "set". */
	bool set = x->in->input_count == 0 || x->in->input[0] != 0;
	struct smb_file_stat st;
	int rc = vfs_fstat(o->fd, &st);
	if (rc < 0) return ntstatus_from_errno(-rc);
	uint32_t attrs = st.attributes & ~(FILE_ATTRIBUTE_NORMAL | FILE_ATTRIBUTE_DIRECTORY);
	attrs = set ? attrs | FILE_ATTRIBUTE_SPARSE_FILE : attrs & ~FILE_ATTRIBUTE_SPARSE_FILE;
	rc = vfs_set_dos_attributes(o->fd, attrs);
	if (rc < 0) return ntstatus_from_errno(-rc);
	return STATUS_SUCCESS;
}

/* FSCTL_SET_ZERO_DATA (MS-FSCC 2.3.85): zeroes [FileOffset,
 * BeyondFinalZero) without changing the size, by punching a hole. */
static uint32_t fsctl_set_zero_data(struct ioctl_ctx *x)
{
	struct smbd_open *o = x->open;
	if (x->in->input_count < 16) return STATUS_INVALID_PARAMETER;
	uint64_t from = get_le64(x->in->input);
	uint64_t beyond = get_le64(x->in->input + 8);
	if (from > INT64_MAX || beyond > INT64_MAX || from > beyond) return STATUS_INVALID_PARAMETER;
	if (o->is_dir) return STATUS_INVALID_PARAMETER;
	if (!can_write(o)) return STATUS_ACCESS_DENIED;
	struct stat sb;
	if (fstat(o->fd, &sb) < 0) return ntstatus_from_errno(errno);
	uint64_t size = (uint64_t)sb.st_size;
	if (beyond > size) beyond = size;   /* zeroing past EOF must not extend the file */
	if (from >= beyond) return STATUS_SUCCESS;
	off_t len = (off_t)(beyond - from);
	if (fallocate(o->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from, len) == 0) return STATUS_SUCCESS;
	if (errno != EOPNOTSUPP) return ntstatus_from_errno(errno);
	/* No hole punching on this file system: write zeros. */
	static const uint8_t zeros[65536];
	uint64_t pos = from;
	while (pos < beyond) {
		size_t n = beyond - pos < sizeof(zeros) ? (size_t)(beyond - pos) : sizeof(zeros);
		ssize_t w = pwrite(o->fd, zeros, n, (off_t)pos);
		if (w < 0) {
			if (errno == EINTR) continue;
			return ntstatus_from_errno(errno);
		}
		pos += (uint64_t)w;
	}
	return STATUS_SUCCESS;
}

/* FSCTL_QUERY_ALLOCATED_RANGES (MS-FSCC 2.3.47, MS-FSA 2.1.5.10.22): the
 * data extents inside [FileOffset, FileOffset+Length), from SEEK_DATA /
 * SEEK_HOLE. */
static uint32_t fsctl_query_allocated_ranges(struct ioctl_ctx *x)
{
	struct smbd_open *o = x->open;
	if (x->in->input_count < 16) return STATUS_INVALID_PARAMETER;
	uint64_t off = get_le64(x->in->input);
	uint64_t len = get_le64(x->in->input + 8);
	if (off > INT64_MAX || len > INT64_MAX || off + len > INT64_MAX) return STATUS_INVALID_PARAMETER;
	if (x->in->max_output_response < 16) return STATUS_BUFFER_TOO_SMALL;
	if (o->is_dir) return STATUS_INVALID_PARAMETER;
	if (!(o->access & FILE_READ_DATA)) return STATUS_ACCESS_DENIED;
	struct stat sb;
	if (fstat(o->fd, &sb) < 0) return ntstatus_from_errno(errno);
	uint64_t end = off + len;
	if (end > (uint64_t)sb.st_size) end = (uint64_t)sb.st_size;
	size_t room = x->in->max_output_response / 16;
	size_t written = 0;
	uint64_t pos = off;
	while (pos < end) {
		off_t d = lseek(o->fd, (off_t)pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO) break;  /* no data after pos */
			if (errno == EINVAL) {      /* SEEK_DATA unsupported: all data */
				d = (off_t)pos;
			} else {
				return ntstatus_from_errno(errno);
			}
		}
		if ((uint64_t)d >= end) break;
		off_t h = lseek(o->fd, d, SEEK_HOLE);
		if (h < 0) h = (off_t)end;
		uint64_t stop = (uint64_t)h < end ? (uint64_t)h : end;
		if (written == room) return STATUS_BUFFER_OVERFLOW;
		wbuf_u64(&x->out, (uint64_t)d);
		wbuf_u64(&x->out, stop - (uint64_t)d);
		written++;
		pos = stop;
	}
	return STATUS_SUCCESS;
}

/* FSCTL_GET_COMPRESSION / SET_COMPRESSION (MS-FSCC 2.3.20, 2.3.67): no
 * Linux file system we serve compresses per file, so the state is always
 * COMPRESSION_FORMAT_NONE and only that can be set. */
static uint32_t fsctl_get_compression(struct ioctl_ctx *x)
{
	if (x->in->max_output_response < 2) return STATUS_INVALID_PARAMETER;
	wbuf_u16(&x->out, 0);
	return STATUS_SUCCESS;
}

static uint32_t fsctl_set_compression(struct ioctl_ctx *x)
{
	if (x->in->input_count < 2) return STATUS_INVALID_PARAMETER;
	if (!(x->open->access & (FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES))) return STATUS_ACCESS_DENIED;
	uint16_t format = get_le16(x->in->input);
	if (format == 0) return STATUS_SUCCESS;
	return STATUS_NOT_SUPPORTED;
}

/* ------------------------------------------------------------- dispatch */

/* Controls addressed to the server rather than to an open: they carry
 * FileId {-1,-1} and anything else is invalid (3.3.5.15). */
static bool ctl_needs_no_open(uint32_t ctl)
{
	return ctl == FSCTL_DFS_GET_REFERRALS || ctl == FSCTL_DFS_GET_REFERRALS_EX ||
	       ctl == FSCTL_QUERY_NETWORK_INTERFACE_INFO || ctl == FSCTL_VALIDATE_NEGOTIATE_INFO ||
	       ctl == FSCTL_PIPE_WAIT;
}

static uint32_t run_fsctl(struct ioctl_ctx *x)
{
	switch (x->in->ctl_code) {
	case FSCTL_VALIDATE_NEGOTIATE_INFO: return fsctl_validate_negotiate(x);
	case FSCTL_QUERY_NETWORK_INTERFACE_INFO: return fsctl_network_interfaces(x);
	/* 3.3.5.15.2: a server that is not DFS capable answers this. */
	case FSCTL_DFS_GET_REFERRALS:
	case FSCTL_DFS_GET_REFERRALS_EX: return STATUS_FS_DRIVER_REQUIRED;
	case FSCTL_PIPE_WAIT: return fsctl_pipe_wait(x);
	default: break;
	}
	struct smbd_open *o = x->open;
	if (o->pipe) {
		if (x->in->ctl_code == FSCTL_PIPE_TRANSCEIVE) return fsctl_pipe_transceive(x);
		/* 3.3.5.15.6: a copy on a named pipe gets the limits reply. */
		if (x->in->ctl_code == FSCTL_SRV_COPYCHUNK || x->in->ctl_code == FSCTL_SRV_COPYCHUNK_WRITE)
			return fsctl_copychunk(x);
		return STATUS_NOT_SUPPORTED;
	}
	switch (x->in->ctl_code) {
	case FSCTL_PIPE_TRANSCEIVE:
	case FSCTL_PIPE_PEEK: return STATUS_INVALID_DEVICE_REQUEST;  /* not a pipe */
	case FSCTL_SRV_ENUMERATE_SNAPSHOTS: return fsctl_enumerate_snapshots(x);
	case FSCTL_SRV_REQUEST_RESUME_KEY: return fsctl_request_resume_key(x);
	case FSCTL_SRV_COPYCHUNK:
	case FSCTL_SRV_COPYCHUNK_WRITE: return fsctl_copychunk(x);
	case FSCTL_CREATE_OR_GET_OBJECT_ID: return fsctl_object_id(x);
	case FSCTL_SET_SPARSE: return fsctl_set_sparse(x);
	case FSCTL_SET_ZERO_DATA: return fsctl_set_zero_data(x);
	case FSCTL_QUERY_ALLOCATED_RANGES: return fsctl_query_allocated_ranges(x);
	case FSCTL_GET_COMPRESSION: return fsctl_get_compression(x);
	case FSCTL_SET_COMPRESSION: return fsctl_set_compression(x);
	case FSCTL_LMR_REQUEST_RESILIENCY: return smb2_fsctl_request_resiliency(x->req, o, x->in->input, x->in->input_count);
	default:
		log_debug("ioctl: FSCTL 0x%08x not supported", x->in->ctl_code);
		return STATUS_INVALID_DEVICE_REQUEST;
	}
}

uint32_t smb2_ioctl(struct smb2_request *req)
{
	struct smb2_ioctl_req in;
	uint32_t status = smb2_ioctl_req_decode(req->msg, req->msg_len, &in);
	if (status != STATUS_SUCCESS) return status;
	if (in.flags != SMB2_0_IOCTL_IS_FSCTL) return STATUS_NOT_SUPPORTED;

	/* Buffers above what we advertised as MaxTransactSize are refused
	 * (3.3.5.15), and so is a request whose input plus requested output
	 * exceeds it. */
	uint32_t max = req->conn->cfg->max_io_size;
	if (in.input_count > max || in.max_input_response > max || in.max_output_response > max ||
	    (uint64_t)in.input_count + in.max_output_response > max)
		return STATUS_INVALID_PARAMETER;

	struct ioctl_ctx x = { .req = req, .in = &in, .open = NULL };
	uint64_t pid = in.persistent_id, vid = in.volatile_id;
	if (ctl_needs_no_open(in.ctl_code)) {
		if (pid != FILEID_ANY || vid != FILEID_ANY) return STATUS_INVALID_PARAMETER;
	} else {
		x.open = smb2_req_open(req, pid, vid);
		if (!x.open) return STATUS_FILE_CLOSED;
		pid = x.open->persistent_id;
		vid = x.open->volatile_id;
	}

	wbuf_init(&x.out, 0);
	status = run_fsctl(&x);
	if (x.open) open_put(x.open);
	if (x.out.err) {
		status = STATUS_INSUFFICIENT_RESOURCES;
		x.error_has_body = false;
	}
	/* Success and the warnings that carry data (BUFFER_OVERFLOW) get a
	 * full response body, and so do the errors a handler says carry
	 * output (copy chunk); other errors get the dispatcher's error body. */
	if (!nt_is_error(status) || x.error_has_body) {
		/* A handler never produces more than was asked for; keep the
		 * promise to the client even if one did. */
		if (x.out.len > in.max_output_response && !nt_is_error(status)) {
			x.out.len = in.max_output_response;
			status = STATUS_BUFFER_OVERFLOW;
		}
		struct smb2_ioctl_rsp rsp = {
			.ctl_code = in.ctl_code,
			.persistent_id = pid,
			.volatile_id = vid,
			.output = x.out.p,
			.output_count = (uint32_t)x.out.len,
		};
		smb2_ioctl_rsp_encode(req->out, req->out_hdr_off, &rsp);
		if (status != STATUS_SUCCESS) req->body_written = true;
	}
	wbuf_free(&x.out);
	return status;
}
