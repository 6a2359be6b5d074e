/* DCE/RPC PDUs, NDR helpers, the srvsvc pipe end to end (bind + requests
 * through pipe_write/pipe_read), and the IOCTL wire encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/utf16.h"
#include "server/server.h"
#include "server/srvsvc.h"
#include "wire/dcerpc.h"
#include "wire/ioctl.h"

/* ------------------------------------------------------------ NDR */

static void test_ndr_push_string(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 0);
	struct ndr_push n;
	ndr_push_init(&n, &w);
	ndr_push_u16(&n, 7);
	ndr_push_string(&n, "ab");   /* aligned to 4 after the u16 */
	static const uint8_t want[] = { 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 'b', 0, 0, 0 };
	assert_false(w.err);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.p, want, sizeof(want));
	/* referent ids: non-zero and distinct; NULL is 0 */
	assert_true(ndr_push_ptr(&n, true));
	assert_false(ndr_push_ptr(&n, false));
	assert_true(ndr_push_ptr(&n, true));
	uint32_t r1 = get_le32(w.p + 24), r0 = get_le32(w.p + 28), r2 = get_le32(w.p + 32);
	assert_int_not_equal(r1, 0);
	assert_int_equal(r0, 0);
	assert_int_not_equal(r1, r2);
	wbuf_free(&w);
}

static void test_ndr_pull_string(void **state)
{
	(void)state;
	static const uint8_t good[] = { 0xff, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'h', 0, 'i', 0, 0, 0 };
	struct ndr_pull n;
	ndr_pull_init(&n, good, sizeof(good));
	assert_int_equal(ndr_pull_u16(&n), 0xff);
	char *s = ndr_pull_string(&n, 100);
	assert_non_null(s);
	assert_string_equal(s, "hi");
	assert_true(ndr_pull_ok(&n));
	free(s);

	/* offset != 0 */
	uint8_t bad[sizeof(good)];
	memcpy(bad, good, sizeof(good));
	bad[8] = 1;
	ndr_pull_init(&n, bad, sizeof(bad));
	ndr_pull_u16(&n);
	assert_null(ndr_pull_string(&n, 100));
	assert_false(ndr_pull_ok(&n));
	/* actual > max */
	memcpy(bad, good, sizeof(good));
	bad[4] = 2;
	ndr_pull_init(&n, bad, sizeof(bad));
	ndr_pull_u16(&n);
	assert_null(ndr_pull_string(&n, 100));
	/* no terminator */
	memcpy(bad, good, sizeof(good));
	bad[20] = 'x';
	ndr_pull_init(&n, bad, sizeof(bad));
	ndr_pull_u16(&n);
	assert_null(ndr_pull_string(&n, 100));
	/* count beyond the buffer */
	memcpy(bad, good, sizeof(good));
	bad[4] = bad[12] = 0x40;
	ndr_pull_init(&n, bad, sizeof(bad));
	ndr_pull_u16(&n);
	assert_null(ndr_pull_string(&n, 1000));
	/* over the caller's limit */
	ndr_pull_init(&n, good, sizeof(good));
	ndr_pull_u16(&n);
	assert_null(ndr_pull_string(&n, 2));
}

static void test_hdr_decode(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 0);
	dcerpc_hdr_encode(&w, DCERPC_PKT_REQUEST, DCERPC_PFC_FIRST_FRAG, 42);
	dcerpc_set_frag_length(&w, 0);
	struct dcerpc_hdr h;
	assert_true(dcerpc_hdr_decode(w.p, w.len, &h));
	assert_int_equal(h.ptype, DCERPC_PKT_REQUEST);
	assert_int_equal(h.frag_length, 16);
	assert_int_equal(h.call_id, 42);
	assert_false(dcerpc_hdr_decode(w.p, 15, &h));
	w.p[0] = 4;   /* version */
	assert_false(dcerpc_hdr_decode(w.p, w.len, &h));
	w.p[0] = 5;
	w.p[4] = 0x00;  /* big-endian drep */
	assert_false(dcerpc_hdr_decode(w.p, w.len, &h));
	w.p[4] = 0x10;
	put_le16(w.p + 8, 10);  /* frag_length below the header */
	assert_false(dcerpc_hdr_decode(w.p, w.len, &h));
	wbuf_free(&w);
}

static void test_request_auth_trailer(void **state)
{
	(void)state;
	/* A request with a 16-byte auth verifier and 4 bytes of auth padding:
	 * the stub must exclude both. */
	struct wbuf w;
	wbuf_init(&w, 0);
	dcerpc_hdr_encode(&w, DCERPC_PKT_REQUEST, 3, 1);
	wbuf_u32(&w, 4);
	wbuf_u16(&w, 0);
	wbuf_u16(&w, 15);
	wbuf_u32(&w, 0xAABBCCDD);  /* stub */
	wbuf_zero(&w, 4);          /* auth pad */
	wbuf_u8(&w, 10); wbuf_u8(&w, 2); wbuf_u8(&w, 4); wbuf_u8(&w, 0); wbuf_u32(&w, 0);  /* sec_trailer */
	wbuf_zero(&w, 16);
	dcerpc_set_frag_length(&w, 0);
	wbuf_set_u16(&w, 10, 16);
	struct dcerpc_hdr h;
	struct dcerpc_request r;
	assert_true(dcerpc_hdr_decode(w.p, w.len, &h));
	assert_true(dcerpc_request_decode(w.p, w.len, &h, &r));
	assert_int_equal(r.opnum, 15);
	assert_int_equal(r.stub_len, 4);
	assert_int_equal(get_le32(r.stub), 0xAABBCCDD);
	/* auth_length larger than the PDU */
	wbuf_set_u16(&w, 10, 200);
	assert_true(dcerpc_hdr_decode(w.p, w.len, &h));
	assert_false(dcerpc_request_decode(w.p, w.len, &h, &r));
	wbuf_free(&w);
}

