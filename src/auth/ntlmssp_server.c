/* NTLMSSP server (MS-NLMP 3.2): answers NEGOTIATE with a CHALLENGE and
 * verifies the NTLMv2 AUTHENTICATE (3.2.5.1.2, 3.3.2), producing the
 * exported session key that SMB2 derives its keys from.
 *
 * Only NTLMv2 is accepted: NTLMv1 and LM responses are rejected, as current
 * Windows does by default.  No password, hash or key is ever logged. */
#include "auth/ntlmssp.h"
#include "auth/ntlmssp_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/ntlm.h"
#include "common/log.h"
#include "common/utf16.h"
#include "crypto/crypto.h"
#include "wire/ntlmssp.h"
#include "wire/ntstatus.h"

enum ntlmssp_server_state { ST_WANT_NEGOTIATE, ST_WANT_AUTHENTICATE, ST_DONE };

struct ntlmssp_server {
	enum ntlmssp_server_state state;
	char *netbios_name;
	char *domain;
	char *dns_name;

	/* Copies of the first two messages: the MIC covers them (3.1.5.1.2). */
	uint8_t *negotiate_msg;
	size_t negotiate_len;
	uint8_t *challenge_msg;
	size_t challenge_len;
	uint32_t challenge_flags; /* what we answered */
	uint8_t server_challenge[8];
	bool fixed_challenge;

	char *user;
	char *user_domain;
	char *workstation;
	bool anonymous;
	bool guest;
	uint8_t session_key[16];

	/* Session security (MS-NLMP 3.4) once authenticated with a key: the
	 * SPNEGO mechListMIC is the one thing SMB2 uses it for. */
	uint32_t negotiated_flags;
	bool ntlm_mic_present;       /* AUTHENTICATE carried a MIC */
	struct ntlm_session_sec sec;
	/* DER of the client's SPNEGO mechTypes (the mechListMIC covers it). */
	uint8_t *mech_types;
	size_t mech_types_len;
};

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

struct ntlmssp_server *ntlmssp_server_new(const char *netbios_name, const char *domain, const char *dns_name)
{
	struct ntlmssp_server *s = calloc(1, sizeof(*s));
	if (!s) return NULL;
	s->netbios_name = dup_or_empty(netbios_name);
	s->domain = dup_or_empty(domain);
	s->dns_name = dup_or_empty(dns_name && *dns_name ? dns_name : netbios_name);
	s->user = strdup("");
	s->user_domain = strdup("");
	s->workstation = strdup("");
	if (!s->netbios_name || !s->domain || !s->dns_name || !s->user || !s->user_domain || !s->workstation) {
		ntlmssp_server_free(s);
		return NULL;
	}
	return s;
}

