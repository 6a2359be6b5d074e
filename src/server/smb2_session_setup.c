/* SESSION_SETUP (MS-SMB2 3.3.5.5) and LOGOFF (3.3.5.6).
 *
 * Authentication is SPNEGO wrapping NTLMSSP (Kerberos arrives with the
 * security issue).  A first SESSION_SETUP creates an in-progress session so
 * the client can continue it by id; it becomes valid, with keys derived for
 * the dialect, only when NTLMSSP succeeds.  A SESSION_SETUP on a valid
 * session is a re-authentication: the session stays usable meanwhile. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/ntlmssp.h"
#include "server/server.h"
#include "wire/session_setup.h"
#include "wire/spnego.h"

struct smbd_session *session_create(struct smbd_conn *c);

static int lookup_user_hash(void *arg, const char *user, const char *domain, uint8_t nt_hash[16])
{
	(void)domain;
	const struct smbd_config *cfg = arg;
	const struct smbd_user *u = config_find_user(cfg, user);
	if (!u) return -1;
	memcpy(nt_hash, u->nt_hash, 16);
	return 0;
}

/* Fills uid/gid/groups for a Unix account.  Returns 0, or -1 if the account
 * does not exist. */
static int map_unix_identity(struct smbd_session *s, const char *unix_name)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(unix_name, &pw, buf, sizeof(buf), &res) != 0 || !res) return -1;
	s->uid = pw.pw_uid;
	s->gid = pw.pw_gid;
	int n = 32;
	gid_t *g = malloc((size_t)n * sizeof(gid_t));
	if (!g) return -1;
	if (getgrouplist(unix_name, pw.pw_gid, g, &n) < 0) {
		gid_t *g2 = realloc(g, (size_t)n * sizeof(gid_t));
		if (!g2) { free(g); return -1; }
		g = g2;
		if (getgrouplist(unix_name, pw.pw_gid, g, &n) < 0) n = 0;
	}
	free(s->groups);
	s->groups = g;
	s->ngroups = n;
	return 0;
}

static void dns_hostname(char *out, size_t len)
{
	if (gethostname(out, len) != 0) snprintf(out, len, "localhost");
	out[len - 1] = 0;
}