static void test_response_fragmentation(void **state)
{
	(void)state;
	uint8_t stub[5000];
	for (size_t i = 0; i < sizeof(stub); i++) stub[i] = (uint8_t)i;
	struct wbuf w;
	wbuf_init(&w, 0);
	dcerpc_response_encode_fragmented(&w, 9, 1, stub, sizeof(stub), 1432);
	assert_false(w.err);
	size_t off = 0, got = 0;
	unsigned frags = 0;
	while (off < w.len) {
		struct dcerpc_hdr h;
		assert_true(dcerpc_hdr_decode(w.p + off, w.len - off, &h));
		assert_true(h.frag_length <= 1432);
		assert_int_equal(h.ptype, DCERPC_PKT_RESPONSE);
		assert_int_equal(!!(h.pfc_flags & DCERPC_PFC_FIRST_FRAG), frags == 0);
		size_t n = h.frag_length - DCERPC_RESPONSE_HDR_SIZE;
		assert_int_equal(get_le32(w.p + off + 16), sizeof(stub) - got);  /* alloc_hint */
		assert_memory_equal(w.p + off + DCERPC_RESPONSE_HDR_SIZE, stub + got, n);
		got += n;
		off += h.frag_length;
		frags++;
		assert_int_equal(!!(h.pfc_flags & DCERPC_PFC_LAST_FRAG), got == sizeof(stub));
	}
	assert_int_equal(got, sizeof(stub));
	assert_true(frags >= 4);
	wbuf_free(&w);
}

/* ------------------------------------------------------------ pipe */

static struct smbd_share mkshare(const char *name, const char *path, const char *comment, bool ipc, bool browse)
{
	struct smbd_share s;
	memset(&s, 0, sizeof(s));
	s.name = (char *)name;
	s.path = (char *)path;
	s.comment = (char *)comment;
	s.ipc = ipc;
	s.browseable = browse;
	s.root_fd = -1;
	return s;
}

struct fixture {
	struct smbd_share shares[80];
	struct smbd_share *list[80];
	char names[80][16];
	struct smbd_config cfg;
	struct smbd_conn conn;
	struct smbd_session sess;
};

static struct fixture *fixture_new(size_t extra)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->shares[0] = mkshare("test", "/tmp/h4share", "Test share", false, true);
	f->shares[1] = mkshare("IPC$", NULL, NULL, true, false);
	f->shares[2] = mkshare("hidden", "/srv/hidden", "not listed", false, false);
	size_t n = 3;
	for (size_t i = 0; i < extra && n < 80; i++, n++) {
		snprintf(f->names[n], sizeof(f->names[n]), "share%zu", i);
		f->shares[n] = mkshare(f->names[n], "/srv/x", "a comment that takes some room", false, true);
	}
	for (size_t i = 0; i < n; i++) f->list[i] = &f->shares[i];
	f->cfg.shares = f->list;
	f->cfg.nshares = n;
	f->cfg.netbios_name = (char *)"SMBKIT";
	f->cfg.server_string = (char *)"smbkit test";
	f->conn.cfg = &f->cfg;
	f->sess.conn = &f->conn;
	return f;
}

static void push_syntax(struct wbuf *w, const struct dcerpc_syntax_id *s)
{
	wbuf_bytes(w, s->uuid, 16);
	wbuf_u16(w, s->vers_major);
	wbuf_u16(w, s->vers_minor);
}

static void build_bind(struct wbuf *w, uint16_t max_recv)
{
	size_t pdu = w->len;
	dcerpc_hdr_encode(w, DCERPC_PKT_BIND, DCERPC_PFC_FIRST_FRAG | DCERPC_PFC_LAST_FRAG, 1);
	wbuf_u16(w, 4280);
	wbuf_u16(w, max_recv);
	wbuf_u32(w, 0);
	wbuf_u8(w, 3);
	wbuf_zero(w, 3);
	/* ctx 0: srvsvc over NDR64 only: refused */
	wbuf_u16(w, 0); wbuf_u8(w, 1); wbuf_u8(w, 0);
	push_syntax(w, &dcerpc_srvsvc_syntax);
	push_syntax(w, &dcerpc_ndr64_syntax);
	/* ctx 1: srvsvc over NDR32: accepted */
	wbuf_u16(w, 1); wbuf_u8(w, 1); wbuf_u8(w, 0);
	push_syntax(w, &dcerpc_srvsvc_syntax);
	push_syntax(w, &dcerpc_ndr32_syntax);
	/* ctx 2: bind time feature negotiation */
	struct dcerpc_syntax_id btfn = { { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, 3, 0, 0, 0, 0, 0, 0, 0 }, 1, 0 };
	wbuf_u16(w, 2); wbuf_u8(w, 1); wbuf_u8(w, 0);
	push_syntax(w, &dcerpc_srvsvc_syntax);
	push_syntax(w, &btfn);
	dcerpc_set_frag_length(w, pdu);
}

