/* Kerberos acceptor through MIT krb5's GSS-API (RFC 2743, RFC 4121).
 *
 * Everything cryptographic (ticket decryption, authenticator and replay
 * checks, AP-REP, MIC tokens) is MIT krb5's; this file only drives it and
 * turns its answers into what SESSION_SETUP needs: a reply token, a client
 * principal, a session key. */
#include "auth/krb5_server.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "wire/asn1.h"
#include "wire/ntstatus.h"

struct krb5_server {
	char *keytab;
	gss_ctx_id_t ctx;           /* established context, GSS_C_NO_CONTEXT before */
	char *client_principal;
	char *service_principal;
	uint8_t session_key[64];
	size_t session_key_len;
};

/* DER contents of the two krb5 mechanism OIDs (RFC 4121 1; MS-KILE 3.1.5.8
 * for the Microsoft one, which older Windows clients put in tokens). */
static const uint8_t oid_krb5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
static const uint8_t oid_ms_krb5[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02 };

bool krb5_token_is_ap_req(const uint8_t *token, size_t len)
{
	if (!token || len == 0) return false;
	struct rbuf r = rbuf_make(token, len);
	struct asn1_elem outer, oid;
	if (asn1_read_tag(&r, ASN1_APPLICATION0, &outer) != 0) return false;
	struct rbuf in = asn1_contents(&outer);
	if (asn1_read_tag(&in, ASN1_OID, &oid) != 0) return false;
	bool krb5 = (oid.len == sizeof(oid_krb5) && memcmp(oid.val, oid_krb5, oid.len) == 0) ||
		    (oid.len == sizeof(oid_ms_krb5) && memcmp(oid.val, oid_ms_krb5, oid.len) == 0);
	/* RFC 4121 4.1: after the OID comes a two-byte TOK_ID, 01 00 for
	 * KRB_AP_REQ, then the AP-REQ itself. */
	const uint8_t *tok_id = rbuf_ptr(&in, 2);
	return krb5 && tok_id && tok_id[0] == 0x01 && tok_id[1] == 0x00;
}

/* A name component as GSS-API displays it (krb5_unparse_name): no
 * separators, no escapes (a backslash means the component holds a '/', '@'
 * or control character, which no SMB user name should), no controls. */
static bool plain_component(const char *s, size_t len)
{
	if (len == 0) return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '/' || ch == '@' || ch == '\\' || ch < 0x20 || ch == 0x7f) return false;
	}
	return true;
}

int krb5_principal_to_user(const char *principal, const char *realm, char *user, size_t userlen)
{
	if (!principal || !realm || !*realm) return -1;
	const char *at = strrchr(principal, '@');
	if (!at || strcmp(at + 1, realm) != 0) return -1;
	size_t name_len = (size_t)(at - principal);
	if (!plain_component(principal, name_len) || name_len >= userlen) return -1;
	memcpy(user, principal, name_len);
	user[name_len] = 0;
	return 0;
}

bool krb5_principal_is_service(const char *principal, const char *service, const char *realm)
{
	if (!principal || !service || !realm || !*realm) return false;
	size_t slen = strlen(service);
	if (strncmp(principal, service, slen) != 0 || principal[slen] != '/') return false;
	const char *host = principal + slen + 1;
	const char *at = strrchr(host, '@');
	if (!at || strcmp(at + 1, realm) != 0) return false;
	return plain_component(host, (size_t)(at - host));
}

bool krb5_keytab_usable(const char *path)
{
	struct stat st;
	if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
	return access(path, R_OK) == 0;
}

struct krb5_server *krb5_server_new(const char *keytab)
{
	struct krb5_server *k = calloc(1, sizeof(*k));
	if (!k) return NULL;
	k->ctx = GSS_C_NO_CONTEXT;
	k->keytab = strdup(keytab ? keytab : "");
	if (!k->keytab) {
		free(k);
		return NULL;
	}
	return k;
}

void krb5_server_free(struct krb5_server *k)
{
	if (!k) return;
	OM_uint32 minor;
	if (k->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &k->ctx, GSS_C_NO_BUFFER);
	free(k->keytab);
	free(k->client_principal);
	free(k->service_principal);
	explicit_bzero(k->session_key, sizeof(k->session_key));
	free(k);
}

/* Writes GSS-API's text for a (major, minor) pair into buf, for logs. */
static void gss_error_text(OM_uint32 major, OM_uint32 minor, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	struct { OM_uint32 code; int type; } parts[2] = { { major, GSS_C_GSS_CODE }, { minor, GSS_C_MECH_CODE } };
	for (int i = 0; i < 2; i++) {
		if (i == 1 && minor == 0) break;
		OM_uint32 more = 0, m;
		do {
			gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
			if (GSS_ERROR(gss_display_status(&m, parts[i].code, parts[i].type, GSS_C_NO_OID, &more, &msg)))
				break;
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%.*s", off ? "; " : "", (int)msg.length,
							(const char *)msg.value);
			gss_release_buffer(&m, &msg);
		} while (more != 0);
	}
}

static char *display_name(gss_name_t name)
{
	OM_uint32 minor;
	gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
	if (GSS_ERROR(gss_display_name(&minor, name, &buf, NULL))) return NULL;
	char *s = NULL;
	/* A NUL inside a name would make later string checks see a prefix. */
	if (!memchr(buf.value, 0, buf.length)) s = strndup(buf.value, buf.length);
	gss_release_buffer(&minor, &buf);
	return s;
}

