/* Named pipes on IPC$: an in-process DCE/RPC (ncacn_np) endpoint per open.
 *
 * A pipe is a byte sink for WRITE/TRANSCEIVE and a message source for
 * READ/TRANSCEIVE.  What the client writes is cut into DCE/RPC fragments
 * (C706 12.6); BIND/ALTER_CONTEXT negotiate the srvsvc interface with NDR
 * 2.0, REQUEST fragments are reassembled into one call, and the call's
 * answer is queued as RESPONSE fragments no larger than the negotiated
 * max_xmit_frag.  Each queued fragment is one pipe message: a READ returns
 * at most one fragment, with STATUS_BUFFER_OVERFLOW while part of it
 * remains (message-mode pipe semantics, MS-SMB2 3.3.5.12).
 *
 * Threads: a pipe belongs to one open, which is used by requests on the
 * connection's loop thread only, so the pipe needs no lock.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "server/server.h"
#include "server/srvsvc.h"
#include "wire/dcerpc.h"

/* Our fragment limit in both directions; 4280 is what Windows and Samba
 * advertise, and C706 12.6.3.1 requires at least 1432 (MustRecvFragSize). */
#define PIPE_MAX_FRAG 4280
#define PIPE_MIN_FRAG 1432
/* A reassembled request stub larger than this is refused: srvsvc requests
 * are a few hundred bytes. */
#define PIPE_MAX_CALL (256u * 1024)
/* Output the client has not read yet, beyond which writes are refused. */
#define PIPE_MAX_PENDING (4u * 1024 * 1024)
#define PIPE_MAX_CONTEXTS 4
/* Association group id we hand out; there is one association per pipe. */
#define PIPE_ASSOC_GROUP 0x12345

struct smbd_pipe {
	struct smbd_session *session;   /* not counted: the open that owns the pipe holds a session reference */
	bool bound;
	uint16_t contexts[PIPE_MAX_CONTEXTS]; unsigned ncontexts;  /* accepted presentation contexts */
	uint16_t max_xmit_frag;         /* largest fragment we send */
	struct wbuf in;                 /* written bytes not yet forming a whole fragment */
	/* request being reassembled from several fragments */
	bool call_active;
	uint32_t call_id;
	uint16_t call_ctx, call_opnum;
	struct wbuf call;
	/* queued output fragments, read from out_off on */
	struct wbuf out;
	size_t out_off;
	size_t frag_left;               /* bytes left of the fragment being read; 0 at a boundary */
};

/* Pipe names arrive as "srvsvc", sometimes as "\PIPE\srvsvc" (SMB1-era
 * clients) or with a leading backslash; compare the last part. */
static const char *pipe_base_name(const char *name)
{
	while (*name == '\\' || *name == '/') name++;
	if (strncasecmp(name, "PIPE", 4) == 0 && (name[4] == '\\' || name[4] == '/')) name += 5;
	while (*name == '\\' || *name == '/') name++;
	return name;
}

struct smbd_pipe *pipe_open(const char *name, struct smbd_session *s, uint32_t *status)
{
	const char *base = pipe_base_name(name ? name : "");
	if (strcasecmp(base, "srvsvc") != 0) {
		log_debug("pipe: no endpoint for \"%s\"", name ? name : "");
		*status = STATUS_OBJECT_NAME_NOT_FOUND;
		return NULL;
	}
	struct smbd_pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		*status = STATUS_NO_MEMORY;
		return NULL;
	}
	p->session = s;
	p->max_xmit_frag = PIPE_MAX_FRAG;
	wbuf_init(&p->in, 0);
	wbuf_init(&p->call, 0);
	wbuf_init(&p->out, 0);
	*status = STATUS_SUCCESS;
	return p;
}

void pipe_close(struct smbd_pipe *p)
{
	if (!p) return;
	wbuf_free(&p->in);
	wbuf_free(&p->call);
	wbuf_free(&p->out);
	free(p);
}

static bool context_accepted(const struct smbd_pipe *p, uint16_t ctx_id)
{
	for (unsigned i = 0; i < p->ncontexts; i++)
		if (p->contexts[i] == ctx_id) return true;
	return false;
}

static void queue_fault(struct smbd_pipe *p, uint32_t call_id, uint16_t ctx_id, uint32_t status)
{
	log_debug("pipe: call %u fault 0x%08x", call_id, status);
	dcerpc_fault_encode(&p->out, call_id, ctx_id, status, true);
}

/* Decides one presentation context of a BIND/ALTER_CONTEXT
 * (C706 12.6.4.3, MS-RPCE 3.3.1.5.3). */
