/* Kerberos acceptor for SMB2 SESSION_SETUP: the krb5 GSS-API mechanism
 * (RFC 4121) of MIT krb5, inside SPNEGO (RFC 4178, MS-SPNG).
 *
 * The server never talks to a KDC: a client's AP-REQ is decrypted with the
 * service key from a keytab (cifs/HOST@REALM), so accepting is a local,
 * non-blocking computation apart from reading the keytab file.
 *
 * One struct krb5_server is one acceptance: create it, feed the client's
 * mechanism token once, read the results, free it. */
#ifndef SMBKIT_AUTH_KRB5_SERVER_H
#define SMBKIT_AUTH_KRB5_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct krb5_server;

/* ---- pure helpers (no GSS-API calls; unit-tested) ---- */

/* True when token is a krb5 GSS-API InitialContextToken (RFC 2743 3.1,
 * RFC 4121 4.1): [APPLICATION 0] { OID 1.2.840.113554.1.2.2, or the
 * Microsoft variant 1.2.840.48018.1.2.2, ... }.  This is how the mechanism
 * of the client's optimistic token is recognised, whatever the order of
 * its SPNEGO mechTypes. */
bool krb5_token_is_ap_req(const uint8_t *token, size_t len);

/* Maps a client principal to the SMB user name it authenticates.  The rule
 * (docs/configuration.md, "Kerberos"): the principal must be exactly
 * "name@REALM" with REALM equal to realm (case-sensitive, as Kerberos realms
 * are), a single name component (no instance: "alice/admin@R" is a
 * different principal from "alice@R" and is refused) and no escaped
 * characters.  Writes name to user and returns 0, or returns -1. */
int krb5_principal_to_user(const char *principal, const char *realm, char *user, size_t userlen);

/* True when principal (as displayed by GSS-API) is "service/HOST@realm" for
 * any HOST: the ticket was issued for this kind of service in this realm. */
bool krb5_principal_is_service(const char *principal, const char *service, const char *realm);

/* True when path names a regular file this process can read. */
bool krb5_keytab_usable(const char *path);

/* ---- acceptance ---- */

/* keytab: path of the keytab holding the service keys.  NULL on ENOMEM. */
struct krb5_server *krb5_server_new(const char *keytab);
void krb5_server_free(struct krb5_server *k);

/* Accepts the client's krb5 token (the SPNEGO mechToken, an AP-REQ).
 * Returns STATUS_SUCCESS and appends the reply token (the AP-REP of mutual
 * authentication; nothing when the client did not ask for it) to out, or
 * STATUS_LOGON_FAILURE (bad, expired, replayed or foreign ticket, keytab
 * problems; the reason is logged).  Multi-leg exchanges (DCE style,
 * user-to-user) are not supported and fail. */
uint32_t krb5_server_accept(struct krb5_server *k, const uint8_t *token, size_t len, struct wbuf *out);

/* After SUCCESS: the client and service principals as displayed by GSS-API
 * ("alice@REALM", "cifs/host@REALM"). */
const char *krb5_server_client_principal(const struct krb5_server *k);
const char *krb5_server_service_principal(const struct krb5_server *k);
/* After SUCCESS: the context's session key (GSS_C_INQ_SSPI_SESSION_KEY;
 * the subkey of the authenticator or AP-REP when there is one), 16 or 32
 * bytes for the AES and RC4 enctypes.  The caller takes the first 16 as
 * Session.SessionKey and the whole as FullSessionKey (MS-SMB2 3.3.5.5.3). */
const uint8_t *krb5_server_session_key(const struct krb5_server *k, size_t *len);

/* SPNEGO mechListMIC (RFC 4178 5) with the established context:
 * GSS_VerifyMIC of the client's token over msg (0 valid, -1 not) and
 * GSS_GetMIC over msg appended to out (0, or -1). */
int krb5_server_verify_mic(struct krb5_server *k, const uint8_t *msg, size_t len, const uint8_t *mic,
			   size_t mic_len);
int krb5_server_make_mic(struct krb5_server *k, const uint8_t *msg, size_t len, struct wbuf *out);

#endif