uint32_t krb5_server_accept(struct krb5_server *k, const uint8_t *token, size_t len, struct wbuf *out)
{
	OM_uint32 major, minor, m;
	char err[512];
	if (k->ctx != GSS_C_NO_CONTEXT || !token || len == 0) return STATUS_LOGON_FAILURE;

	/* The keytab is named per acquisition (MIT cred store, krb5 1.11+),
	 * not through the process-wide KRB5_KTNAME: configs reload on SIGHUP
	 * while other threads accept. */
	gss_key_value_element_desc elem = { "keytab", k->keytab };
	gss_key_value_set_desc store = { 1, &elem };
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	/* GSS_C_NO_NAME: any service key in the keytab may decrypt the
	 * ticket; the caller then checks which service it was for. */
	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
				      &store, &cred, NULL, NULL);
	if (GSS_ERROR(major)) {
		gss_error_text(major, minor, err, sizeof(err));
		log_warn("kerberos: cannot use keytab %s: %s", k->keytab, err);
		return STATUS_LOGON_FAILURE;
	}

	gss_buffer_desc in = { len, (void *)token };
	gss_buffer_desc reply = GSS_C_EMPTY_BUFFER;
	gss_name_t client = GSS_C_NO_NAME;
	OM_uint32 flags = 0;
	major = gss_accept_sec_context(&minor, &k->ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &client, NULL, &reply,
				       &flags, NULL, NULL);
	gss_release_cred(&m, &cred);
	uint32_t st = STATUS_LOGON_FAILURE;
	if (GSS_ERROR(major)) {
		gss_error_text(major, minor, err, sizeof(err));
		log_warn("kerberos: ticket refused: %s", err);
		goto out;
	}
	if (major & GSS_S_CONTINUE_NEEDED) {
		log_warn("kerberos: multi-leg exchanges (DCE style, user-to-user) are not supported");
		goto out;
	}

	k->client_principal = display_name(client);
	gss_name_t target = GSS_C_NO_NAME;
	if (!GSS_ERROR(gss_inquire_context(&m, k->ctx, NULL, &target, NULL, NULL, NULL, NULL, NULL))) {
		k->service_principal = display_name(target);
		gss_release_name(&m, &target);
	}
	if (!k->client_principal || !k->service_principal) {
		log_warn("kerberos: cannot read the principal names of an accepted context");
		goto out;
	}

	gss_buffer_set_t keys = GSS_C_NO_BUFFER_SET;
	major = gss_inquire_sec_context_by_oid(&minor, k->ctx, GSS_C_INQ_SSPI_SESSION_KEY, &keys);
	if (GSS_ERROR(major) || !keys || keys->count < 1 || keys->elements[0].length == 0 ||
	    keys->elements[0].length > sizeof(k->session_key)) {
		gss_error_text(major, minor, err, sizeof(err));
		log_warn("kerberos: no session key from the context of %s: %s", k->client_principal, err);
		if (keys) gss_release_buffer_set(&m, &keys);
		goto out;
	}
	k->session_key_len = keys->elements[0].length;
	memcpy(k->session_key, keys->elements[0].value, k->session_key_len);
	explicit_bzero(keys->elements[0].value, keys->elements[0].length);
	gss_release_buffer_set(&m, &keys);

	if (reply.length) wbuf_bytes(out, reply.value, reply.length);
	st = STATUS_SUCCESS;
out:
	gss_release_buffer(&m, &reply);
	gss_release_name(&m, &client);
	return st;
}

const char *krb5_server_client_principal(const struct krb5_server *k) { return k->client_principal; }
const char *krb5_server_service_principal(const struct krb5_server *k) { return k->service_principal; }

const uint8_t *krb5_server_session_key(const struct krb5_server *k, size_t *len)
{
	*len = k->session_key_len;
	return k->session_key;
}

int krb5_server_verify_mic(struct krb5_server *k, const uint8_t *msg, size_t len, const uint8_t *mic,
			   size_t mic_len)
{
	if (k->ctx == GSS_C_NO_CONTEXT) return -1;
	OM_uint32 minor;
	gss_buffer_desc m = { len, (void *)msg }, t = { mic_len, (void *)mic };
	OM_uint32 major = gss_verify_mic(&minor, k->ctx, &m, &t, NULL);
	/* Duplicate/old/unseq tokens are supplementary bits, not errors; a
	 * mechListMIC is only ever checked once, so any of them is wrong too. */
	return major == GSS_S_COMPLETE ? 0 : -1;
}

int krb5_server_make_mic(struct krb5_server *k, const uint8_t *msg, size_t len, struct wbuf *out)
{
	if (k->ctx == GSS_C_NO_CONTEXT) return -1;
	OM_uint32 minor, m;
	gss_buffer_desc in = { len, (void *)msg }, mic = GSS_C_EMPTY_BUFFER;
	if (GSS_ERROR(gss_get_mic(&minor, k->ctx, GSS_C_QOP_DEFAULT, &in, &mic))) return -1;
	wbuf_bytes(out, mic.value, mic.length);
	gss_release_buffer(&m, &mic);
	return out->err ? -1 : 0;
}