uint32_t smb2_session_setup(struct smb2_request *req)
{
	struct smbd_conn *c = req->conn;
	struct smb2_session_setup_req r;
	uint32_t st = smb2_session_setup_req_decode(req->msg, req->msg_len, &r);
	if (st) return st;
	if (r.flags & SMB2_SESSION_FLAG_BINDING) {
		/* Multichannel binding is not offered (no CAP_MULTI_CHANNEL). */
		return STATUS_REQUEST_NOT_ACCEPTED;
	}

	struct smbd_session *s = req->session;   /* dispatcher's reference, or NULL */
	bool created = false;
	if (!s) {
		if (c->nsessions >= c->cfg->max_sessions_per_conn) {
			log_warn("%s: SESSION_SETUP refused: session limit (%u) reached", c->peer_str,
				 c->cfg->max_sessions_per_conn);
			return STATUS_INSUFFICIENT_RESOURCES;
		}
		s = session_create(c);
		if (!s) return STATUS_INSUFFICIENT_RESOURCES;
		created = true;
		req->hdr.session_id = s->id;
	} else if (s->state == SESSION_EXPIRED) {
		return STATUS_USER_SESSION_DELETED;
	}
	bool reauth = s->state == SESSION_VALID;

	if (c->dialect == SMB2_DIALECT_311 && !reauth) {
		struct iovec iov = { (void *)req->msg, req->msg_len };
		crypto_preauth_update(s->preauth_hash, &iov, 1, s->preauth_hash);
	}

	struct spnego_token tok;
	if (!r.security_blob || spnego_decode(r.security_blob, r.security_blob_len, &tok) != 0 || !tok.mech_token) {
		log_warn("%s: SESSION_SETUP refused: malformed or empty security blob", c->peer_str);
		st = STATUS_INVALID_PARAMETER;
		goto fail;
	}
	if (!s->auth) {
		char host[256];
		dns_hostname(host, sizeof(host));
		s->auth = ntlmssp_server_new(c->cfg->netbios_name, c->cfg->workgroup, host);
		if (!s->auth) { st = STATUS_INSUFFICIENT_RESOURCES; goto fail; }
	}
	/* RFC 4178 5: the mechListMIC covers the mechTypes of the first leg. */
	if (tok.is_init && tok.mech_types_der &&
	    ntlmssp_server_set_mech_types(s->auth, tok.mech_types_der, tok.mech_types_der_len) != 0) {
		st = STATUS_INSUFFICIENT_RESOURCES;
		goto fail;
	}
	struct wbuf token, blob;
	wbuf_init(&token, 256);
	wbuf_init(&blob, 256);
	st = ntlmssp_server_step(s->auth, tok.mech_token, tok.mech_token_len, &token, lookup_user_hash, c->cfg,
				 c->cfg->map_guest);
	if (st == STATUS_MORE_PROCESSING_REQUIRED) {
		if (tok.raw_ntlmssp)
			wbuf_bytes(&blob, token.p, token.len);
		else
			spnego_encode_resp(&blob, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP, token.p, token.len);
		smb2_session_setup_rsp_encode(req->out, req->out_hdr_off, 0, blob.p, blob.len);
		req->body_written = true;
		wbuf_free(&token);
		wbuf_free(&blob);
		return st;
	}
	wbuf_free(&token);
	if (st != STATUS_SUCCESS) {
		wbuf_free(&blob);
		log_warn("%s: login refused for user '%s': %s", c->peer_str, ntlmssp_server_user(s->auth),
			 ntlmssp_server_is_anonymous(s->auth) ? "anonymous" : ntstatus_name(st));
		if (st != STATUS_INVALID_PARAMETER) st = STATUS_LOGON_FAILURE;
		goto fail;
	}

	/* SPNEGO mechListMIC (RFC 4178 5, MS-SPNG 3.3.5.1): verify the
	 * client's first (client sequence 0), then sign ours (server sequence
	 * 0).  Only keyed logons have one; guest/anonymous have no key. */
	uint8_t spnego_mic[16];
	bool send_spnego_mic = false;
	if (!tok.raw_ntlmssp && ntlmssp_server_has_session_security(s->auth)) {
		size_t mech_types_len;
		const uint8_t *mech_types = ntlmssp_server_mech_types(s->auth, &mech_types_len);
		if (tok.mic && (!mech_types ||
				ntlmssp_server_verify_mic(s->auth, mech_types, mech_types_len, tok.mic, tok.mic_len) != 0)) {
			log_warn("%s: login refused for user '%s': SPNEGO mechListMIC check failed", c->peer_str,
				 ntlmssp_server_user(s->auth));
			wbuf_free(&blob);
			st = STATUS_LOGON_FAILURE;
			goto fail;
		}
		if ((tok.mic || ntlmssp_server_signing_negotiated(s->auth)) && mech_types &&
		    ntlmssp_server_make_mic(s->auth, mech_types, mech_types_len, spnego_mic) == 0)
			send_spnego_mic = true;
	}

	/* Authenticated.  Decide the identity. */
	bool anonymous = ntlmssp_server_is_anonymous(s->auth);
	bool guest = ntlmssp_server_is_guest(s->auth);
	const char *user = ntlmssp_server_user(s->auth);
	const char *unix_name = NULL;
	if (anonymous || guest) {
		unix_name = c->cfg->guest_account;
	} else {
		const struct smbd_user *u = config_find_user(c->cfg, user);
		unix_name = u ? u->unix_name : user;
	}
	if (geteuid() == 0) {
		if (map_unix_identity(s, unix_name) != 0) {
			log_warn("%s: login refused for user '%s': Unix account '%s' does not exist", c->peer_str,
				 user, unix_name);
			wbuf_free(&blob);
			st = STATUS_LOGON_FAILURE;
			goto fail;
		}
	} else {
		s->uid = geteuid();
		s->gid = getegid();
	}
	/* Global "server smb encrypt = required" (Samba's meaning): a client
	 * that cannot encrypt never gets in, and neither do anonymous and
	 * guest logons, which have no key to encrypt with (MS-SMB2 3.3.5.5.3:
	 * EncryptData with RejectUnencryptedAccess refuses such sessions). */
	if (c->cfg->encrypt == SMBD_ENCRYPT_REQUIRED && (!c->cipher || anonymous || guest)) {
		log_warn("%s: login of '%s' refused: encryption is required and the %s", c->peer_str,
			 anonymous ? "anonymous" : user, !c->cipher ? "client did not negotiate it" : "session has no key");
		wbuf_free(&blob);
		st = STATUS_ACCESS_DENIED;
		goto fail;
	}
	free(s->user);
	free(s->domain);
	s->user = strdup(anonymous ? "" : user);
	s->domain = strdup(ntlmssp_server_domain(s->auth));
	s->is_anonymous = anonymous;
	s->is_guest = guest;
	if (!reauth) {
		memcpy(s->session_key, ntlmssp_server_session_key(s->auth), 16);
		if (!anonymous && !guest) {
			smb_derive_session_keys(c->dialect, c->cipher, s->session_key, 16, s->preauth_hash, &s->keys);
			s->keyed = true;
		}
		/* 3.3.5.5.3: sign everything if either side requires it (never for
		 * anonymous or guest sessions, which have no key). */
		s->signing_required = !anonymous && !guest &&
			(c->signing_required || (r.security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED));
		/* 3.3.5.5.3: global EncryptData and a client that can encrypt ->
		 * Session.EncryptData and SESSION_FLAG_ENCRYPT_DATA. */
		if (s->keyed && c->cipher && c->cfg->encrypt >= SMBD_ENCRYPT_DESIRED) {
			s->encrypt_data = true;
			s->encrypt_required = c->cfg->encrypt == SMBD_ENCRYPT_REQUIRED;
		}
	}
	ntlmssp_server_free(s->auth);
	s->auth = NULL;
	s->state = SESSION_VALID;

	if (!tok.raw_ntlmssp)
		spnego_encode_resp_mic(&blob, SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_UNKNOWN, NULL, 0,
				       send_spnego_mic ? spnego_mic : NULL, sizeof(spnego_mic));
	uint16_t flags = anonymous ? SMB2_SESSION_FLAG_IS_NULL : guest ? SMB2_SESSION_FLAG_IS_GUEST : 0;
	if (s->encrypt_data) flags |= SMB2_SESSION_FLAG_ENCRYPT_DATA;
	smb2_session_setup_rsp_encode(req->out, req->out_hdr_off, flags, blob.p, blob.len);
	wbuf_free(&blob);
	log_info("%s: %s%s '%s' (unix %s) session %#llx, dialect %x%s", c->peer_str,
		 reauth ? "re-authenticated " : "login ", anonymous ? "anonymous" : guest ? "guest" : "user",
		 s->user, unix_name, (unsigned long long)s->id, c->dialect,
		 s->encrypt_data ? ", encrypted" : s->signing_required ? ", signed" : "");
	return STATUS_SUCCESS;

fail:
	/* 3.3.5.5.3: when authentication fails the session is removed from
	 * the session tables and its trees and opens are closed, for a
	 * re-authentication of a valid session too; later requests on it get
	 * STATUS_USER_SESSION_DELETED. */
	(void)created;
	session_destroy(s);
	return st;
}

uint32_t smb2_logoff(struct smb2_request *req)
{
	struct smbd_session *s = req->session;
	log_info("%s: logoff of '%s'", req->conn->peer_str, s->user ? s->user : "");
	session_destroy(s);
	smb2_empty4_encode(req->out);
	return STATUS_SUCCESS;
}
