/* libFuzzer target: the srvsvc named pipe end to end (DCE/RPC bind,
 * alter_context, requests with fragment reassembly, NDR, srvsvc calls),
 * driven the way smb2_write/smb2_read/IOCTL drive it: pipe_write of
 * whole or partial PDUs, then pipe_read until the pipe is empty.
 *
 * Input: byte 0 = options (bit 0: the harness first sends a valid BIND,
 * so even inputs without one reach the request path; bits 1-3 choose the
 * pipe_read size).  The rest is a sequence of chunks, each
 * [u16 little-endian length][bytes], each given to one pipe_write. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "server/server.h"
#include "wire/dcerpc.h"
#include "wire/ntstatus.h"

static struct smbd_share shares[4];
static struct smbd_share *share_list[4];
static struct smbd_config cfg;
static struct smbd_conn conn;
static struct smbd_session sess;

static void mkshare(struct smbd_share *s, const char *name, const char *path, const char *comment, bool ipc,
		    bool browse)
{
	memset(s, 0, sizeof(*s));
	s->name = (char *)name;
	s->path = (char *)path;
	s->comment = (char *)comment;
	s->ipc = ipc;
	s->browseable = browse;
	s->root_fd = -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init_common();
	mkshare(&shares[0], "share", "/tmp/share", "Fuzz share", false, true);
	mkshare(&shares[1], "IPC$", NULL, "IPC Service", true, false);
	mkshare(&shares[2], "hidden", "/srv/hidden", "not listed", false, false);
	mkshare(&shares[3], "ro", "/srv/ro", NULL, false, true);
	shares[3].read_only = true;
	for (int i = 0; i < 4; i++) share_list[i] = &shares[i];
	cfg.shares = share_list;
	cfg.nshares = 4;
	cfg.netbios_name = (char *)"SMBKIT";
	cfg.workgroup = (char *)"WORKGROUP";
	cfg.server_string = (char *)"smbkit fuzz";
	conn.cfg = &cfg;
	sess.conn = &conn;
	return 0;
}

static void push_syntax(struct wbuf *w, const struct dcerpc_syntax_id *s)
{
	wbuf_bytes(w, s->uuid, 16);
	wbuf_u16(w, s->vers_major);
	wbuf_u16(w, s->vers_minor);
}

/* BIND of srvsvc v3.0 over NDR32 (C706 12.6.4.3), call id 1. */
static void build_bind(struct wbuf *w)
{
	size_t pdu = w->len;
	dcerpc_hdr_encode(w, DCERPC_PKT_BIND, DCERPC_PFC_FIRST_FRAG | DCERPC_PFC_LAST_FRAG, 1);
	wbuf_u16(w, 4280);
	wbuf_u16(w, 4280);
	wbuf_u32(w, 0);
	wbuf_u8(w, 1);
	wbuf_zero(w, 3);
	wbuf_u16(w, 0);
	wbuf_u8(w, 1);
	wbuf_u8(w, 0);
	push_syntax(w, &dcerpc_srvsvc_syntax);
	push_syntax(w, &dcerpc_ndr32_syntax);
	dcerpc_set_frag_length(w, pdu);
}

static void drain(struct smbd_pipe *p, size_t max)
{
	/* Bounded: a pipe never holds more than a few responses. */
	for (int i = 0; i < 4096; i++) {
		struct wbuf w;
		wbuf_init(&w, 0);
		uint32_t st = pipe_read(p, &w, max);
		if (w.len > max) abort();   /* pipe_read must honour max */
		wbuf_free(&w);
		if (st != STATUS_SUCCESS && st != STATUS_BUFFER_OVERFLOW) break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	static const size_t read_sizes[8] = { 1, 16, 24, 100, 1024, 4280, 65536, 1 << 20 };
	size_t max = read_sizes[(data[0] >> 1) & 7];
	uint32_t st = 0;
	struct smbd_pipe *p = pipe_open("srvsvc", &sess, &st);
	if (!p) abort();
	if (data[0] & 1) {
		struct wbuf w;
		wbuf_init(&w, 0);
		build_bind(&w);
		(void)pipe_write(p, w.p, w.len);
		wbuf_free(&w);
		drain(p, 65536);
	}
	size_t off = 1;
	while (off + 2 <= size) {
		size_t len = get_le16(data + off);
		off += 2;
		if (len > size - off) len = size - off;
		/* Exact-size copy: ASan catches reads past the chunk. */
		uint8_t *chunk = malloc(len ? len : 1);
		if (!chunk) break;
		memcpy(chunk, data + off, len);
		off += len;
		(void)pipe_write(p, chunk, len);
		free(chunk);
		drain(p, max);
	}
	pipe_close(p);

	/* Unknown names must be refused cleanly. */
	if (size > 2 && data[size - 1] == 'N') {
		char name[32];
		size_t n = size - 1 < sizeof(name) - 1 ? size - 1 : sizeof(name) - 1;
		memcpy(name, data + 1, n);
		name[n] = 0;
		struct smbd_pipe *q = pipe_open(name, &sess, &st);
		if (q) pipe_close(q);
	}
	return 0;
}