/* Reads every queued message from the pipe, returning them concatenated. */
static void drain(struct smbd_pipe *p, struct wbuf *all)
{
	for (;;) {
		uint32_t st = pipe_read(p, all, 65536);
		if (st == STATUS_PIPE_EMPTY) break;
		assert_int_equal(st, STATUS_SUCCESS);
	}
}

static struct smbd_pipe *bound_pipe(struct fixture *f, uint16_t max_recv)
{
	uint32_t st = 1;
	struct smbd_pipe *p = pipe_open("srvsvc", &f->sess, &st);
	assert_non_null(p);
	assert_int_equal(st, STATUS_SUCCESS);
	struct wbuf w;
	wbuf_init(&w, 0);
	build_bind(&w, max_recv);
	assert_int_equal(pipe_write(p, w.p, w.len), STATUS_SUCCESS);
	wbuf_free(&w);
	struct wbuf ack;
	wbuf_init(&ack, 0);
	drain(p, &ack);
	struct dcerpc_hdr h;
	assert_true(dcerpc_hdr_decode(ack.p, ack.len, &h));
	assert_int_equal(h.ptype, DCERPC_PKT_BIND_ACK);
	assert_int_equal(h.frag_length, ack.len);
	struct rbuf r = rbuf_make(ack.p, ack.len);
	rbuf_skip(&r, 16);
	assert_int_equal(rbuf_u16(&r), max_recv < 4280 ? max_recv : 4280);  /* max_xmit_frag */
	rbuf_skip(&r, 2 + 4);
	uint16_t alen = rbuf_u16(&r);
	assert_int_equal(alen, 13);
	assert_memory_equal(rbuf_ptr(&r, alen), "\\PIPE\\srvsvc", 13);
	rbuf_seek(&r, (r.off + 3) & ~(size_t)3);
	assert_int_equal(rbuf_u8(&r), 3);
	rbuf_skip(&r, 3);
	/* ctx 0 */
	assert_int_equal(rbuf_u16(&r), DCERPC_RESULT_PROVIDER_REJECTION);
	assert_int_equal(rbuf_u16(&r), DCERPC_REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED);
	rbuf_skip(&r, 20);
	/* ctx 1 */
	assert_int_equal(rbuf_u16(&r), DCERPC_RESULT_ACCEPTANCE);
	assert_int_equal(rbuf_u16(&r), 0);
	struct dcerpc_syntax_id s;
	rbuf_copy(&r, s.uuid, 16);
	s.vers_major = rbuf_u16(&r);
	s.vers_minor = rbuf_u16(&r);
	assert_true(dcerpc_syntax_eq(&s, &dcerpc_ndr32_syntax));
	/* ctx 2 */
	assert_int_equal(rbuf_u16(&r), DCERPC_RESULT_NEGOTIATE_ACK);
	rbuf_skip(&r, 22);
	assert_false(r.err);
	assert_int_equal(r.off, ack.len);
	wbuf_free(&ack);
	return p;
}

/* Writes one request, split into fragments carrying at most frag_stub
 * bytes of stub each. */
static void write_request(struct smbd_pipe *p, uint32_t call_id, uint16_t ctx, uint16_t opnum, const uint8_t *stub,
			  size_t len, size_t frag_stub)
{
	size_t off = 0;
	do {
		size_t n = len - off < frag_stub ? len - off : frag_stub;
		uint8_t flags = (off == 0 ? DCERPC_PFC_FIRST_FRAG : 0) | (off + n == len ? DCERPC_PFC_LAST_FRAG : 0);
		struct wbuf w;
		wbuf_init(&w, 0);
		dcerpc_hdr_encode(&w, DCERPC_PKT_REQUEST, flags, call_id);
		wbuf_u32(&w, (uint32_t)(len - off));
		wbuf_u16(&w, ctx);
		wbuf_u16(&w, opnum);
		wbuf_bytes(&w, stub + off, n);
		dcerpc_set_frag_length(&w, 0);
		assert_int_equal(pipe_write(p, w.p, w.len), STATUS_SUCCESS);
		wbuf_free(&w);
		off += n;
	} while (off < len);
}

/* Reads the response fragments of one call and returns the joined stub;
 * *fault receives the fault status if the call failed. */
static void read_response(struct smbd_pipe *p, uint32_t call_id, struct wbuf *stub, uint32_t *fault,
			  unsigned *nfrags, size_t read_size)
{
	*fault = 0;
	*nfrags = 0;
	for (;;) {
		struct wbuf m;
		wbuf_init(&m, 0);
		uint32_t st;
		do {
			st = pipe_read(p, &m, read_size);
		} while (st == STATUS_BUFFER_OVERFLOW);
		assert_int_equal(st, STATUS_SUCCESS);
		struct dcerpc_hdr h;
		assert_true(dcerpc_hdr_decode(m.p, m.len, &h));
		assert_int_equal(h.frag_length, m.len);
		assert_int_equal(h.call_id, call_id);
		(*nfrags)++;
		if (h.ptype == DCERPC_PKT_FAULT) {
			*fault = get_le32(m.p + 24);
			wbuf_free(&m);
			return;
		}
		assert_int_equal(h.ptype, DCERPC_PKT_RESPONSE);
		wbuf_bytes(stub, m.p + DCERPC_RESPONSE_HDR_SIZE, m.len - DCERPC_RESPONSE_HDR_SIZE);
		wbuf_free(&m);
		if (h.pfc_flags & DCERPC_PFC_LAST_FRAG) return;
	}
}

