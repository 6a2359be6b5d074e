/* NEGOTIATE (MS-SMB2 3.3.5.4). */
#include <string.h>

#include "server/durable.h"
#include "server/server.h"
#include "wire/negotiate.h"
#include "wire/spnego.h"

#define STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP 0xC05D0000u

static const uint16_t supported_dialects[] = {
	SMB2_DIALECT_311, SMB2_DIALECT_302, SMB2_DIALECT_300, SMB2_DIALECT_210, SMB2_DIALECT_202,
};

static uint16_t pick_dialect(const struct smb2_negotiate_req *r)
{
	for (size_t i = 0; i < sizeof(supported_dialects) / sizeof(supported_dialects[0]); i++)
		for (unsigned j = 0; j < r->dialect_count; j++)
			if (r->dialects[j] == supported_dialects[i]) return supported_dialects[i];
	return 0;
}

/* Fills the negotiate response fields every dialect shares; used by the SMB1
 * upgrade path too. */
void negotiate_fill_response(struct smbd_conn *c, struct smb2_negotiate_rsp *rsp, uint16_t dialect,
			     struct wbuf *secblob);
void negotiate_fill_response(struct smbd_conn *c, struct smb2_negotiate_rsp *rsp, uint16_t dialect,
			     struct wbuf *secblob)
{
	memset(rsp, 0, sizeof(*rsp));
	rsp->dialect = dialect;
	rsp->security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED |
		(c->cfg->signing_required ? SMB2_NEGOTIATE_SIGNING_REQUIRED : 0);
	memcpy(rsp->server_guid, g_server.guid, 16);
	uint32_t caps = 0;
	if (dialect != SMB2_DIALECT_202 && dialect != SMB2_DIALECT_WILDCARD) caps |= SMB2_GLOBAL_CAP_LARGE_MTU;
	/* Leases from 2.1 on, directory leases from 3.0 on (MS-SMB2 3.3.5.4). */
	if (dialect != SMB2_DIALECT_202 && dialect != SMB2_DIALECT_WILDCARD) caps |= SMB2_GLOBAL_CAP_LEASING;
	if (dialect >= SMB2_DIALECT_300 && dialect != SMB2_DIALECT_WILDCARD) caps |= SMB2_GLOBAL_CAP_DIRECTORY_LEASING;
	/* Persistent handles (3.x) when a continuously available share has a
	 * usable state store (durable.c). */
	if (dialect >= SMB2_DIALECT_300 && dialect != SMB2_DIALECT_WILDCARD && durable_persistent_available())
		caps |= SMB2_GLOBAL_CAP_PERSISTENT_HANDLES;
	rsp->capabilities = caps;
	uint32_t io = (caps & SMB2_GLOBAL_CAP_LARGE_MTU) ? c->cfg->max_io_size : 65536;
	rsp->max_transact = rsp->max_read = rsp->max_write = io;
	rsp->system_time = nt_time_now();
	rsp->server_start_time = 0; /* MS-SMB2 2.2.4: SHOULD be zero */
	/* krb5 is listed only when a realm and a readable keytab are configured. */
	spnego_encode_neg_hints(secblob, c->cfg->krb5_enabled);
	rsp->security_blob = secblob->p;
	rsp->security_blob_len = secblob->len;
}