void ntlmssp_server_free(struct ntlmssp_server *s)
{
	if (!s) return;
	free(s->netbios_name);
	free(s->domain);
	free(s->dns_name);
	free(s->negotiate_msg);
	free(s->challenge_msg);
	free(s->user);
	free(s->user_domain);
	free(s->workstation);
	free(s->mech_types);
	ntlm_sec_free(&s->sec);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void ntlmssp_server_set_challenge(struct ntlmssp_server *s, const uint8_t challenge[8])
{
	memcpy(s->server_challenge, challenge, 8);
	s->fixed_challenge = true;
}

const char *ntlmssp_server_user(const struct ntlmssp_server *s) { return s->user; }
const char *ntlmssp_server_domain(const struct ntlmssp_server *s) { return s->user_domain; }
const char *ntlmssp_server_workstation(const struct ntlmssp_server *s) { return s->workstation; }
bool ntlmssp_server_is_anonymous(const struct ntlmssp_server *s) { return s->anonymous; }
bool ntlmssp_server_is_guest(const struct ntlmssp_server *s) { return s->guest; }
const uint8_t *ntlmssp_server_session_key(const struct ntlmssp_server *s) { return s->session_key; }

/* Windows FILETIME: 100 ns units since 1601-01-01. */
static uint64_t filetime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

static uint8_t *memdup(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (q && n) memcpy(q, p, n);
	return q;
}

/* The flags of our CHALLENGE, answered from the client's NEGOTIATE
 * (MS-NLMP 3.2.5.1.1): we echo what we support of what it asked for. */
static uint32_t answer_flags(uint32_t client)
{
	uint32_t f = NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_TARGET_INFO | NTLMSSP_REQUEST_TARGET |
		     NTLMSSP_TARGET_TYPE_SERVER;
	if (client & NTLMSSP_NEGOTIATE_UNICODE) f |= NTLMSSP_NEGOTIATE_UNICODE;
	else if (client & NTLMSSP_NEGOTIATE_OEM) f |= NTLMSSP_NEGOTIATE_OEM;
	static const uint32_t echoed = NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
				       NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP_NEGOTIATE_VERSION |
				       NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_56 | NTLMSSP_NEGOTIATE_KEY_EXCH |
				       NTLMSSP_NEGOTIATE_IDENTIFY;
	f |= client & echoed;
	return f;
}

static uint32_t handle_negotiate(struct ntlmssp_server *s, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	struct ntlmssp_negotiate_msg neg;
	if (ntlmssp_decode_negotiate(in, inlen, &neg) != 0) return STATUS_INVALID_PARAMETER;

	if (!s->fixed_challenge && crypto_random(s->server_challenge, 8) != 0) return STATUS_NO_MEMORY;

	/* Target info (2.2.2.1): our names and the current time.  The timestamp
	 * tells NTLMv2 clients they may (and modern ones must) send a MIC. */
	struct wbuf ti;
	wbuf_init(&ti, 256);
	const char *dot = strchr(s->dns_name, '.');
	ntlmssp_av_add_str(&ti, MSV_AV_NB_DOMAIN_NAME, s->domain);
	ntlmssp_av_add_str(&ti, MSV_AV_NB_COMPUTER_NAME, s->netbios_name);
	ntlmssp_av_add_str(&ti, MSV_AV_DNS_DOMAIN_NAME, dot ? dot + 1 : s->domain);
	ntlmssp_av_add_str(&ti, MSV_AV_DNS_COMPUTER_NAME, s->dns_name);
	uint8_t ts[8];
	put_le64(ts, filetime_now());
	ntlmssp_av_add(&ti, MSV_AV_TIMESTAMP, ts, 8);
	ntlmssp_av_add(&ti, MSV_AV_EOL, NULL, 0);

	struct wbuf tname;
	wbuf_init(&tname, 64);
	uint32_t flags = answer_flags(neg.flags);
	if (flags & NTLMSSP_NEGOTIATE_UNICODE) {
		if (utf8_to_utf16le(&tname, s->netbios_name, strlen(s->netbios_name)) < 0) tname.err = true;
	} else {
		wbuf_bytes(&tname, s->netbios_name, strlen(s->netbios_name));
	}

	struct ntlmssp_challenge_msg ch = {
		.flags = flags,
		.target_name = { tname.p, tname.len },
		.target_info = { ti.p, ti.len },
		.has_version = (flags & NTLMSSP_NEGOTIATE_VERSION) != 0,
		/* Version (2.2.2.10): 10.0 build 20348, NTLMSSP revision 15. */
		.version = { 10, 0, 0x7C, 0x4F, 0, 0, 0, 0x0F },
	};
	memcpy(ch.server_challenge, s->server_challenge, 8);

	uint32_t status = STATUS_MORE_PROCESSING_REQUIRED;
	size_t start = out->len;
	if (ti.err || tname.err) {
		status = STATUS_NO_MEMORY;
	} else {
		ntlmssp_encode_challenge(out, &ch);
		if (out->err) status = STATUS_NO_MEMORY;
	}
	if (status == STATUS_MORE_PROCESSING_REQUIRED) {
		free(s->negotiate_msg);
		free(s->challenge_msg);
		s->negotiate_msg = memdup(in, inlen);
		s->negotiate_len = inlen;
		s->challenge_len = out->len - start;
		s->challenge_msg = memdup(out->p + start, s->challenge_len);
		if (!s->negotiate_msg || !s->challenge_msg) status = STATUS_NO_MEMORY;
		s->challenge_flags = flags;
		s->state = ST_WANT_AUTHENTICATE;
	}
	wbuf_free(&ti);
	wbuf_free(&tname);
	return status;
}

/* Strings in AUTHENTICATE are UTF-16LE when UNICODE was negotiated, else OEM
 * (we accept 7-bit ASCII only there).  Returns malloc'd UTF-8 or NULL. */
static char *field_to_utf8(const struct ntlmssp_blob *b, bool unicode)
{
	if (!b->len) return strdup("");
	if (unicode) return utf16le_to_utf8(b->p, b->len, NULL);
	char *s = malloc(b->len + 1);
	if (!s) return NULL;
	for (size_t i = 0; i < b->len; i++) {
		if (b->p[i] == 0 || b->p[i] >= 0x80) {
			free(s);
			return NULL;
		}
		s[i] = (char)b->p[i];
	}
	s[b->len] = 0;
	return s;
}

static void replace_str(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

/* Tries to verify the NTLMv2 response with the key of (user, domain).  On
 * success writes the session base key. */
static bool try_ntlmv2(const uint8_t nt_hash[16], const char *user, const char *domain,
		       const uint8_t server_challenge[8], const struct ntlmssp_blob *nt, uint8_t base_key[16])
{
	uint8_t key[16], proof[16];
	bool ok = false;
	if (ntlm_ntowfv2(nt_hash, user, domain, key) == 0 &&
	    ntlm_v2_proof(key, server_challenge, nt->p + 16, nt->len - 16, proof) == 0 &&
	    CRYPTO_memcmp(proof, nt->p, 16) == 0)
		ok = ntlm_v2_session_base_key(key, proof, base_key) == 0;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(proof, sizeof(proof));
	return ok;
}

static uint32_t handle_authenticate(struct ntlmssp_server *s, const uint8_t *in, size_t inlen,
				    ntlm_lookup_fn lookup, void *lookup_arg, bool allow_guest)
{
	struct ntlmssp_authenticate_msg am;
	if (ntlmssp_decode_authenticate(in, inlen, &am) != 0) return STATUS_INVALID_PARAMETER;

	bool unicode = (s->challenge_flags & NTLMSSP_NEGOTIATE_UNICODE) != 0;
	char *user = field_to_utf8(&am.user, unicode);
	char *domain = field_to_utf8(&am.domain, unicode);
	char *ws = field_to_utf8(&am.workstation, unicode);
	if (!user || !domain || !ws) {
		free(user);
		free(domain);
		free(ws);
		return STATUS_INVALID_PARAMETER;
	}
	replace_str(&s->user, user);
	replace_str(&s->user_domain, domain);
	replace_str(&s->workstation, ws);
	s->state = ST_DONE;

	/* Anonymous (3.2.5.1.2): empty user, empty NT response, and an LM
	 * response that is empty or a single zero byte. */
	if (am.user.len == 0 && am.nt_response.len == 0 &&
	    (am.lm_response.len == 0 || (am.lm_response.len == 1 && am.lm_response.p[0] == 0))) {
		s->anonymous = true;
		memset(s->session_key, 0, 16);
		log_debug("ntlmssp: anonymous logon from workstation '%s'", s->workstation);
		return STATUS_SUCCESS;
	}

	/* NTLMv2 only: NTProofStr (16) + blob header (28) at least, and the blob
	 * must announce version 1 (2.2.2.7).  24-byte NTLMv1 responses fail. */
	const struct ntlmssp_blob *nt = &am.nt_response;
	if (nt->len < 16 + NTLMV2_BLOB_FIXED || nt->p[16] != 1 || nt->p[17] != 1) {
		log_info("ntlmssp: rejecting non-NTLMv2 logon for '%s'", s->user);
		return STATUS_LOGON_FAILURE;
	}
	const uint8_t *client_av = nt->p + 16 + NTLMV2_BLOB_FIXED;
	size_t client_av_len = nt->len - 16 - NTLMV2_BLOB_FIXED;
	if (ntlmssp_av_validate(client_av, client_av_len) != 0) return STATUS_INVALID_PARAMETER;

	uint8_t nt_hash[16];
	if (lookup(lookup_arg, s->user, s->user_domain, nt_hash) != 0) {
		OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
		if (allow_guest) {
			s->guest = true;
			memset(s->session_key, 0, 16);
			log_info("ntlmssp: unknown user '%s', logged on as guest", s->user);
			return STATUS_SUCCESS;
		}
		log_info("ntlmssp: unknown user '%s'", s->user);
		return STATUS_LOGON_FAILURE;
	}

	/* The client computed NTOWFv2 with the domain it typed (which is what it
	 * sent); some clients leave the domain out of the hash, so try "" too. */
	uint8_t base_key[16];
	bool ok = try_ntlmv2(nt_hash, s->user, s->user_domain, s->server_challenge, nt, base_key);
	if (!ok && s->user_domain[0])
		ok = try_ntlmv2(nt_hash, s->user, "", s->server_challenge, nt, base_key);
	OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
	if (!ok) {
		log_info("ntlmssp: wrong password for '%s\\%s'", s->user_domain, s->user);
		return STATUS_LOGON_FAILURE;
	}

	/* KeyExchangeKey is the session base key for NTLMv2 (3.4.5.1).  With
	 * KEY_EXCH the client chose a random session key and sent it RC4-
	 * encrypted under that key (3.2.5.1.2). */
	uint8_t exported[16];
	uint32_t status = STATUS_SUCCESS;
	if ((s->challenge_flags & NTLMSSP_NEGOTIATE_KEY_EXCH) && (am.flags & NTLMSSP_NEGOTIATE_KEY_EXCH)) {
		if (am.encrypted_session_key.len != 16 ||
		    crypto_rc4(base_key, 16, am.encrypted_session_key.p, 16, exported) != 0)
			status = STATUS_INVALID_PARAMETER;
	} else {
		memcpy(exported, base_key, 16);
	}

	/* MIC (3.2.5.1.2): present when the client's MsvAvFlags says so. */
	struct ntlmssp_blob av_flags;
	if (status == STATUS_SUCCESS && ntlmssp_av_find(client_av, client_av_len, MSV_AV_FLAGS, &av_flags)) {
		if (av_flags.len != 4) {
			status = STATUS_INVALID_PARAMETER;
		} else if (get_le32(av_flags.p) & MSV_AV_FLAG_MIC_PRESENT) {
			uint8_t mic[16];
			if (!am.has_mic_field ||
			    ntlm_mic(exported, s->negotiate_msg, s->negotiate_len, s->challenge_msg, s->challenge_len,
				     in, inlen, NTLMSSP_AUTH_MIC_OFFSET, mic) != 0 ||
			    CRYPTO_memcmp(mic, am.mic, 16) != 0) {
				log_info("ntlmssp: MIC check failed for '%s\\%s'", s->user_domain, s->user);
				status = STATUS_LOGON_FAILURE;
			}
			OPENSSL_cleanse(mic, sizeof(mic));
			s->ntlm_mic_present = true;
		}
	}

	if (status == STATUS_SUCCESS) {
		memcpy(s->session_key, exported, 16);
		/* Keys for GSS_GetMIC/VerifyMIC (3.4.4): both sides use the flags
		 * they agreed on.  Without extended session security there is no
		 * session security here; mechListMIC then cannot be offered. */
		s->negotiated_flags = s->challenge_flags & am.flags;
		ntlm_sec_free(&s->sec);
		if (ntlm_sec_init(&s->sec, s->negotiated_flags, exported, false) != 0)
			log_debug("ntlmssp: no session security for '%s\\%s' (flags %#x)", s->user_domain, s->user,
				  s->negotiated_flags);
		log_debug("ntlmssp: '%s\\%s' authenticated", s->user_domain, s->user);
	}
	OPENSSL_cleanse(exported, sizeof(exported));
	OPENSSL_cleanse(base_key, sizeof(base_key));
	return status;
}

uint32_t ntlmssp_server_step(struct ntlmssp_server *s, const uint8_t *in, size_t inlen, struct wbuf *out,
			     ntlm_lookup_fn lookup, void *lookup_arg, bool allow_guest)
{
	if (!s || !in) return STATUS_INVALID_PARAMETER;
	uint32_t type = ntlmssp_message_type(in, inlen);
	if (type == NTLMSSP_NEGOTIATE && s->state == ST_WANT_NEGOTIATE) return handle_negotiate(s, in, inlen, out);
	if (type == NTLMSSP_AUTHENTICATE && s->state == ST_WANT_AUTHENTICATE) {
		if (!lookup) return STATUS_INVALID_PARAMETER;
		return handle_authenticate(s, in, inlen, lookup, lookup_arg, allow_guest);
	}
	return STATUS_INVALID_PARAMETER;
}

/* ---- Session security for SPNEGO's mechListMIC (MS-SPNG 3.3.5.1) ---- */

int ntlmssp_server_set_mech_types(struct ntlmssp_server *s, const uint8_t *der, size_t len)
{
	if (!s || (!der && len)) return -1;
	uint8_t *copy = memdup(der, len);
	if (!copy) return -1;
	free(s->mech_types);
	s->mech_types = copy;
	s->mech_types_len = len;
	return 0;
}

const uint8_t *ntlmssp_server_mech_types(const struct ntlmssp_server *s, size_t *len)
{
	*len = s->mech_types ? s->mech_types_len : 0;
	return s->mech_types;
}

bool ntlmssp_server_has_session_security(const struct ntlmssp_server *s)
{
	return s->state == ST_DONE && s->sec.ready && !s->anonymous && !s->guest;
}

bool ntlmssp_server_signing_negotiated(const struct ntlmssp_server *s)
{
	return ntlmssp_server_has_session_security(s) &&
	       ((s->negotiated_flags & NTLMSSP_NEGOTIATE_SIGN) || s->ntlm_mic_present);
}

uint32_t ntlmssp_server_negotiated_flags(const struct ntlmssp_server *s) { return s->negotiated_flags; }

int ntlmssp_server_verify_mic(struct ntlmssp_server *s, const uint8_t *msg, size_t len, const uint8_t *sig,
			      size_t siglen)
{
	if (!s || !ntlmssp_server_has_session_security(s)) return -1;
	return ntlm_sec_verify(&s->sec, msg, len, sig, siglen);
}

int ntlmssp_server_make_mic(struct ntlmssp_server *s, const uint8_t *msg, size_t len, uint8_t sig[16])
{
	if (!s || !ntlmssp_server_has_session_security(s)) return -1;
	return ntlm_sec_sign(&s->sec, msg, len, sig);
}
