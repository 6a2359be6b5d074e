/* libFuzzer target: the SMB2 header decoder and every request decoder of
 * src/wire.  The first input byte picks the decoder; the rest is the message
 * (starting at its SMB2 header, as the decoders expect).  Besides the command
 * decoders: the RqLs lease context, the TRANSFORM_HEADER, the durable-handle
 * contexts (durable_parse and lease_request_parse of the server library,
 * which only read the dialect of the connection and the request flags, so a
 * static fake connection is enough), the krb5 token sniffing and principal
 * mapping of auth/krb5_server.h, and the direct-TCP frame prefix.
 *
 * Besides the sanitizers, the harness checks the decoder contract of
 * wire/smb2.h: on success, every pointer a decoder returns lies inside the
 * message together with its length.  It then reads those bytes, so ASan
 * sees any pointer that escaped the buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/krb5_server.h"
#include "crypto/crypto.h"
#include "fuzz_common.h"
#include "server/durable.h"
#include "server/lease.h"
#include "server/server.h"
#include "transport/tcp.h"
#include "wire/close.h"
#include "wire/create.h"
#include "wire/flush.h"
#include "wire/ioctl.h"
#include "wire/lease.h"
#include "wire/lock.h"
#include "wire/negotiate.h"
#include "wire/notify.h"
#include "wire/query_directory.h"
#include "wire/query_info.h"
#include "wire/read.h"
#include "wire/session_setup.h"
#include "wire/set_info.h"
#include "wire/smb2.h"
#include "wire/transform.h"
#include "wire/tree_connect.h"
#include "wire/write.h"

static volatile uint8_t sink;

/* Aborts (a reported crash) if [p, p+len) is not inside [base, base+size),
 * then reads every byte so ASan checks them too. */
static void inside(const uint8_t *base, size_t size, const void *ptr, size_t len, const char *what)
{
	if (!ptr) {
		if (len) {
			fprintf(stderr, "fuzz: %s: NULL pointer with length %zu\n", what, len);
			abort();
		}
		return;
	}
	const uint8_t *p = ptr;
	if (p < base || p > base + size || len > (size_t)(base + size - p)) {
		fprintf(stderr, "fuzz: %s: [%p,+%zu) outside the message [%p,+%zu)\n", what, ptr, len,
			(const void *)base, size);
		abort();
	}
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++) acc ^= p[i];
	sink = acc;
}

enum decoder {
	DEC_HDR, DEC_NEGOTIATE, DEC_SESSION_SETUP, DEC_TREE_CONNECT, DEC_CREATE, DEC_CREATE_CONTEXTS,
	DEC_CLOSE, DEC_READ, DEC_WRITE, DEC_FLUSH, DEC_QUERY_DIRECTORY, DEC_QUERY_INFO, DEC_SET_INFO,
	DEC_IOCTL, DEC_COPYCHUNK, DEC_VALIDATE_NEGOTIATE, DEC_NOTIFY,
	/* Added later: new values go at the end, so the selector bytes of the
	 * seeds already in the corpus keep their meaning. */
	DEC_LOCK, DEC_OPLOCK_BREAK, DEC_LEASE_CTX, DEC_TRANSFORM, DEC_DURABLE, DEC_KRB5, DEC_TCP_FRAME,
	DEC_COUNT
};

/* durable_parse and lease_request_parse read conn->dialect and
 * req->hdr.flags and nothing else. */
static struct smbd_conn fake_conn;

static const uint16_t dialects[] = { SMB2_DIALECT_202, SMB2_DIALECT_210, SMB2_DIALECT_300,
	SMB2_DIALECT_302, SMB2_DIALECT_311, SMB2_DIALECT_WILDCARD, 0x0000, 0x0301 };

/* The server's view of the durable and lease contexts of a CREATE
 * (smb2_create.c): checks what durable_parse and lease_request_parse
 * produce against MS-SMB2 3.3.5.9.6/7/8/10/12. */