/* NetrShareEnum request: ServerName "\\SMBKIT", level, empty container,
 * PreferedMaximumLength, ResumeHandle 0. */
static void build_share_enum(struct wbuf *w, uint32_t level)
{
	struct ndr_push n;
	ndr_push_init(&n, w);
	ndr_push_ptr(&n, true);
	ndr_push_string(&n, "\\\\SMBKIT");
	ndr_push_u32(&n, level);
	ndr_push_u32(&n, level);
	ndr_push_ptr(&n, true);
	ndr_push_u32(&n, 0);
	ndr_push_ptr(&n, false);
	ndr_push_u32(&n, 0xFFFFFFFF);
	ndr_push_ptr(&n, true);
	ndr_push_u32(&n, 0);
}

static char *pull_str(struct ndr_pull *n) { return ndr_pull_string(n, 4096); }

static void test_pipe_share_enum(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	struct smbd_pipe *p = bound_pipe(f, 4280);
	struct wbuf req;
	wbuf_init(&req, 0);
	build_share_enum(&req, 1);
	/* split into 8-byte fragments to exercise reassembly */
	write_request(p, 2, 1, SRVSVC_OPNUM_NETR_SHARE_ENUM, req.p, req.len, 8);
	wbuf_free(&req);

	struct wbuf stub;
	wbuf_init(&stub, 0);
	uint32_t fault;
	unsigned nfrags;
	read_response(p, 2, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, 0);
	assert_int_equal(nfrags, 1);

	struct ndr_pull n;
	ndr_pull_init(&n, stub.p, stub.len);
	assert_int_equal(ndr_pull_u32(&n), 1);     /* level */
	assert_int_equal(ndr_pull_u32(&n), 1);     /* switch */
	assert_int_not_equal(ndr_pull_u32(&n), 0); /* container */
	assert_int_equal(ndr_pull_u32(&n), 2);     /* EntriesRead: test + IPC$ */
	assert_int_not_equal(ndr_pull_u32(&n), 0); /* Buffer */
	assert_int_equal(ndr_pull_u32(&n), 2);     /* conformance */
	uint32_t types[2];
	for (int i = 0; i < 2; i++) {
		assert_int_not_equal(ndr_pull_u32(&n), 0);
		types[i] = ndr_pull_u32(&n);
		assert_int_not_equal(ndr_pull_u32(&n), 0);
	}
	assert_int_equal(types[0], STYPE_DISKTREE);
	assert_int_equal(types[1], STYPE_IPC | STYPE_SPECIAL);
	const char *want[4] = { "test", "Test share", "IPC$", "Remote IPC" };
	for (int i = 0; i < 4; i++) {
		char *s = pull_str(&n);
		assert_non_null(s);
		assert_string_equal(s, want[i]);
		free(s);
	}
	assert_int_equal(ndr_pull_u32(&n), 2);     /* TotalEntries */
	assert_int_not_equal(ndr_pull_u32(&n), 0); /* ResumeHandle ptr */
	assert_int_equal(ndr_pull_u32(&n), 0);     /* resume value */
	assert_int_equal(ndr_pull_u32(&n), WERR_OK);
	assert_true(ndr_pull_ok(&n));
	assert_int_equal(rbuf_left(&n.r), 0);
	wbuf_free(&stub);
	pipe_close(p);
	free(f);
}

/* NetrShareEnum at levels 2 and 502 (and the sticky variant) is refused:
 * nothing but the level, an empty arm and WERR_ACCESS_DENIED comes back,
 * in particular no share path. */
static void test_pipe_share_enum_admin_levels(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	struct smbd_pipe *p = bound_pipe(f, 4280);
	const uint16_t opnums[2] = { SRVSVC_OPNUM_NETR_SHARE_ENUM, SRVSVC_OPNUM_NETR_SHARE_ENUM_STICKY };
	const uint32_t levels[2] = { 2, 502 };
	uint32_t call = 20;
	for (int oi = 0; oi < 2; oi++) {
		for (int li = 0; li < 2; li++, call++) {
			struct wbuf req, stub;
			wbuf_init(&req, 0);
			build_share_enum(&req, levels[li]);
			write_request(p, call, 1, opnums[oi], req.p, req.len, 4096);
			wbuf_free(&req);
			uint32_t fault;
			unsigned nfrags;
			wbuf_init(&stub, 0);
			read_response(p, call, &stub, &fault, &nfrags, 65536);
			assert_int_equal(fault, 0);
			struct ndr_pull n;
			ndr_pull_init(&n, stub.p, stub.len);
			assert_int_equal(ndr_pull_u32(&n), levels[li]);  /* level */
			assert_int_equal(ndr_pull_u32(&n), levels[li]);  /* switch */
			assert_int_equal(ndr_pull_u32(&n), 0);           /* no container */
			assert_int_equal(ndr_pull_u32(&n), 0);           /* TotalEntries */
			assert_int_not_equal(ndr_pull_u32(&n), 0);       /* ResumeHandle ptr */
			assert_int_equal(ndr_pull_u32(&n), 0);
			assert_int_equal(ndr_pull_u32(&n), WERR_ACCESS_DENIED);
			assert_true(ndr_pull_ok(&n));
			assert_int_equal(rbuf_left(&n.r), 0);
			wbuf_free(&stub);
		}
	}
	pipe_close(p);
	free(f);
}