static void negotiate_context(struct smbd_pipe *p, const struct dcerpc_ctx_elem *c, struct dcerpc_ctx_result *res)
{
	memset(res, 0, sizeof(*res));
	for (unsigned j = 0; j < c->n_transfer; j++) {
		if (dcerpc_is_bind_time_feature_syntax(&c->transfer[j])) {
			/* Bind time feature negotiation: answer negotiate_ack
			 * with the features we support (none) in reason. */
			res->result = DCERPC_RESULT_NEGOTIATE_ACK;
			res->reason = 0;
			return;
		}
	}
	if (!dcerpc_syntax_eq(&c->abstract, &dcerpc_srvsvc_syntax)) {
		res->result = DCERPC_RESULT_PROVIDER_REJECTION;
		res->reason = DCERPC_REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED;
		return;
	}
	/* NDR64 (or anything else) is refused per context; a client that also
	 * offers an NDR 2.0 context gets that one accepted. */
	for (unsigned j = 0; j < c->n_transfer; j++) {
		if (dcerpc_syntax_eq(&c->transfer[j], &dcerpc_ndr32_syntax)) {
			if (!context_accepted(p, c->ctx_id)) {
				if (p->ncontexts == PIPE_MAX_CONTEXTS) {
					res->result = DCERPC_RESULT_PROVIDER_REJECTION;
					res->reason = DCERPC_REASON_LOCAL_LIMIT_EXCEEDED;
					return;
				}
				p->contexts[p->ncontexts++] = c->ctx_id;
			}
			res->result = DCERPC_RESULT_ACCEPTANCE;
			res->transfer = dcerpc_ndr32_syntax;
			return;
		}
	}
	res->result = DCERPC_RESULT_PROVIDER_REJECTION;
	res->reason = DCERPC_REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED;
}

static void handle_bind(struct smbd_pipe *p, const uint8_t *pdu, const struct dcerpc_hdr *h)
{
	bool alter = h->ptype == DCERPC_PKT_ALTER_CONTEXT;
	struct dcerpc_bind b;
	if (!dcerpc_bind_decode(pdu, h->frag_length, &b)) {
		if (alter) queue_fault(p, h->call_id, 0, DCERPC_NCA_S_PROTO_ERROR);
		else dcerpc_bind_nak_encode(&p->out, h->call_id, DCERPC_BIND_NAK_REASON_NOT_SPECIFIED);
		return;
	}
	/* A second BIND on one association is a protocol error (C706 12.4);
	 * ALTER_CONTEXT is how a bound client adds contexts. */
	if (alter != p->bound) {
		if (alter) queue_fault(p, h->call_id, 0, DCERPC_NCA_S_PROTO_ERROR);
		else dcerpc_bind_nak_encode(&p->out, h->call_id, DCERPC_BIND_NAK_REASON_NOT_SPECIFIED);
		return;
	}
	if (!alter) {
		if (b.max_xmit_frag < PIPE_MIN_FRAG || b.max_recv_frag < PIPE_MIN_FRAG) {
			dcerpc_bind_nak_encode(&p->out, h->call_id, DCERPC_BIND_NAK_REASON_NOT_SPECIFIED);
			return;
		}
		/* Our sends are bounded by what the client can receive. */
		p->max_xmit_frag = b.max_recv_frag < PIPE_MAX_FRAG ? b.max_recv_frag : PIPE_MAX_FRAG;
	}
	struct dcerpc_ctx_result results[DCERPC_MAX_CTX];
	for (unsigned i = 0; i < b.n_ctx; i++) negotiate_context(p, &b.ctx[i], &results[i]);
	p->bound = true;
	/* The secondary address is the pipe's local name (MS-RPCE 2.1.1.2);
	 * alter_context_resp carries none. */
	dcerpc_bind_ack_encode(&p->out, alter ? DCERPC_PKT_ALTER_CONTEXT_RESP : DCERPC_PKT_BIND_ACK, h->call_id,
			       p->max_xmit_frag, PIPE_MAX_FRAG, PIPE_ASSOC_GROUP, alter ? NULL : "\\PIPE\\srvsvc",
			       results, b.n_ctx);
}

static void run_call(struct smbd_pipe *p)
{
	struct wbuf stub;
	wbuf_init(&stub, 512);
	const struct smbd_config *cfg = p->session && p->session->conn ? p->session->conn->cfg : NULL;
	uint32_t fault = cfg ? srvsvc_call(cfg, p->call_opnum, p->call.p, p->call.len, &stub)
			     : DCERPC_NCA_S_UNSPEC_REJECT;
	if (fault || stub.err) {
		queue_fault(p, p->call_id, p->call_ctx, fault ? fault : DCERPC_NCA_S_FAULT_REMOTE_NO_MEMORY);
	} else {
		log_debug("pipe: call %u opnum %u -> %zu stub bytes", p->call_id, p->call_opnum, stub.len);
		dcerpc_response_encode_fragmented(&p->out, p->call_id, p->call_ctx, stub.p, stub.len, p->max_xmit_frag);
	}
	wbuf_free(&stub);
	p->call_active = false;
	p->call.len = 0;
}