static void check_durable_and_lease(const struct smb2_create_req *cr, uint16_t dialect, bool replay)
{
	fake_conn.dialect = dialect;
	struct smb2_request req;
	memset(&req, 0, sizeof(req));
	req.conn = &fake_conn;
	req.hdr.flags = replay ? SMB2_FLAGS_REPLAY_OPERATION : 0;
	struct durable_request dr;
	if (durable_parse(&req, cr, &dr) == STATUS_SUCCESS) {
		if (dr.request > 2 || dr.reconnect > 2 || (dr.request && dr.reconnect)) {
			fprintf(stderr, "fuzz: durable_parse: request %u reconnect %u\n", dr.request, dr.reconnect);
			abort();
		}
		/* v2 contexts are ignored below SMB 3.0 (2.2.13.2.11). */
		if (dialect < SMB2_DIALECT_300 && (dr.request == 2 || dr.reconnect == 2)) {
			fprintf(stderr, "fuzz: durable v2 accepted on dialect 0x%x\n", dialect);
			abort();
		}
		if (dr.replay && dr.request != 2) abort();
	}
	struct lease_request lr;
	const struct smb2_create_context *rqls = smb2_create_find_context(cr, SMB2_CREATE_REQUEST_LEASE);
	lease_request_parse(&fake_conn, cr->requested_oplock_level, rqls, &lr);
	if (lr.oplock_level != cr->requested_oplock_level) abort();
	if (lr.has_lease) {
		if (cr->requested_oplock_level != SMB2_OPLOCK_LEVEL_LEASE || !rqls ||
		    dialect < SMB2_DIALECT_210 || dialect == SMB2_DIALECT_WILDCARD ||
		    (lr.lease.version != 1 && lr.lease.version != 2) ||
		    (lr.lease.version == 2 && dialect < SMB2_DIALECT_300)) {
			fprintf(stderr, "fuzz: lease granted: level 0x%x dialect 0x%x version %u\n",
				cr->requested_oplock_level, dialect, lr.lease.version);
			abort();
		}
	}
}

static void run_create(const uint8_t *m, size_t n)
{
	struct smb2_create_req r;
	if (smb2_create_req_decode(m, n, &r) != STATUS_SUCCESS) return;
	inside(m, n, r.name, r.name_len, "create name");
	if (r.nctx > SMB2_CREATE_MAX_CONTEXTS) {
		fprintf(stderr, "fuzz: create: %u contexts > max %d\n", r.nctx, SMB2_CREATE_MAX_CONTEXTS);
		abort();
	}
	for (unsigned i = 0; i < r.nctx; i++) {
		inside(m, n, r.ctx[i].name, r.ctx[i].name_len, "create context name");
		inside(m, n, r.ctx[i].data, r.ctx[i].data_len, "create context data");
	}
	static const char *const tags[] = { SMB2_CREATE_EA_BUFFER, SMB2_CREATE_SD_BUFFER,
		SMB2_CREATE_DURABLE_HANDLE_REQUEST, SMB2_CREATE_ALLOCATION_SIZE, SMB2_CREATE_QUERY_MAXIMAL_ACCESS,
		SMB2_CREATE_TIMEWARP_TOKEN, SMB2_CREATE_QUERY_ON_DISK_ID, SMB2_CREATE_REQUEST_LEASE,
		SMB2_CREATE_DURABLE_HANDLE_RECONNECT, SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2,
		SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 };
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const struct smb2_create_context *c = smb2_create_find_context(&r, tags[i]);
		if (c) inside(m, n, c->data, c->data_len, "found context");
	}
	check_durable_and_lease(&r, SMB2_DIALECT_311, (n > 16 && (m[16 + 3] & 0x20)));
	/* The encoder must accept whatever the decoder produced. */
	struct wbuf w;
	wbuf_init(&w, 0);
	smb2_create_contexts_encode(&w, r.ctx, r.nctx);
	wbuf_free(&w);
}

static void run_create_contexts(const uint8_t *m, size_t n)
{
	struct smb2_create_context ctx[SMB2_CREATE_MAX_CONTEXTS];
	unsigned count = 0;
	if (smb2_create_contexts_parse(m, n, ctx, SMB2_CREATE_MAX_CONTEXTS, &count) != STATUS_SUCCESS) return;
	if (count > SMB2_CREATE_MAX_CONTEXTS) abort();
	for (unsigned i = 0; i < count; i++) {
		inside(m, n, ctx[i].name, ctx[i].name_len, "context name");
		inside(m, n, ctx[i].data, ctx[i].data_len, "context data");
	}
	/* Round trip: what we encode, we parse back to the same contexts. */
	struct wbuf w;
	wbuf_init(&w, 0);
	smb2_create_contexts_encode(&w, ctx, count);
	if (!w.err && count) {
		struct smb2_create_context again[SMB2_CREATE_MAX_CONTEXTS];
		unsigned count2 = 0;
		uint32_t st = smb2_create_contexts_parse(w.p, w.len, again, SMB2_CREATE_MAX_CONTEXTS, &count2);
		if (st != STATUS_SUCCESS || count2 != count) {
			fprintf(stderr, "fuzz: create contexts do not round-trip (%u -> %u, status 0x%x)\n",
				count, count2, st);
			abort();
		}
	}
	wbuf_free(&w);
}