static void test_pipe_fragmented_response(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(70);
	struct smbd_pipe *p = bound_pipe(f, 1432);
	struct wbuf req;
	wbuf_init(&req, 0);
	build_share_enum(&req, 1);
	write_request(p, 3, 1, SRVSVC_OPNUM_NETR_SHARE_ENUM, req.p, req.len, 4096);
	wbuf_free(&req);
	struct wbuf stub;
	wbuf_init(&stub, 0);
	uint32_t fault;
	unsigned nfrags;
	/* read in 100-byte pieces: each fragment arrives in several reads */
	read_response(p, 3, &stub, &fault, &nfrags, 100);
	assert_int_equal(fault, 0);
	assert_true(nfrags > 3);
	struct ndr_pull n;
	ndr_pull_init(&n, stub.p, stub.len);
	assert_int_equal(ndr_pull_u32(&n), 1);
	assert_int_equal(ndr_pull_u32(&n), 1);
	ndr_pull_u32(&n);
	assert_int_equal(ndr_pull_u32(&n), 72);
	/* the WERROR is last */
	assert_int_equal(get_le32(stub.p + stub.len - 4), WERR_OK);
	assert_int_equal(get_le32(stub.p + stub.len - 16), 72);  /* TotalEntries */
	wbuf_free(&stub);
	pipe_close(p);
	free(f);
}

static void build_get_info(struct wbuf *w, const char *share, uint32_t level)
{
	struct ndr_push n;
	ndr_push_init(&n, w);
	ndr_push_ptr(&n, false);
	ndr_push_string(&n, share);
	ndr_push_u32(&n, level);
}

