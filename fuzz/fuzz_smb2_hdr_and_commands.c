/* libFuzzer target: the SMB2 header decoder and every request decoder of
 * src/wire.  The first input byte picks the decoder; the rest is the message
 * (starting at its SMB2 header, as the decoders expect).
 *
 * Besides the sanitizers, the harness checks the decoder contract of
 * wire/smb2.h: on success, every pointer a decoder returns lies inside the
 * message together with its length.  It then reads those bytes, so ASan
 * sees any pointer that escaped the buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/close.h"
#include "wire/create.h"
#include "wire/flush.h"
#include "wire/ioctl.h"
#include "wire/negotiate.h"
#include "wire/notify.h"
#include "wire/query_directory.h"
#include "wire/query_info.h"
#include "wire/read.h"
#include "wire/session_setup.h"
#include "wire/set_info.h"
#include "wire/smb2.h"
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
	DEC_IOCTL, DEC_COPYCHUNK, DEC_VALIDATE_NEGOTIATE, DEC_NOTIFY, DEC_COUNT
};

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
		SMB2_CREATE_TIMEWARP_TOKEN, SMB2_CREATE_QUERY_ON_DISK_ID, SMB2_CREATE_REQUEST_LEASE };
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const struct smb2_create_context *c = smb2_create_find_context(&r, tags[i]);
		if (c) inside(m, n, c->data, c->data_len, "found context");
	}
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
	case DEC_COUNT:
		break;
	}
	free(m);
	return 0;
}