static void run_ioctl(const uint8_t *m, size_t n)
{
	struct smb2_ioctl_req r;
	if (smb2_ioctl_req_decode(m, n, &r) != STATUS_SUCCESS) return;
	inside(m, n, r.input, r.input_count, "ioctl input");
	/* The server decodes these payloads from the IOCTL input buffer. */
	struct validate_negotiate_req v;
	if (validate_negotiate_req_decode(r.input, r.input_count, &v) &&
	    (v.dialect_count == 0 || v.dialect_count > VALIDATE_NEGOTIATE_MAX_DIALECTS))
		abort();
	struct srv_copychunk_copy cc;
	if (srv_copychunk_copy_decode(r.input, r.input_count, &cc) == SRV_COPYCHUNK_OK) {
		inside(m, n, cc.chunks, (size_t)cc.chunk_count * SRV_COPYCHUNK_SIZE, "copychunk array");
		for (uint32_t i = 0; i < cc.chunk_count; i++) {
			struct srv_copychunk ch;
			srv_copychunk_get(&cc, i, &ch);
		}
	}
}

static void run_copychunk(const uint8_t *m, size_t n)
{
	struct srv_copychunk_copy cc;
	enum srv_copychunk_decode_result res = srv_copychunk_copy_decode(m, n, &cc);
	if (res != SRV_COPYCHUNK_OK) return;
	inside(m, n, cc.chunks, (size_t)cc.chunk_count * SRV_COPYCHUNK_SIZE, "copychunk array");
	for (uint32_t i = 0; i < cc.chunk_count; i++) {
		struct srv_copychunk ch;
		srv_copychunk_get(&cc, i, &ch);
	}
}

static void run_lock(const uint8_t *m, size_t n)
{
	struct smb2_lock_req r;
	if (smb2_lock_req_decode(m, n, &r) != STATUS_SUCCESS) return;
	if (r.lock_count == 0 || r.lock_sequence_number > 0xF || r.lock_sequence_index > 0x0FFFFFFFu) abort();
	inside(m, n, r.locks, (size_t)r.lock_count * SMB2_LOCK_ELEMENT_SIZE, "lock elements");
	uint32_t flags_acc = 0;
	for (unsigned i = 0; i < r.lock_count; i++) {
		struct smb2_lock_element e;
		smb2_lock_req_element(&r, i, &e);
		flags_acc ^= e.flags ^ (uint32_t)e.offset ^ (uint32_t)e.length;
	}
	sink = (uint8_t)flags_acc;
}

/* OPLOCK_BREAK acknowledgement (2.2.24.1 / 2.2.24.2); the response has the
 * same layout, so encoding one from the decoded ack and decoding it back
 * must give the same fields. */
static void run_oplock_break(const uint8_t *m, size_t n)
{
	struct smb2_oplock_break_req r;
	if (smb2_oplock_break_req_decode(m, n, &r) != STATUS_SUCCESS) return;
	struct wbuf w;
	wbuf_init(&w, 0);
	wbuf_zero(&w, SMB2_HDR_SIZE);
	if (r.is_lease)
		smb2_lease_break_rsp_encode(&w, r.lease_key, r.lease_state);
	else
		smb2_oplock_break_rsp_encode(&w, r.oplock_level, r.persistent_id, r.volatile_id);
	if (!w.err) {
		struct smb2_oplock_break_req back;
		if (smb2_oplock_break_req_decode(w.p, w.len, &back) != STATUS_SUCCESS || back.is_lease != r.is_lease ||
		    (r.is_lease ? (memcmp(back.lease_key, r.lease_key, 16) != 0 || back.lease_state != r.lease_state)
				: (back.oplock_level != r.oplock_level || back.persistent_id != r.persistent_id ||
				   back.volatile_id != r.volatile_id))) {
			fprintf(stderr, "fuzz: oplock break response does not decode back (lease %d)\n", r.is_lease);
			abort();
		}
	}
	wbuf_free(&w);
}

