/* Access policy (access.c, config.c): who may connect from where, who may
 * use a share and how, and the back-off on repeated failed logins.
 *
 * Options and their meaning are documented in docs/configuration.md:
 *   [global] hosts allow / hosts deny      checked when a connection is accepted
 *   [share]  hosts allow / hosts deny      checked at TREE_CONNECT
 *   [share]  valid users / invalid users   who may connect to the share
 *   [share]  read list / write list        per-user read-only / writable override
 *   [global] login failure limit / login failure window / login failure backoff
 */
#ifndef SMBKIT_SERVER_ACCESS_H
#define SMBKIT_SERVER_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct smbd_config;
struct smbd_share;
struct smbd_session;

/* ---------------------------------------------------------- host lists */

/* A parsed "hosts allow" / "hosts deny" value (Samba syntax, numeric only):
 * IPv4 / IPv6 addresses, ADDR/LEN, IPv4 ADDR/MASK, "a.b.c." prefixes,
 * ALL, localhost, and "LIST EXCEPT LIST". */
struct host_acl;

/* Returns the parsed list, or NULL with a message in msg. */
struct host_acl *host_acl_parse(const char *value, char *msg, size_t msglen);
void host_acl_free(struct host_acl *acl);
/* Does the address match the list?  IPv4-mapped IPv6 addresses are matched
 * as IPv4. */
bool host_acl_match(const struct host_acl *acl, const struct sockaddr_storage *peer);
/* Samba's combination of the two lists (either may be NULL); see
 * docs/configuration.md.  Loopback (127.0.0.1, ::1) is allowed unless the
 * deny list names it and the allow list does not. */
bool host_allowed(const struct host_acl *allow, const struct host_acl *deny, const struct sockaddr_storage *peer);

/* ---------------------------------------------------------- user lists */

/* Does a user list ("alice, @staff, +wheel") name this user?  user is the
 * SMB user name, unix_name the Unix account it runs as; a plain entry
 * matches either (case-insensitively), "@group"/"+group" match members of
 * the Unix group (primary group or supplementary, via getgrouplist). */
bool access_user_in_list(char *const *list, const char *user, const char *unix_name);

/* ------------------------------------------------ config (config.c) */

/* Global "hosts allow/deny" for a new connection from peer. */
bool config_host_allowed(const struct smbd_config *c, const struct sockaddr_storage *peer);

/* Decides whether session s (connected from peer) may connect to sh, and
 * whether read-only: STATUS_SUCCESS with *read_only set, or
 * STATUS_ACCESS_DENIED with the reason in why. */
uint32_t config_share_access(const struct smbd_config *c, const struct smbd_share *sh,
			     const struct smbd_session *s, const struct sockaddr_storage *peer, bool *read_only,
			     char *why, size_t whylen);

/* "login failure limit" / "login failure window" / "login failure backoff". */
void config_login_backoff(const struct smbd_config *c, unsigned *limit, unsigned *window, unsigned *backoff);

/* ------------------------------------------- failed-login back-off */

/* Before authenticating a SESSION_SETUP from peer: 0 when allowed, else the
 * number of seconds the address stays blocked. */
unsigned login_backoff_blocked(const struct smbd_config *c, const struct sockaddr_storage *peer);
/* After an authentication from peer failed (true) or succeeded (false).
 * Returns the seconds of a block that this failure started, else 0. */
unsigned login_backoff_record(const struct smbd_config *c, const struct sockaddr_storage *peer, bool failed);

#endif
