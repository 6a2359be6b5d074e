/* SESSION_SETUP (MS-SMB2 3.3.5.5) and LOGOFF (3.3.5.6).
 *
 * Authentication is SPNEGO wrapping NTLMSSP, or a krb5 AP-REQ when Kerberos
 * is configured (session_setup_krb5, one leg).  A first SESSION_SETUP
 * creates an in-progress session so the client can continue it by id; it
 * becomes valid, with keys derived for the dialect, only when
 * authentication succeeds.  A SESSION_SETUP on a valid
 * session is a re-authentication: the session stays usable meanwhile. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/krb5_server.h"
#include "auth/ntlmssp.h"
#include "server/access.h"
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

/* Kerberos logon: SPNEGO wrapping a krb5 AP-REQ (MS-SPNG, RFC 4121),
 * accepted with the service keys of the configured keytab.  It takes one
 * leg: the reply is accept-completed with the AP-REP (mutual
 * authentication) and supportedMech set to the OID the client chose.
 * The principal maps to an SMB user by the rule of krb5_principal_to_user
 * (docs/configuration.md): "name@REALM" of our realm, and name must be in
 * the users database, which also gives the Unix account.  Returns the
 * status for the response; on failure the caller destroys the session. */
static uint32_t session_setup_krb5(struct smb2_request *req, struct smbd_session *s,
				   const struct smb2_session_setup_req *r, const struct spnego_token *tok, bool reauth)
{
	struct smbd_conn *c = req->conn;
	const struct smbd_config *cfg = c->cfg;
	/* RFC 4178 4.2.1: the optimistic mechToken is for the first of the
	 * client's mechTypes; that is the OID to echo back (Windows clients
	 * list 1.2.840.48018.1.2.2 and expect to see it again). */
	enum spnego_mech mech = tok->mechs[0];
	uint32_t st = STATUS_LOGON_FAILURE;
	struct wbuf reply, mic, blob;
	wbuf_init(&reply, 256);
	wbuf_init(&mic, 64);
	wbuf_init(&blob, 256);
	struct krb5_server *k = krb5_server_new(cfg->krb5_keytab);
	if (!k) {
		st = STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	if (krb5_server_accept(k, tok->mech_token, tok->mech_token_len, &reply) != STATUS_SUCCESS) {
		log_warn("%s: Kerberos login refused: ticket not accepted", c->peer_str);
		goto refused;
	}
	const char *client = krb5_server_client_principal(k);
	const char *service = krb5_server_service_principal(k);
	/* Any key in the keytab decrypts; only a ticket for cifs/ in our realm
	 * is a ticket for this file service. */
	if (!krb5_principal_is_service(service, "cifs", cfg->realm)) {
		log_warn("%s: Kerberos login of %s refused: ticket is for %s, not cifs/...@%s", c->peer_str, client,
			 service, cfg->realm);
		goto refused;
	}
	char name[256];
	const struct smbd_user *u = NULL;
	if (krb5_principal_to_user(client, cfg->realm, name, sizeof(name)) != 0 ||
	    !(u = config_find_user(cfg, name))) {
		log_warn("%s: Kerberos login of %s refused: not a user of realm %s in the users database", c->peer_str,
			 client, cfg->realm);
		goto refused;
	}
	/* mechListMIC (RFC 4178 5): optional when, as here, the client's first
	 * mechanism was accepted; if the client sent one it must verify, and
	 * then it gets ours. */
	if (tok->mic) {
		if (!tok->mech_types_der ||
		    krb5_server_verify_mic(k, tok->mech_types_der, tok->mech_types_der_len, tok->mic, tok->mic_len) != 0) {
			log_warn("%s: Kerberos login of %s refused: SPNEGO mechListMIC check failed", c->peer_str, client);
			goto refused;
		}
		if (krb5_server_make_mic(k, tok->mech_types_der, tok->mech_types_der_len, &mic) != 0) {
			st = STATUS_INSUFFICIENT_RESOURCES;
			goto out;
		}
	}

	if (geteuid() == 0) {
		if (map_unix_identity(s, u->unix_name) != 0) {
			log_warn("%s: Kerberos login of %s refused: Unix account '%s' does not exist", c->peer_str, client,
				 u->unix_name);
			goto out;
		}
	} else {
		s->uid = geteuid();
		s->gid = getegid();
	}
	if (cfg->encrypt == SMBD_ENCRYPT_REQUIRED && !c->cipher) {
		log_warn("%s: Kerberos login of %s refused: encryption is required and the client did not negotiate it",
			 c->peer_str, client);
		st = STATUS_ACCESS_DENIED;
		goto out;
	}
	free(s->user);
	free(s->domain);
	s->user = strdup(u->name);
	s->domain = strdup(cfg->realm);
	s->is_anonymous = false;
	s->is_guest = false;
	if (!reauth) {
		/* 3.3.5.5.3: Session.SessionKey is the first 16 bytes of the GSS
		 * key, right-padded with zeros; the whole key (FullSessionKey)
		 * feeds the AES-256 cipher keys of 3.1.1. */
		size_t key_len;
		const uint8_t *key = krb5_server_session_key(k, &key_len);
		memset(s->session_key, 0, sizeof(s->session_key));
		memcpy(s->session_key, key, key_len < 16 ? key_len : 16);
		smb_derive_session_keys(c->dialect, c->cipher, key, key_len, s->preauth_hash, &s->keys);
		s->keyed = true;
		s->signing_required = c->signing_required || (r->security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED);
		if (c->cipher && cfg->encrypt >= SMBD_ENCRYPT_DESIRED) {
			s->encrypt_data = true;
			s->encrypt_required = cfg->encrypt == SMBD_ENCRYPT_REQUIRED;
		}
	}
	/* An NTLMSSP exchange this client started earlier on the session is
	 * superseded by this logon. */
	ntlmssp_server_free(s->auth);
	s->auth = NULL;
	s->state = SESSION_VALID;
	login_backoff_record(cfg, &c->peer, false);
	if (!reauth) session_expire_previous(s, r->previous_session_id);

	spnego_encode_resp_mic(&blob, SPNEGO_ACCEPT_COMPLETED, mech, reply.len ? reply.p : NULL, reply.len,
			       mic.len ? mic.p : NULL, mic.len);
	uint16_t flags = s->encrypt_data ? SMB2_SESSION_FLAG_ENCRYPT_DATA : 0;
	smb2_session_setup_rsp_encode(req->out, req->out_hdr_off, flags, blob.p, blob.len);
	log_info("%s: %s Kerberos user '%s' (%s, unix %s) session %#llx, dialect %x%s", c->peer_str,
		 reauth ? "re-authenticated" : "login", s->user, client, u->unix_name, (unsigned long long)s->id,
		 c->dialect, s->encrypt_data ? ", encrypted" : s->signing_required ? ", signed" : "");
	st = STATUS_SUCCESS;
	goto out;

refused:
	{
		unsigned secs = login_backoff_record(cfg, &c->peer, true);
		if (secs)
			log_warn("%s: too many failed logins: further logins from this address refused for %u s",
				 c->peer_str, secs);
	}
out:
	krb5_server_free(k);
	wbuf_free(&reply);
	wbuf_free(&mic);
	wbuf_free(&blob);
	return st;
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
	/* Failed-login back-off (access.h): an address that failed too often
	 * is refused at once, without running authentication and without
	 * sleeping on the loop thread.  A session it was building goes away,
	 * as after any failed authentication (3.3.5.5.3). */
	unsigned blocked = login_backoff_blocked(c->cfg, &c->peer);
	if (blocked) {
		log_warn("%s: SESSION_SETUP refused: too many failed logins from this address, blocked for %u more s",
			 c->peer_str, blocked);
		if (s) session_destroy(s);
		return STATUS_LOGON_FAILURE;
	}
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
	/* Dispatch by the mechanism of the client's first token: a krb5 AP-REQ
	 * for a krb5 mechanism listed first goes to Kerberos, all else to
	 * NTLMSSP as before. */
	if (c->cfg->krb5_enabled && tok.is_init && !tok.raw_ntlmssp && tok.nmechs > 0 &&
	    (tok.mechs[0] == SPNEGO_MECH_KRB5 || tok.mechs[0] == SPNEGO_MECH_MS_KRB5) &&
	    krb5_token_is_ap_req(tok.mech_token, tok.mech_token_len)) {
		st = session_setup_krb5(req, s, &r, &tok, reauth);
		if (st != STATUS_SUCCESS) goto fail;
		req->body_written = true;
		return st;
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
		if (st != STATUS_INVALID_PARAMETER) {
			st = STATUS_LOGON_FAILURE;
			unsigned secs = login_backoff_record(c->cfg, &c->peer, true);
			if (secs)
				log_warn("%s: too many failed logins: further logins from this address refused for %u s",
					 c->peer_str, secs);
		}
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
			login_backoff_record(c->cfg, &c->peer, true);
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
	/* Only a real (keyed) login clears the address's failure count:
	 * anonymous or guest logins prove nothing about the passwords tried. */
	if (!anonymous && !guest) login_backoff_record(c->cfg, &c->peer, false);
	if (!reauth) session_expire_previous(s, r.previous_session_id);

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