/* RqLs data (2.2.13.2.8 v1, 2.2.13.2.10 v2): decode, encode, decode again. */
static void run_lease_ctx(const uint8_t *m, size_t n)
{
	struct smb2_lease_ctx l;
	if (smb2_lease_ctx_decode(m, n, &l) != STATUS_SUCCESS) return;
	if (!((l.version == 1 && n == SMB2_LEASE_V1_SIZE) || (l.version == 2 && n == SMB2_LEASE_V2_SIZE))) abort();
	uint8_t out[SMB2_LEASE_V2_SIZE];
	size_t len = smb2_lease_ctx_encode(out, &l);
	struct smb2_lease_ctx back;
	if (len != n || smb2_lease_ctx_decode(out, len, &back) != STATUS_SUCCESS || back.version != l.version ||
	    memcmp(back.key, l.key, 16) != 0 || back.state != l.state || back.flags != l.flags ||
	    back.epoch != l.epoch || memcmp(back.parent_key, l.parent_key, 16) != 0) {
		fprintf(stderr, "fuzz: lease context does not round-trip (v%u, %zu bytes)\n", l.version, n);
		abort();
	}
	/* The server's use of it: leases from 2.1, v2 from 3.0. */
	struct smb2_create_context ctx = { (const uint8_t *)SMB2_CREATE_REQUEST_LEASE, 4, m, (uint32_t)n };
	for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
		fake_conn.dialect = dialects[i];
		struct lease_request lr;
		lease_request_parse(&fake_conn, SMB2_OPLOCK_LEVEL_LEASE, &ctx, &lr);
		if (lr.has_lease && lr.lease.version == 2 && dialects[i] < SMB2_DIALECT_300) abort();
	}
}

/* TRANSFORM_HEADER (2.2.41): a decoded header re-encodes to the same bytes
 * but for Reserved, which the encoder zeroes. */
static void run_transform(const uint8_t *m, size_t n)
{
	struct smb2_transform_hdr h;
	if (smb2_transform_decode(m, n, &h) != STATUS_SUCCESS) return;
	if (n <= SMB2_TRANSFORM_HDR_SIZE || h.original_size != n - SMB2_TRANSFORM_HDR_SIZE ||
	    h.original_size < SMB2_HDR_SIZE || h.flags != SMB2_TRANSFORM_FLAG_ENCRYPTED || h.session_id == 0) {
		fprintf(stderr, "fuzz: transform header accepted with size %u of %zu, flags 0x%x\n",
			h.original_size, n, h.flags);
		abort();
	}
	uint8_t out[SMB2_TRANSFORM_HDR_SIZE];
	smb2_transform_encode(out, &h);
	if (memcmp(out, m, 40) != 0 || memcmp(out + 42, m + 42, SMB2_TRANSFORM_HDR_SIZE - 42) != 0) {
		fprintf(stderr, "fuzz: transform header does not round-trip\n");
		abort();
	}
	inside(m, n, m + SMB2_TRANSFORM_AAD_OFF, SMB2_TRANSFORM_AAD_LEN, "transform AAD");

	/* What the dispatcher does next: decrypt (the tag will not match a
	 * fuzzed signature; this exercises the lengths), then a round trip:
	 * encrypting the payload under the same header fields must decrypt
	 * back to it.  The cipher comes from a byte the decoder ignores. */
	static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	uint16_t cipher = (uint16_t)(SMB2_ENCRYPTION_AES128_CCM + (h.signature[0] & 3));
	size_t plain_len = h.original_size;
	uint8_t *plain = malloc(plain_len);
	uint8_t *enc = malloc(SMB2_TRANSFORM_HDR_SIZE + plain_len);
	if (plain && enc) {
		(void)smb3_decrypt_message(cipher, key, m, n, plain);
		uint8_t nonce[16];
		memcpy(nonce, h.nonce, 16);
		size_t nl = smb3_cipher_nonce_len(cipher);
		memset(nonce + nl, 0, 16 - nl);
		if (smb3_encrypt_message(cipher, key, h.session_id, nonce, m + SMB2_TRANSFORM_HDR_SIZE, plain_len, enc) == 0) {
			struct smb2_transform_hdr h2;
			if (smb2_transform_decode(enc, SMB2_TRANSFORM_HDR_SIZE + plain_len, &h2) != STATUS_SUCCESS ||
			    smb3_decrypt_message(cipher, key, enc, SMB2_TRANSFORM_HDR_SIZE + plain_len, plain) != 0 ||
			    memcmp(plain, m + SMB2_TRANSFORM_HDR_SIZE, plain_len) != 0) {
				fprintf(stderr, "fuzz: %s message of %zu bytes does not round-trip\n",
					smb3_cipher_name(cipher), plain_len);
				abort();
			}
		}
	}
	free(plain);
	free(enc);
}