static void handle_request(struct smbd_pipe *p, const uint8_t *pdu, const struct dcerpc_hdr *h)
{
	struct dcerpc_request r;
	if (!p->bound || !dcerpc_request_decode(pdu, h->frag_length, h, &r)) {
		p->call_active = false;
		p->call.len = 0;
		queue_fault(p, h->call_id, 0, DCERPC_NCA_S_PROTO_ERROR);
		return;
	}
	if (h->pfc_flags & DCERPC_PFC_FIRST_FRAG) {
		/* A new call while one is half received: the client abandoned
		 * it; start over (C706 allows only one call in flight on a
		 * non-multiplexed association). */
		p->call_active = true;
		p->call_id = h->call_id;
		p->call_ctx = r.ctx_id;
		p->call_opnum = r.opnum;
		p->call.len = 0;
		p->call.err = false;
	} else if (!p->call_active || h->call_id != p->call_id) {
		queue_fault(p, h->call_id, r.ctx_id, DCERPC_NCA_S_PROTO_ERROR);
		return;
	}
	if (p->call.len + r.stub_len > PIPE_MAX_CALL) {
		p->call_active = false;
		p->call.len = 0;
		queue_fault(p, h->call_id, r.ctx_id, DCERPC_NCA_S_FAULT_REMOTE_NO_MEMORY);
		return;
	}
	wbuf_bytes(&p->call, r.stub, r.stub_len);
	if (!(h->pfc_flags & DCERPC_PFC_LAST_FRAG)) return;

	if (!context_accepted(p, p->call_ctx)) {
		p->call_active = false;
		p->call.len = 0;
		queue_fault(p, p->call_id, p->call_ctx, DCERPC_NCA_S_UNKNOWN_IF);
		return;
	}
	run_call(p);
}

uint32_t pipe_write(struct smbd_pipe *p, const uint8_t *data, size_t len)
{
	if (p->out.len - p->out_off > PIPE_MAX_PENDING) return STATUS_INSUFF_SERVER_RESOURCES;
	/* At most one fragment (64 KiB) is ever buffered. */
	if (len > UINT16_MAX || p->in.len + len > 2 * (size_t)UINT16_MAX) return STATUS_INVALID_PARAMETER;
	wbuf_bytes(&p->in, data, len);
	if (p->in.err) {
		p->in.err = false;
		p->in.len = 0;
		return STATUS_NO_MEMORY;
	}
	size_t off = 0;
	uint32_t status = STATUS_SUCCESS;
	while (p->in.len - off >= DCERPC_HDR_SIZE) {
		const uint8_t *pdu = p->in.p + off;
		struct dcerpc_hdr h;
		if (!dcerpc_hdr_decode(pdu, p->in.len - off, &h)) {
			/* Not DCE/RPC (or not a representation we speak): the
			 * stream has lost its framing, so drop what we hold. */
			log_debug("pipe: undecodable PDU header, dropping %zu bytes", p->in.len - off);
			off = p->in.len;
			status = STATUS_INVALID_PARAMETER;
			break;
		}
		if (h.frag_length > p->in.len - off) break;   /* wait for the rest */
		switch (h.ptype) {
		case DCERPC_PKT_BIND:
		case DCERPC_PKT_ALTER_CONTEXT:
			handle_bind(p, pdu, &h);
			break;
		case DCERPC_PKT_REQUEST:
			handle_request(p, pdu, &h);
			break;
		case DCERPC_PKT_AUTH3:
			/* third leg of an RPC-level authentication we never
			 * offered: nothing to answer (C706 12.6.4.1) */
			break;
		case DCERPC_PKT_CO_CANCEL:
		case DCERPC_PKT_ORPHANED:
			p->call_active = false;
			p->call.len = 0;
			break;
		default:
			queue_fault(p, h.call_id, 0, DCERPC_NCA_S_PROTO_ERROR);
			break;
		}
		off += h.frag_length;
	}
	/* Keep only the incomplete tail. */
	if (off) {
		memmove(p->in.p, p->in.p + off, p->in.len - off);
		p->in.len -= off;
	}
	if (p->out.err) {
		/* Could not queue the answer: the client would wait forever,
		 * so report the failure on this write. */
		p->out.err = false;
		p->out.len = p->out_off;
		p->frag_left = 0;
		return STATUS_NO_MEMORY;
	}
	return status;
}

uint32_t pipe_read(struct smbd_pipe *p, struct wbuf *w, size_t max)
{
	if (p->out_off >= p->out.len) return STATUS_PIPE_EMPTY;
	if (p->frag_left == 0) {
		/* At a fragment boundary: the fragment is the next message.  We
		 * wrote these headers ourselves, so frag_length is sound. */
		p->frag_left = get_le16(p->out.p + p->out_off + 8);
		if (p->frag_left == 0 || p->frag_left > p->out.len - p->out_off) p->frag_left = p->out.len - p->out_off;
	}
	size_t n = p->frag_left < max ? p->frag_left : max;
	wbuf_bytes(w, p->out.p + p->out_off, n);
	if (w->err) return STATUS_NO_MEMORY;
	p->out_off += n;
	p->frag_left -= n;
	if (p->out_off == p->out.len) {
		/* Everything read: rewind so the buffer is reused. */
		p->out.len = 0;
		p->out_off = 0;
	}
	return p->frag_left ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}