static void test_pipe_share_get_info(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	struct smbd_pipe *p = bound_pipe(f, 4280);
	struct wbuf req, stub;
	uint32_t fault;
	unsigned nfrags;

	/* level 1 of a non-browseable share: still found */
	wbuf_init(&req, 0);
	build_get_info(&req, "HIDDEN", 1);
	write_request(p, 4, 1, SRVSVC_OPNUM_NETR_SHARE_GET_INFO, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_init(&stub, 0);
	read_response(p, 4, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, 0);
	struct ndr_pull n;
	ndr_pull_init(&n, stub.p, stub.len);
	assert_int_equal(ndr_pull_u32(&n), 1);
	assert_int_not_equal(ndr_pull_u32(&n), 0);
	assert_int_not_equal(ndr_pull_u32(&n), 0);      /* netname */
	assert_int_equal(ndr_pull_u32(&n), STYPE_DISKTREE);
	assert_int_not_equal(ndr_pull_u32(&n), 0);      /* remark */
	const char *want[2] = { "hidden", "not listed" };
	for (int i = 0; i < 2; i++) {
		char *s = pull_str(&n);
		assert_non_null(s);
		assert_string_equal(s, want[i]);
		free(s);
	}
	assert_int_equal(ndr_pull_u32(&n), WERR_OK);
	assert_int_equal(rbuf_left(&n.r), 0);
	wbuf_free(&stub);

	/* levels 2 and 502 carry the local path: administrators only, and
	 * refused before the name is looked up (existing or not) */
	const char *names[3] = { "HIDDEN", "test", "nope" };
	const uint32_t admin_levels[2] = { 2, 502 };
	for (int li = 0; li < 2; li++) {
		for (int ni = 0; ni < 3; ni++) {
			wbuf_init(&req, 0);
			build_get_info(&req, names[ni], admin_levels[li]);
			write_request(p, 40, 1, SRVSVC_OPNUM_NETR_SHARE_GET_INFO, req.p, req.len, 4096);
			wbuf_free(&req);
			wbuf_init(&stub, 0);
			read_response(p, 40, &stub, &fault, &nfrags, 65536);
			assert_int_equal(fault, 0);
			assert_int_equal(stub.len, 12);
			assert_int_equal(get_le32(stub.p), admin_levels[li]);
			assert_int_equal(get_le32(stub.p + 4), 0);   /* no info */
			assert_int_equal(get_le32(stub.p + 8), WERR_ACCESS_DENIED);
			wbuf_free(&stub);
		}
	}

	/* unknown share */
	wbuf_init(&req, 0);
	build_get_info(&req, "nope", 1);
	write_request(p, 5, 1, SRVSVC_OPNUM_NETR_SHARE_GET_INFO, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_init(&stub, 0);
	read_response(p, 5, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, 0);
	assert_int_equal(stub.len, 12);
	assert_int_equal(get_le32(stub.p), 1);
	assert_int_equal(get_le32(stub.p + 4), 0);
	assert_int_equal(get_le32(stub.p + 8), WERR_NET_NAME_NOT_FOUND);
	wbuf_free(&stub);

	/* level 1005 */
	wbuf_init(&req, 0);
	build_get_info(&req, "test", 1005);
	write_request(p, 6, 1, SRVSVC_OPNUM_NETR_SHARE_GET_INFO, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_init(&stub, 0);
	read_response(p, 6, &stub, &fault, &nfrags, 65536);
	assert_int_equal(stub.len, 16);
	assert_int_equal(get_le32(stub.p), 1005);
	assert_int_equal(get_le32(stub.p + 12), WERR_OK);
	wbuf_free(&stub);

	/* unsupported level */
	wbuf_init(&req, 0);
	build_get_info(&req, "test", 7);
	write_request(p, 7, 1, SRVSVC_OPNUM_NETR_SHARE_GET_INFO, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_init(&stub, 0);
	read_response(p, 7, &stub, &fault, &nfrags, 65536);
	assert_int_equal(stub.len, 8);
	assert_int_equal(get_le32(stub.p + 4), WERR_INVALID_LEVEL);
	wbuf_free(&stub);
	pipe_close(p);
	free(f);
}

static void test_pipe_server_get_info(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	struct smbd_pipe *p = bound_pipe(f, 4280);
	struct wbuf req, stub;
	wbuf_init(&req, 0);
	struct ndr_push np;
	ndr_push_init(&np, &req);
	ndr_push_ptr(&np, true);
	ndr_push_string(&np, "\\\\SMBKIT");
	ndr_push_u32(&np, 101);
	write_request(p, 8, 1, SRVSVC_OPNUM_NETR_SERVER_GET_INFO, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_init(&stub, 0);
	uint32_t fault;
	unsigned nfrags;
	read_response(p, 8, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, 0);
	struct ndr_pull n;
	ndr_pull_init(&n, stub.p, stub.len);
	assert_int_equal(ndr_pull_u32(&n), 101);
	assert_int_not_equal(ndr_pull_u32(&n), 0);
	assert_int_equal(ndr_pull_u32(&n), 500);
	ndr_pull_u32(&n);
	ndr_pull_u32(&n);
	ndr_pull_u32(&n);
	ndr_pull_u32(&n);
	ndr_pull_u32(&n);
	char *s = pull_str(&n);
	assert_string_equal(s, "SMBKIT");
	free(s);
	s = pull_str(&n);
	assert_string_equal(s, "smbkit test");
	free(s);
	assert_int_equal(ndr_pull_u32(&n), WERR_OK);
	wbuf_free(&stub);
	pipe_close(p);
	free(f);
}

static void test_pipe_faults(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	uint32_t st;
	assert_null(pipe_open("lsarpc", &f->sess, &st));
	assert_int_equal(st, STATUS_OBJECT_NAME_NOT_FOUND);
	struct smbd_pipe *q = pipe_open("\\PIPE\\SRVSVC", &f->sess, &st);
	assert_non_null(q);
	/* a request before any bind is a protocol error */
	uint8_t dummy[4] = { 0 };
	write_request(q, 1, 0, 15, dummy, sizeof(dummy), 4096);
	struct wbuf stub;
	wbuf_init(&stub, 0);
	uint32_t fault;
	unsigned nfrags;
	read_response(q, 1, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, DCERPC_NCA_S_PROTO_ERROR);
	pipe_close(q);

	struct smbd_pipe *p = bound_pipe(f, 4280);
	/* unknown opnum */
	write_request(p, 10, 1, 99, dummy, sizeof(dummy), 4096);
	read_response(p, 10, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, DCERPC_NCA_S_OP_RNG_ERROR);
	/* the refused NDR64 context */
	write_request(p, 11, 0, 15, dummy, sizeof(dummy), 4096);
	read_response(p, 11, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, DCERPC_NCA_S_UNKNOWN_IF);
	/* truncated stub */
	write_request(p, 12, 1, 16, dummy, 2, 4096);
	read_response(p, 12, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, DCERPC_NCA_S_FAULT_NDR);
	/* nothing left to read */
	assert_int_equal(pipe_read(p, &stub, 100), STATUS_PIPE_EMPTY);
	/* garbage is refused and does not poison the pipe */
	uint8_t junk[20];
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(pipe_write(p, junk, sizeof(junk)), STATUS_INVALID_PARAMETER);
	struct wbuf req;
	wbuf_init(&req, 0);
	build_share_enum(&req, 0);
	write_request(p, 13, 1, 15, req.p, req.len, 4096);
	wbuf_free(&req);
	wbuf_free(&stub);
	wbuf_init(&stub, 0);
	read_response(p, 13, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, 0);
	assert_int_equal(get_le32(stub.p + stub.len - 4), WERR_OK);
	wbuf_free(&stub);
	pipe_close(p);
	free(f);
}

/* A PDU delivered one byte at a time is still processed once complete. */
static void test_pipe_byte_by_byte(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0);
	struct smbd_pipe *p = bound_pipe(f, 4280);
	struct wbuf w;
	wbuf_init(&w, 0);
	dcerpc_hdr_encode(&w, DCERPC_PKT_REQUEST, 3, 20);
	wbuf_u32(&w, 0);
	wbuf_u16(&w, 1);
	wbuf_u16(&w, 99);
	dcerpc_set_frag_length(&w, 0);
	for (size_t i = 0; i < w.len; i++) {
		assert_int_equal(pipe_read(p, &w, 0), STATUS_PIPE_EMPTY);
		assert_int_equal(pipe_write(p, w.p + i, 1), STATUS_SUCCESS);
	}
	struct wbuf stub;
	wbuf_init(&stub, 0);
	uint32_t fault;
	unsigned nfrags;
	read_response(p, 20, &stub, &fault, &nfrags, 65536);
	assert_int_equal(fault, DCERPC_NCA_S_OP_RNG_ERROR);
	wbuf_free(&stub);
	wbuf_free(&w);
	pipe_close(p);
	free(f);
}

/* ------------------------------------------------------------ IOCTL wire */

static void test_ioctl_decode(void **state)
{
	(void)state;
	uint8_t msg[64 + 56 + 8];
	memset(msg, 0, sizeof(msg));
	uint8_t *b = msg + 64;
	put_le16(b, 57);
	put_le32(b + 4, FSCTL_PIPE_TRANSCEIVE);
	put_le64(b + 8, 1);
	put_le64(b + 16, 2);
	put_le32(b + 24, 120);   /* InputOffset */
	put_le32(b + 28, 8);     /* InputCount */
	put_le32(b + 44, 1024);  /* MaxOutputResponse */
	put_le32(b + 48, SMB2_0_IOCTL_IS_FSCTL);
	memcpy(msg + 120, "ABCDEFGH", 8);
	struct smb2_ioctl_req r;
	assert_int_equal(smb2_ioctl_req_decode(msg, sizeof(msg), &r), STATUS_SUCCESS);
	assert_int_equal(r.ctl_code, FSCTL_PIPE_TRANSCEIVE);
	assert_int_equal(r.persistent_id, 1);
	assert_int_equal(r.volatile_id, 2);
	assert_int_equal(r.input_count, 8);
	assert_memory_equal(r.input, "ABCDEFGH", 8);
	assert_int_equal(r.max_output_response, 1024);
	/* input past the end */
	put_le32(b + 28, 9);
	assert_int_equal(smb2_ioctl_req_decode(msg, sizeof(msg), &r), STATUS_INVALID_PARAMETER);
	put_le32(b + 28, 0xFFFFFFFF);
	assert_int_equal(smb2_ioctl_req_decode(msg, sizeof(msg), &r), STATUS_INVALID_PARAMETER);
	/* input overlapping the fixed part */
	put_le32(b + 28, 8);
	put_le32(b + 24, 64);
	assert_int_equal(smb2_ioctl_req_decode(msg, sizeof(msg), &r), STATUS_INVALID_PARAMETER);
	put_le32(b + 24, 120);
	/* structure size */
	put_le16(b, 56);
	assert_int_equal(smb2_ioctl_req_decode(msg, sizeof(msg), &r), STATUS_INVALID_PARAMETER);
	put_le16(b, 57);
	/* truncated */
	assert_int_equal(smb2_ioctl_req_decode(msg, 64 + 40, &r), STATUS_INVALID_PARAMETER);
}

static void test_ioctl_rsp_encode(void **state)
{
	(void)state;
	struct wbuf w;
	wbuf_init(&w, 0);
	wbuf_zero(&w, 64);
	struct smb2_ioctl_rsp r = { .ctl_code = FSCTL_VALIDATE_NEGOTIATE_INFO, .persistent_id = UINT64_MAX,
				    .volatile_id = UINT64_MAX, .output = (const uint8_t *)"xyz", .output_count = 3 };
	smb2_ioctl_rsp_encode(&w, 0, &r);
	assert_false(w.err);
	assert_int_equal(get_le16(w.p + 64), 49);
	assert_int_equal(get_le32(w.p + 64 + 4), FSCTL_VALIDATE_NEGOTIATE_INFO);
	assert_int_equal(get_le32(w.p + 64 + 24), 112);  /* InputOffset */
	assert_int_equal(get_le32(w.p + 64 + 28), 0);
	assert_int_equal(get_le32(w.p + 64 + 32), 112);  /* OutputOffset */
	assert_int_equal(get_le32(w.p + 64 + 36), 3);
	assert_int_equal(w.len, 115);
	assert_memory_equal(w.p + 112, "xyz", 3);
	wbuf_free(&w);
}

static void test_validate_negotiate_wire(void **state)
{
	(void)state;
	uint8_t in[24 + 8];
	memset(in, 0, sizeof(in));
	put_le32(in, 0x7f);
	memset(in + 4, 0xAB, 16);
	put_le16(in + 20, 1);
	put_le16(in + 22, 4);
	put_le16(in + 24, 0x202);
	put_le16(in + 26, 0x210);
	put_le16(in + 28, 0x300);
	put_le16(in + 30, 0x302);
	struct validate_negotiate_req v;
	assert_true(validate_negotiate_req_decode(in, sizeof(in), &v));
	assert_int_equal(v.capabilities, 0x7f);
	assert_int_equal(v.dialect_count, 4);
	assert_int_equal(v.dialects[3], 0x302);
	assert_false(validate_negotiate_req_decode(in, sizeof(in) - 1, &v));
	put_le16(in + 22, 0);
	assert_false(validate_negotiate_req_decode(in, sizeof(in), &v));

	struct wbuf w;
	wbuf_init(&w, 0);
	uint8_t guid[16];
	memset(guid, 0x11, 16);
	validate_negotiate_rsp_encode(&w, 0x2f, guid, 1, 0x302);
	assert_int_equal(w.len, VALIDATE_NEGOTIATE_RSP_SIZE);
	assert_int_equal(get_le32(w.p), 0x2f);
	assert_int_equal(get_le16(w.p + 20), 1);
	assert_int_equal(get_le16(w.p + 22), 0x302);
	wbuf_free(&w);
}

static void test_network_interface_wire(void **state)
{
	(void)state;
	struct network_interface ifs[2];
	memset(ifs, 0, sizeof(ifs));
	ifs[0].if_index = 2;
	ifs[0].link_speed = 1000000000ULL;
	ifs[0].family = AF_INET;
	ifs[0].addr[0] = 192; ifs[0].addr[1] = 0; ifs[0].addr[2] = 2; ifs[0].addr[3] = 1;
	ifs[1].if_index = 2;
	ifs[1].family = AF_INET6;
	ifs[1].addr[0] = 0xfe; ifs[1].addr[1] = 0x80; ifs[1].addr[15] = 1;
	ifs[1].scope_id = 2;
	struct wbuf w;
	wbuf_init(&w, 0);
	network_interface_info_encode(&w, ifs, 2);
	assert_int_equal(w.len, 2 * NETWORK_INTERFACE_INFO_SIZE);
	assert_int_equal(get_le32(w.p), NETWORK_INTERFACE_INFO_SIZE);   /* Next */
	assert_int_equal(get_le32(w.p + 4), 2);
	assert_int_equal(get_le64(w.p + 16), 1000000000ULL);
	assert_int_equal(get_le16(w.p + 24), 0x0002);                 /* InterNetwork */
	assert_int_equal(w.p[28], 192);
	assert_int_equal(w.p[31], 1);
	const uint8_t *e = w.p + NETWORK_INTERFACE_INFO_SIZE;
	assert_int_equal(get_le32(e), 0);
	assert_int_equal(get_le16(e + 24), 0x0017);                   /* InterNetworkV6 */
	assert_int_equal(e[24 + 8], 0xfe);
	assert_int_equal(get_le32(e + 24 + 24), 2);                   /* ScopeId */
	wbuf_free(&w);
}

/* SRV_COPYCHUNK_COPY (MS-SMB2 2.2.31.1): key, count, chunk array; a cut
 * array or a huge ChunkCount must not be read past the input. */
static void test_copychunk_wire(void **state)
{
	(void)state;
	uint8_t b[SRV_COPYCHUNK_COPY_FIXED + 2 * SRV_COPYCHUNK_SIZE];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 24; i++) b[i] = (uint8_t)(i + 1);
	put_le32(b + 24, 2);
	put_le64(b + 32, 100);        /* chunk 0 SourceOffset */
	put_le64(b + 40, 200);        /* TargetOffset */
	put_le32(b + 48, 300);        /* Length */
	put_le64(b + 56, 7);
	put_le64(b + 64, UINT64_MAX);
	put_le32(b + 72, 9);
	struct srv_copychunk_copy cc;
	assert_int_equal(srv_copychunk_copy_decode(b, sizeof(b), &cc), SRV_COPYCHUNK_OK);
	assert_memory_equal(cc.source_key, b, 24);
	assert_int_equal(cc.chunk_count, 2);
	struct srv_copychunk ch;
	srv_copychunk_get(&cc, 0, &ch);
	assert_int_equal(ch.source_offset, 100);
	assert_int_equal(ch.target_offset, 200);
	assert_int_equal(ch.length, 300);
	srv_copychunk_get(&cc, 1, &ch);
	assert_int_equal(ch.source_offset, 7);
	assert_true(ch.target_offset == UINT64_MAX);
	assert_int_equal(ch.length, 9);

	/* one byte short of the second chunk */
	assert_int_equal(srv_copychunk_copy_decode(b, sizeof(b) - 1, &cc), SRV_COPYCHUNK_TRUNCATED);
	assert_memory_equal(cc.source_key, b, 24);
	/* a count whose array size overflows 32 bits */
	put_le32(b + 24, 0xFFFFFFFFu);
	assert_int_equal(srv_copychunk_copy_decode(b, sizeof(b), &cc), SRV_COPYCHUNK_TRUNCATED);
	/* key present, fixed part cut */
	assert_int_equal(srv_copychunk_copy_decode(b, 30, &cc), SRV_COPYCHUNK_TRUNCATED);
	assert_int_equal(cc.chunk_count, 0);
	/* no key at all */
	assert_int_equal(srv_copychunk_copy_decode(b, 23, &cc), SRV_COPYCHUNK_NO_KEY);
	assert_int_equal(srv_copychunk_copy_decode(NULL, 0, &cc), SRV_COPYCHUNK_NO_KEY);
	/* zero chunks is well-formed */
	put_le32(b + 24, 0);
	assert_int_equal(srv_copychunk_copy_decode(b, SRV_COPYCHUNK_COPY_FIXED, &cc), SRV_COPYCHUNK_OK);
	assert_null(cc.chunks);

	struct wbuf w;
	wbuf_init(&w, 0);
	srv_copychunk_rsp_encode(&w, 256, 1048576, 16777216);
	assert_int_equal(w.len, SRV_COPYCHUNK_RSP_SIZE);
	assert_int_equal(get_le32(w.p), 256);
	assert_int_equal(get_le32(w.p + 4), 1048576);
	assert_int_equal(get_le32(w.p + 8), 16777216);
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndr_push_string),
		cmocka_unit_test(test_ndr_pull_string),
		cmocka_unit_test(test_hdr_decode),
		cmocka_unit_test(test_request_auth_trailer),
		cmocka_unit_test(test_response_fragmentation),
		cmocka_unit_test(test_pipe_share_enum),
		cmocka_unit_test(test_pipe_share_enum_admin_levels),
		cmocka_unit_test(test_pipe_fragmented_response),
		cmocka_unit_test(test_pipe_share_get_info),
		cmocka_unit_test(test_pipe_server_get_info),
		cmocka_unit_test(test_pipe_faults),
		cmocka_unit_test(test_pipe_byte_by_byte),
		cmocka_unit_test(test_ioctl_decode),
		cmocka_unit_test(test_ioctl_rsp_encode),
		cmocka_unit_test(test_validate_negotiate_wire),
		cmocka_unit_test(test_network_interface_wire),
		cmocka_unit_test(test_copychunk_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