/* Durable/lease contexts as the server sees them.  Input: byte 0 = dialect
 * index (bits 0-2) and REPLAY_OPERATION (bit 3), byte 1 =
 * RequestedOplockLevel, then a create context chain (2.2.13.2). */
static void run_durable(const uint8_t *m, size_t n)
{
	if (n < 2) return;
	struct smb2_create_req cr;
	memset(&cr, 0, sizeof(cr));
	cr.requested_oplock_level = m[1];
	if (smb2_create_contexts_parse(m + 2, n - 2, cr.ctx, SMB2_CREATE_MAX_CONTEXTS, &cr.nctx) != STATUS_SUCCESS)
		return;
	if (cr.nctx > SMB2_CREATE_MAX_CONTEXTS) abort();
	for (unsigned i = 0; i < cr.nctx; i++) {
		inside(m, n, cr.ctx[i].name, cr.ctx[i].name_len, "durable context name");
		inside(m, n, cr.ctx[i].data, cr.ctx[i].data_len, "durable context data");
	}
	check_durable_and_lease(&cr, dialects[m[0] & 7], (m[0] & 8) != 0);
}

/* auth/krb5_server.h pure helpers: the mechanism sniffing of an optimistic
 * token (the whole input), and the principal mapping of the input cut at
 * its first NUL. */
static void run_krb5(const uint8_t *m, size_t n)
{
	if (krb5_token_is_ap_req(m, n) && (n < 2 || m[0] != 0x60)) {
		fprintf(stderr, "fuzz: krb5 token accepted without [APPLICATION 0]\n");
		abort();
	}
	char *s = malloc(n + 1);
	if (!s) return;
	memcpy(s, m, n);
	s[n] = 0;
	char user[64];
	if (krb5_principal_to_user(s, "EXAMPLE.COM", user, sizeof(user)) == 0) {
		size_t ul = strnlen(user, sizeof(user));
		if (ul == 0 || ul >= sizeof(user) || strchr(user, '/') || strchr(user, '@') || strncmp(s, user, ul) != 0 ||
		    strcmp(s + ul, "@EXAMPLE.COM") != 0) {
			fprintf(stderr, "fuzz: krb5_principal_to_user mapped \"%s\" to \"%s\"\n", s, user);
			abort();
		}
	}
	char tiny[4];
	(void)krb5_principal_to_user(s, "EXAMPLE.COM", tiny, sizeof(tiny));
	if (krb5_principal_is_service(s, "cifs", "EXAMPLE.COM") && strncmp(s, "cifs/", 5) != 0) abort();
	free(s);
}