uint32_t smb2_negotiate(struct smb2_request *req)
{
	struct smbd_conn *c = req->conn;
	if (c->state != CONN_NEW) {
		/* A second NEGOTIATE on a connection is a protocol violation. */
		req->disconnect = true;
		return STATUS_INVALID_PARAMETER;
	}
	struct smb2_negotiate_req r;
	uint32_t st = smb2_negotiate_req_decode(req->msg, req->msg_len, &r);
	if (st) return st;
	uint16_t dialect = pick_dialect(&r);
	if (!dialect) {
		log_warn("%s: NEGOTIATE refused: no common dialect", c->peer_str);
		return STATUS_NOT_SUPPORTED;
	}

	struct smb2_negotiate_rsp rsp;
	struct wbuf blob;
	wbuf_init(&blob, 128);
	negotiate_fill_response(c, &rsp, dialect, &blob);
	/* Directory leasing is offered only to clients that announce it in their
	 * own Capabilities.  Clients that do not ask cannot use it, and some
	 * (impacket 0.10, as shipped by Debian 12) fail every CREATE against a
	 * 3.x server that advertises it unasked. */
	if (!(r.capabilities & SMB2_GLOBAL_CAP_DIRECTORY_LEASING))
		rsp.capabilities &= ~SMB2_GLOBAL_CAP_DIRECTORY_LEASING;

	uint8_t preauth_data[38];   /* HashAlgorithmCount, SaltLength, alg, salt[32] */
	uint8_t signing_data[4];
	uint8_t compression_data[10];
	uint8_t encryption_data[4];
	c->cipher = 0;
	/* SMB 3.0/3.0.2 (3.3.5.4): CAP_ENCRYPTION when the client offers it and
	 * encryption is on; those dialects only know AES-128-CCM, so the admin's
	 * cipher list must contain it. */
	if ((dialect == SMB2_DIALECT_300 || dialect == SMB2_DIALECT_302) && c->cfg->encrypt != SMBD_ENCRYPT_OFF &&
	    (r.capabilities & SMB2_GLOBAL_CAP_ENCRYPTION)) {
		for (unsigned k = 0; k < c->cfg->nciphers; k++)
			if (c->cfg->ciphers[k] == SMB2_ENCRYPTION_AES128_CCM) c->cipher = SMB2_ENCRYPTION_AES128_CCM;
		if (c->cipher) rsp.capabilities |= SMB2_GLOBAL_CAP_ENCRYPTION;
	}
	c->signing_algo = dialect >= SMB2_DIALECT_300 ? SMB2_SIGNING_AES_CMAC : SMB2_SIGNING_HMAC_SHA256;
	if (dialect == SMB2_DIALECT_311) {
		bool have_preauth = false, have_enc = false, have_sign = false, have_comp = false;
		bool sha512 = false;
		uint16_t signing = SMB2_SIGNING_AES_CMAC;
		for (unsigned i = 0; i < r.ncontexts; i++) {
			const struct smb2_neg_context *x = &r.contexts[i];
			struct rbuf b = rbuf_make(x->data, x->data_len);
			switch (x->type) {
			case SMB2_PREAUTH_INTEGRITY_CAPABILITIES: {
				if (have_preauth) goto bad;
				have_preauth = true;
				uint16_t n = rbuf_u16(&b);
				rbuf_u16(&b); /* SaltLength */
				if (n == 0) goto bad;
				for (unsigned k = 0; k < n; k++)
					if (rbuf_u16(&b) == SMB2_PREAUTH_INTEGRITY_SHA512) sha512 = true;
				if (b.err) goto bad;
				break;
			}
			case SMB2_ENCRYPTION_CAPABILITIES: {
				/* 3.3.5.4: pick the server's most preferred cipher that
				 * the client lists (the client's order does not matter);
				 * with no overlap, or encryption off, answer cipher 0.
				 * CAP_ENCRYPTION is a 3.0.x flag and stays clear. */
				if (have_enc) goto bad;
				have_enc = true;
				uint16_t n = rbuf_u16(&b);
				if (n == 0) goto bad;
				const uint8_t *list = rbuf_ptr(&b, (size_t)n * 2);
				if (!list || b.err) goto bad;
				if (c->cfg->encrypt != SMBD_ENCRYPT_OFF) {
					for (unsigned p = 0; p < c->cfg->nciphers && !c->cipher; p++)
						for (unsigned k = 0; k < n; k++)
							if (get_le16(list + 2 * k) == c->cfg->ciphers[p]) {
								c->cipher = c->cfg->ciphers[p];
								break;
							}
				}
				break;
			}
			case SMB2_SIGNING_CAPABILITIES: {
				if (have_sign) goto bad;
				have_sign = true;
				uint16_t n = rbuf_u16(&b);
				if (n == 0) goto bad;
				bool gmac = false, cmac = false, hmac = false;
				for (unsigned k = 0; k < n; k++) {
					uint16_t a = rbuf_u16(&b);
					gmac |= a == SMB2_SIGNING_AES_GMAC;
					cmac |= a == SMB2_SIGNING_AES_CMAC;
					hmac |= a == SMB2_SIGNING_HMAC_SHA256;
				}
				if (b.err) goto bad;
				/* Server preference: GMAC (fastest), then CMAC, then HMAC. */
				signing = gmac ? SMB2_SIGNING_AES_GMAC : cmac ? SMB2_SIGNING_AES_CMAC
					: hmac ? SMB2_SIGNING_HMAC_SHA256 : SMB2_SIGNING_AES_CMAC;
				break;
			}
			case SMB2_COMPRESSION_CAPABILITIES: {
				if (have_comp) goto bad;
				have_comp = true;
				uint16_t n = rbuf_u16(&b);
				if (n == 0 || b.err) goto bad;
				break;
			}
			default:
				/* NETNAME, TRANSPORT, RDMA and unknown contexts are ignored. */
				break;
			}
		}
		if (!have_preauth) goto bad;
		if (!sha512) {
			wbuf_free(&blob);
			return STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP;
		}
		/* Response contexts: preauth (with a fresh salt), signing when asked,
		 * compression "none" when asked. */
		put_le16(preauth_data, 1);
		put_le16(preauth_data + 2, 32);
		put_le16(preauth_data + 4, SMB2_PREAUTH_INTEGRITY_SHA512);
		crypto_random(preauth_data + 6, 32);
		rsp.contexts[rsp.ncontexts++] = (struct smb2_neg_context){ SMB2_PREAUTH_INTEGRITY_CAPABILITIES, 38, preauth_data };
		if (have_sign) {
			put_le16(signing_data, 1);
			put_le16(signing_data + 2, signing);
			rsp.contexts[rsp.ncontexts++] = (struct smb2_neg_context){ SMB2_SIGNING_CAPABILITIES, 4, signing_data };
			c->signing_algo = signing;
		}
		if (have_enc) {
			/* CipherCount 1 and the chosen cipher (2.2.3.1.2). */
			put_le16(encryption_data, 1);
			put_le16(encryption_data + 2, c->cipher);
			rsp.contexts[rsp.ncontexts++] = (struct smb2_neg_context){ SMB2_ENCRYPTION_CAPABILITIES, 4, encryption_data };
		}
		if (have_comp) {
			/* CompressionAlgorithmCount 1, Padding, Flags 0, NONE (0). */
			memset(compression_data, 0, sizeof(compression_data));
			put_le16(compression_data, 1);
			rsp.contexts[rsp.ncontexts++] = (struct smb2_neg_context){ SMB2_COMPRESSION_CAPABILITIES, 10, compression_data };
		}
		/* The connection hash starts at zero and takes the request now; the
		 * dispatcher adds the response once it is complete. */
		memset(c->preauth_hash, 0, 64);
		struct iovec iov = { (void *)req->msg, req->msg_len };
		crypto_preauth_update(c->preauth_hash, &iov, 1, c->preauth_hash);
	}

	c->dialect = dialect;
	c->client_security_mode = r.security_mode;
	c->client_capabilities = r.capabilities;
	memcpy(c->client_guid, r.client_guid, 16);
	c->nclient_dialects = r.dialect_count < 16 ? r.dialect_count : 16;
	memcpy(c->client_dialects, r.dialects, c->nclient_dialects * sizeof(uint16_t));
	c->server_capabilities = rsp.capabilities;
	c->server_security_mode = rsp.security_mode;
	c->signing_required = c->cfg->signing_required;
	c->state = CONN_NEGOTIATED;
	smb2_negotiate_rsp_encode(req->out, req->out_hdr_off, &rsp);
	wbuf_free(&blob);
	log_debug("%s: negotiated dialect %x, signing %s, cipher %s", c->peer_str, dialect,
		  smb2_signing_name(c->signing_algo),
		  c->cipher ? smb3_cipher_name(c->cipher) : "none");
	return STATUS_SUCCESS;
bad:
	wbuf_free(&blob);
	return STATUS_INVALID_PARAMETER;
}