/* Direct TCP framing (MS-SMB2 2.1), walked as conn.c does. */
static void run_tcp_frame(const uint8_t *m, size_t n)
{
	size_t off = 0;
	for (;;) {
		size_t msg_len = 0;
		int fr = tcp_frame_parse(m + off, n - off, &msg_len);
		if (fr <= 0) break;
		if (fr != 1 || msg_len > TCP_MAX_MESSAGE || msg_len > n - off - 4) {
			fprintf(stderr, "fuzz: tcp frame of %zu bytes at %zu of %zu\n", msg_len, off, n);
			abort();
		}
		inside(m, n, m + off + 4, msg_len, "tcp frame");
		off += 4 + msg_len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	enum decoder which = (enum decoder)(data[0] % DEC_COUNT);
	/* A private exact-size copy: ASan then flags any read past the end. */
	size_t n = size - 1;
	uint8_t *m = malloc(n ? n : 1);
	if (!m) return 0;
	memcpy(m, data + 1, n);

	switch (which) {
	case DEC_HDR: {
		struct smb2_hdr h;
		if (smb2_hdr_decode(m, n, &h)) {
			uint8_t back[SMB2_HDR_SIZE];
			smb2_hdr_encode(back, &h);
			struct smb2_hdr h2;
			if (!smb2_hdr_decode(back, sizeof(back), &h2) || h2.command != h.command ||
			    h2.message_id != h.message_id || h2.session_id != h.session_id || h2.flags != h.flags)
				abort();
		}
		(void)smb2_command_name((uint16_t)(n ? m[0] | (m[n - 1] << 8) : 0));
		break;
	}
	case DEC_NEGOTIATE: {
		struct smb2_negotiate_req r;
		if (smb2_negotiate_req_decode(m, n, &r) == STATUS_SUCCESS) {
			if (r.ncontexts > SMB2_NEG_MAX_CONTEXTS) abort();
			for (unsigned i = 0; i < r.ncontexts; i++)
				inside(m, n, r.contexts[i].data, r.contexts[i].data_len, "negotiate context");
		}
		break;
	}
	case DEC_SESSION_SETUP: {
		struct smb2_session_setup_req r;
		if (smb2_session_setup_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.security_blob, r.security_blob_len, "session setup blob");
		break;
	}
	case DEC_TREE_CONNECT: {
		struct smb2_tree_connect_req r;
		if (smb2_tree_connect_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.path, r.path_len, "tree connect path");
		break;
	}
	case DEC_CREATE:
		run_create(m, n);
		break;
	case DEC_CREATE_CONTEXTS:
		run_create_contexts(m, n);
		break;
	case DEC_CLOSE: {
		struct smb2_close_req r;
		(void)smb2_close_req_decode(m, n, &r);
		break;
	}
	case DEC_READ: {
		struct smb2_read_req r;
		if (smb2_read_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.channel_info, r.channel_info_len, "read channel info");
		break;
	}
	case DEC_WRITE: {
		struct smb2_write_req r;
		if (smb2_write_req_decode(m, n, &r) == STATUS_SUCCESS) {
			inside(m, n, r.data, r.length, "write data");
			inside(m, n, r.channel_info, r.channel_info_len, "write channel info");
		}
		break;
	}
	case DEC_FLUSH: {
		struct smb2_flush_req r;
		(void)smb2_flush_req_decode(m, n, &r);
		break;
	}
	case DEC_QUERY_DIRECTORY: {
		struct smb2_query_directory_req r;
		if (smb2_query_directory_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.pattern, r.pattern_len, "query directory pattern");
		break;
	}
	case DEC_QUERY_INFO: {
		struct smb2_query_info_req r;
		if (smb2_query_info_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.input, r.input_len, "query info input");
		break;
	}
	case DEC_SET_INFO: {
		struct smb2_set_info_req r;
		if (smb2_set_info_req_decode(m, n, &r) == STATUS_SUCCESS)
			inside(m, n, r.buffer, r.buffer_len, "set info buffer");
		break;
	}
	case DEC_IOCTL:
		run_ioctl(m, n);
		break;
	case DEC_COPYCHUNK:
		run_copychunk(m, n);
		break;
	case DEC_VALIDATE_NEGOTIATE: {
		struct validate_negotiate_req v;
		if (validate_negotiate_req_decode(m, n, &v) &&
		    (v.dialect_count == 0 || v.dialect_count > VALIDATE_NEGOTIATE_MAX_DIALECTS))
			abort();
		break;
	}
	case DEC_NOTIFY: {
		struct smb2_notify_req r;
		(void)smb2_notify_req_decode(m, n, &r);
		break;
	}
	case DEC_LOCK:
		run_lock(m, n);
		break;
	case DEC_OPLOCK_BREAK:
		run_oplock_break(m, n);
		break;
	case DEC_LEASE_CTX:
		run_lease_ctx(m, n);
		break;
	case DEC_TRANSFORM:
		run_transform(m, n);
		break;
	case DEC_DURABLE:
		run_durable(m, n);
		break;
	case DEC_KRB5:
		run_krb5(m, n);
		break;
	case DEC_TCP_FRAME:
		run_tcp_frame(m, n);
		break;
	case DEC_COUNT:
		break;
	}
	free(m);
	return 0;
}
