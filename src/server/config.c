/* Server configuration: defaults, the smb.conf-style file, "--share NAME=PATH"
 * arguments, and the finalize step that opens share roots and loads users.
 *
 * A config is immutable once finalized and shared by reference: the server
 * holds one reference and every connection takes a snapshot reference at
 * accept, so a reload can swap server->cfg without disturbing connections
 * that are still using the old one.  Shares are counted separately because a
 * tree connect may outlive the config snapshot it was made from.
 *
 * File syntax follows Samba's smb.conf where the two overlap, so that an
 * administrator can carry a simple Samba configuration over.  Everything
 * this server does not understand is an error naming FILE:LINE rather than
 * being ignored: silently dropping "hosts allow" or "valid users" would leave
 * the admin believing in protection that is not there.
 * docs/configuration.md is the reference for every key accepted here.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/krb5_server.h"
#include "common/utf16.h"
#include "server/access.h"
#include "server/access_enum.h"

#define NETBIOS_NAME_MAX 15
#define DEFAULT_PORT 445
#define MAX_IO_SIZE_DEFAULT (8u * 1024 * 1024)

/* Every share is allocated inside this wrapper so config.c can remember
 * facts that server.h does not publish: where the share came from (the
 * guest rule differs for command-line shares) and which line defined it. */
struct share_entry {
	struct smbd_share share;
	bool from_cmdline;   /* guest_ok follows map_guest at finalize */
	bool guest_ok_set;   /* "guest ok" given explicitly in its section */
	unsigned line;       /* section header line in the config file */
	/* Access policy (access.h); NULL = not set. */
	char **invalid_users;
	char **read_list;
	char **write_list;
	struct host_acl *hosts_allow;
	struct host_acl *hosts_deny;
	/* "access based enumeration" (access_enum.h). */
	bool access_based_enum;
};

/* The config is allocated inside this wrapper for the same reason: the
 * global access policy is not part of server.h's struct. */
struct config_entry {
	struct smbd_config config;
	struct host_acl *hosts_allow;     /* [global] hosts allow; NULL = not set */
	struct host_acl *hosts_deny;
	unsigned login_failure_limit;     /* 0 = no back-off */
	unsigned login_failure_window;    /* seconds in which the failures count */
	unsigned login_failure_backoff;   /* first block, seconds; doubles per block */
};

#define LOGIN_FAILURE_LIMIT_DEFAULT 5
#define LOGIN_FAILURE_WINDOW_DEFAULT 300
#define LOGIN_FAILURE_BACKOFF_DEFAULT 30

static struct config_entry *cfg_entry(const struct smbd_config *c)
{
	return container_of((struct smbd_config *)c, struct config_entry, config);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void free_strv(char **v)
{
	if (!v) return;
	for (char **p = v; *p; p++) free(*p);
	free(v);
}

/* Appends s (copied) to a NULL-terminated vector.  Returns 0 or -1. */
static int strv_append(char ***v, const char *s)
{
	size_t n = 0;
	if (*v) while ((*v)[n]) n++;
	char *copy = strdup(s);
	if (!copy) return -1;
	char **nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) { free(copy); return -1; }
	nv[n] = copy;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

/* Replaces *dst with a copy of s.  Returns 0 or -1. */
static int set_str(char **dst, const char *s)
{
	char *copy = strdup(s);
	if (!copy) return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

/* ------------------------------------------------------------------ shares */

void share_get(struct smbd_share *s)
{
	atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
}

void share_put(struct smbd_share *s)
{
	if (!s) return;
	if (atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) != 1) return;
	/* Final release: only close() and free(), which never sleep on a lock a
	 * caller could hold, so this is safe from any context (DESIGN.md). */
	struct share_entry *e = container_of(s, struct share_entry, share);
	if (s->root_fd >= 0) close(s->root_fd);
	free(s->name);
	free(s->path);
	free(s->comment);
	free_strv(s->valid_users);
	free_strv(e->invalid_users);
	free_strv(e->read_list);
	free_strv(e->write_list);
	host_acl_free(e->hosts_allow);
	host_acl_free(e->hosts_deny);
	free(e);
}

static struct share_entry *share_new(const char *name)
{
	struct share_entry *e = calloc(1, sizeof(*e));
	if (!e) return NULL;
	struct smbd_share *s = &e->share;
	atomic_init(&s->refcount, 1);
	s->root_fd = -1;
	s->name = strdup(name);
	if (!s->name) { free(e); return NULL; }
	/* Samba's defaults for a share defined in a file. */
	s->read_only = true;
	s->browseable = true;
	s->case_sensitive = false;
	return e;
}

static struct smbd_share *find_share_nolock(const struct smbd_config *c, const char *name)
{
	for (size_t i = 0; i < c->nshares; i++)
		if (utf8_casecmp(c->shares[i]->name, name) == 0) return c->shares[i];
	return NULL;
}

/* Takes over the caller's reference to s. */
static int config_append_share(struct smbd_config *c, struct smbd_share *s)
{
	struct smbd_share **ns = realloc(c->shares, (c->nshares + 1) * sizeof(*ns));
	if (!ns) return -1;
	c->shares = ns;
	c->shares[c->nshares++] = s;
	return 0;
}

/* Share names travel as UTF-16 in TREE_CONNECT paths (\\server\share) and in
 * NetShareEnum; characters that Windows forbids in share names would make a
 * share unreachable or ambiguous, so refuse them at load time. */
static const char *share_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len == 0) return "share name is empty";
	if (len > 80) return "share name is longer than 80 bytes";
	if (utf8_utf16_size(name, len) < 0) return "share name is not valid UTF-8";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || strchr("\\/:*?\"<>|[]+=;,", *p))
			return "share name contains a character Windows does not allow (\\ / : * ? \" < > | [ ] + = ; ,)";
	}
	if (strcasecmp(name, "IPC$") == 0) return "IPC$ is reserved (the server adds it)";
	return NULL;
}

/* ------------------------------------------------------------------ config */

struct smbd_config *config_new_default(void)
{
	struct config_entry *ce = calloc(1, sizeof(*ce));
	if (!ce) return NULL;
	struct smbd_config *c = &ce->config;
	atomic_init(&c->refcount, 1);
	ce->login_failure_limit = LOGIN_FAILURE_LIMIT_DEFAULT;
	ce->login_failure_window = LOGIN_FAILURE_WINDOW_DEFAULT;
	ce->login_failure_backoff = LOGIN_FAILURE_BACKOFF_DEFAULT;

	/* NetBIOS names are at most 15 characters (the 16th byte is the
	 * suffix type) and conventionally upper case. */
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
	host[sizeof(host) - 1] = 0;
	char *dot = strchr(host, '.');
	if (dot) *dot = 0;
	host[NETBIOS_NAME_MAX] = 0;
	for (char *p = host; *p; p++) *p = (char)toupper((unsigned char)*p);
	if (!host[0]) strcpy(host, "SMBKIT");

	c->netbios_name = strdup(host);
	c->workgroup = strdup("WORKGROUP");
	c->server_string = strdup("smbkit");
	c->guest_account = strdup("nobody");
	c->krb5_keytab = strdup("/etc/krb5.keytab");
	c->signing_required = false;
	c->encrypt = SMBD_ENCRYPT_IF_REQUIRED;
	/* Samba's default preference: GCM before CCM (faster), 128 before 256. */
	c->ciphers[0] = SMB2_ENCRYPTION_AES128_GCM;
	c->ciphers[1] = SMB2_ENCRYPTION_AES128_CCM;
	c->ciphers[2] = SMB2_ENCRYPTION_AES256_GCM;
	c->ciphers[3] = SMB2_ENCRYPTION_AES256_CCM;
	c->nciphers = 4;
	c->max_connections = 1024;
	c->max_sessions_per_conn = 64;
	c->max_opens_per_conn = 16384;
	c->max_io_size = MAX_IO_SIZE_DEFAULT;
	c->busy_poll_us = 200;
	c->log_level = LOG_LVL_INFO;
	c->listen = NULL;
	if (!c->netbios_name || !c->workgroup || !c->server_string || !c->guest_account || !c->krb5_keytab) {
		config_put(c);
		return NULL;
	}
	return c;
}

void config_get(struct smbd_config *c)
{
	atomic_fetch_add_explicit(&c->refcount, 1, memory_order_relaxed);
}

void config_put(struct smbd_config *c)
{
	if (!c) return;
	if (atomic_fetch_sub_explicit(&c->refcount, 1, memory_order_acq_rel) != 1) return;
	for (size_t i = 0; i < c->nshares; i++) share_put(c->shares[i]);
	free(c->shares);
	userdb_free(c->users, c->nusers);
	free(c->source);
	free(c->netbios_name);
	free(c->workgroup);
	free(c->server_string);
	free(c->users_file);
	free(c->guest_account);
	free(c->krb5_keytab);
	free(c->realm);
	free(c->state_dir);
	free_strv(c->listen);
	struct config_entry *ce = cfg_entry(c);
	host_acl_free(ce->hosts_allow);
	host_acl_free(ce->hosts_deny);
	free(ce);
}

struct smbd_share *config_find_share(struct smbd_config *c, const char *name)
{
	struct smbd_share *s = find_share_nolock(c, name);
	if (s) share_get(s);
	return s;
}

const struct smbd_user *config_find_user(const struct smbd_config *c, const char *name)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (utf8_casecmp(c->users[i].name, name) == 0) return &c->users[i];
	return NULL;
}

/* ----------------------------------------------------------- value parsers */

/* Samba's boolean spellings.  Returns 0/1, or -1 if s is not a boolean. */
static int parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) return 1;
		if (!strcasecmp(s, no[i])) return 0;
	}
	return -1;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	if (!*s || !isdigit((unsigned char)*s)) return -1;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max) return -1;
	*out = v;
	return 0;
}

/* Checks one listen address and appends its normalized "ADDR:PORT" form.
 * Accepted: "1.2.3.4:445", "[::1]:445", and either form without ":PORT"
 * (port 445).  Only numeric addresses: a host name would make startup depend
 * on the resolver. */
static int listen_add(char ***v, const char *item, char *msg, size_t msglen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *port_str = NULL;
	bool v6 = false;
	if (item[0] == '[') {
		const char *close_br = strchr(item, ']');
		if (!close_br || (size_t)(close_br - item - 1) >= sizeof(addr)) {
			snprintf(msg, msglen, "listen: bad address '%s' (IPv6 is written [ADDR]:PORT)", item);
			return -1;
		}
		memcpy(addr, item + 1, (size_t)(close_br - item - 1));
		addr[close_br - item - 1] = 0;
		if (close_br[1] == ':') port_str = close_br + 2;
		else if (close_br[1]) {
			snprintf(msg, msglen, "listen: bad address '%s'", item);
			return -1;
		}
		v6 = true;
	} else {
		const char *colon = strchr(item, ':');
		if (colon && strchr(colon + 1, ':')) {
			snprintf(msg, msglen, "listen: IPv6 address '%s' must be written [ADDR]:PORT", item);
			return -1;
		}
		size_t alen = colon ? (size_t)(colon - item) : strlen(item);
		if (alen >= sizeof(addr)) {
			snprintf(msg, msglen, "listen: bad address '%s'", item);
			return -1;
		}
		memcpy(addr, item, alen);
		addr[alen] = 0;
		if (colon) port_str = colon + 1;
	}
	unsigned char bin[16];
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
		snprintf(msg, msglen, "listen: '%s' is not a numeric %s address", addr, v6 ? "IPv6" : "IPv4");
		return -1;
	}
	unsigned long port = DEFAULT_PORT;
	if (port_str && parse_uint(port_str, 1, 65535, &port) != 0) {
		snprintf(msg, msglen, "listen: bad port in '%s' (1-65535)", item);
		return -1;
	}
	char norm[INET6_ADDRSTRLEN + 16];
	snprintf(norm, sizeof(norm), v6 ? "[%s]:%lu" : "%s:%lu", addr, port);
	if (strv_append(v, norm) != 0) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	return 0;
}

/* Splits a space/comma separated list and calls fn for each item. */
static int for_each_item(const char *list, int (*fn)(void *arg, const char *item, char *msg, size_t msglen),
			 void *arg, char *msg, size_t msglen)
{
	char *copy = strdup(list);
	if (!copy) { snprintf(msg, msglen, "out of memory"); return -1; }
	char *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		if ((rc = fn(arg, tok, msg, msglen)) != 0) break;
	}
	free(copy);
	return rc;
}

static int listen_item(void *arg, const char *item, char *msg, size_t msglen)
{
	return listen_add(arg, item, msg, msglen);
}

/* One entry of "valid users", "invalid users", "read list", "write list".
 * "@group" and "+group" name Unix groups (resolved at tree connect with
 * getgrnam/getgrouplist, so group changes apply without a reload); Samba's
 * "&group" (NIS netgroups only) is refused: there is no NIS here, and
 * treating it as a user name would silently match nobody. */
static int valid_user_item(void *arg, const char *item, char *msg, size_t msglen)
{
	if (item[0] == '&' || ((item[0] == '@' || item[0] == '+') && !item[1]) ||
	    (item[0] == '+' && item[1] == '&') || (item[0] == '&' && item[1] == '+')) {
		snprintf(msg, msglen, "user list: '%s' is not supported (use @group or +group for Unix groups)", item);
		return -1;
	}
	if (strv_append(arg, item) != 0) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	return 0;
}

/* "server smb encrypt" values as Samba spells them.  Returns 0 or -1. */
static int parse_encrypt(const char *s, enum smbd_encrypt *out)
{
	static const struct { const char *name; enum smbd_encrypt level; } names[] = {
		{ "off", SMBD_ENCRYPT_OFF }, { "no", SMBD_ENCRYPT_OFF }, { "false", SMBD_ENCRYPT_OFF },
		{ "disabled", SMBD_ENCRYPT_OFF },
		{ "default", SMBD_ENCRYPT_IF_REQUIRED }, { "if_required", SMBD_ENCRYPT_IF_REQUIRED },
		{ "auto", SMBD_ENCRYPT_IF_REQUIRED },
		{ "desired", SMBD_ENCRYPT_DESIRED },
		{ "required", SMBD_ENCRYPT_REQUIRED }, { "mandatory", SMBD_ENCRYPT_REQUIRED },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name)) { *out = names[i].level; return 0; }
	return -1;
}

static const struct { const char *name; uint16_t id; } cipher_names[] = {
	{ "AES-128-CCM", SMB2_ENCRYPTION_AES128_CCM }, { "AES-128-GCM", SMB2_ENCRYPTION_AES128_GCM },
	{ "AES-256-CCM", SMB2_ENCRYPTION_AES256_CCM }, { "AES-256-GCM", SMB2_ENCRYPTION_AES256_GCM },
};

struct cipher_list { uint16_t ids[4]; unsigned n; bool removal; bool addition; };

/* One item of "server smb3 encryption algorithms": a name adds it (in
 * preference order), "-NAME" removes it from the default list, as in
 * Samba.  The two forms cannot be mixed. */
static int cipher_item(void *arg, const char *item, char *msg, size_t msglen)
{
	struct cipher_list *l = arg;
	bool remove = item[0] == '-';
	const char *name = remove ? item + 1 : item;
	uint16_t id = 0;
	for (size_t i = 0; i < sizeof(cipher_names) / sizeof(cipher_names[0]); i++)
		if (!strcasecmp(name, cipher_names[i].name)) id = cipher_names[i].id;
	if (!id) {
		snprintf(msg, msglen, "'server smb3 encryption algorithms': unknown algorithm '%s' "
			 "(AES-128-CCM, AES-128-GCM, AES-256-CCM, AES-256-GCM)", name);
		return -1;
	}
	if (remove ? l->addition : l->removal) {
		snprintf(msg, msglen, "'server smb3 encryption algorithms': list either algorithms or -removals, not both");
		return -1;
	}
	if (remove) {
		l->removal = true;
		for (unsigned i = 0; i < l->n; i++) {
			if (l->ids[i] != id) continue;
			memmove(&l->ids[i], &l->ids[i + 1], (l->n - i - 1) * sizeof(l->ids[0]));
			l->n--;
			break;
		}
		return 0;
	}
	l->addition = true;
	for (unsigned i = 0; i < l->n; i++)
		if (l->ids[i] == id) return 0;   /* repeated: first position wins */
	l->ids[l->n++] = id;
	return 0;
}

/* -------------------------------------------------------------- ini parser */

enum section_kind { SECTION_NONE, SECTION_GLOBAL, SECTION_SHARE };

struct parse_ctx {
	struct smbd_config *c;
	const char *path;
	FILE *f;
	unsigned line;              /* line most recently handed to inih */
	char *linebuf; size_t linecap;
	enum section_kind kind;
	struct share_entry *share;  /* current share section, owned by c->shares */
	bool global_guest_ok;       /* [global] "guest ok": default for file shares */
	char err[512];              /* first error, "FILE:LINE: message" */
	bool failed;
};

static void ctx_fail(struct parse_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctx_fail(struct parse_ctx *x, const char *fmt, ...)
{
	if (x->failed) return;   /* keep the first error: later ones are often consequences */
	x->failed = true;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, sizeof(x->err), "%s:%u: %s", x->path, x->line, msg);
}

/* Validates the share section that just ended. */
static void section_end(struct parse_ctx *x)
{
	if (x->kind == SECTION_SHARE && x->share && !x->failed) {
		struct smbd_share *s = &x->share->share;
		if (!s->path) {
			unsigned cur = x->line;
			x->line = x->share->line;
			ctx_fail(x, "share [%s] has no 'path'", s->name);
			x->line = cur;
		}
	}
	x->kind = SECTION_NONE;
	x->share = NULL;
}

static void section_begin(struct parse_ctx *x, const char *name)
{
	section_end(x);
	if (x->failed) return;
	if (!strcasecmp(name, "global")) {
		x->kind = SECTION_GLOBAL;   /* Samba allows [global] more than once */
		return;
	}
	if (!strcasecmp(name, "homes") || !strcasecmp(name, "printers") || !strcasecmp(name, "print$")) {
		ctx_fail(x, "special section [%s] is not supported", name);
		return;
	}
	const char *problem = share_name_problem(name);
	if (problem) {
		ctx_fail(x, "[%s]: %s", name, problem);
		return;
	}
	struct smbd_share *dup = find_share_nolock(x->c, name);
	if (dup) {
		struct share_entry *de = container_of(dup, struct share_entry, share);
		ctx_fail(x, "duplicate share [%s] (first defined at line %u)", name, de->line);
		return;
	}
	struct share_entry *e = share_new(name);
	if (!e || config_append_share(x->c, &e->share) != 0) {
		if (e) share_put(&e->share);
		ctx_fail(x, "out of memory");
		return;
	}
	e->line = x->line;
	x->kind = SECTION_SHARE;
	x->share = e;
}

/* inih reads through this fgets-style reader, which lets us
 *  - count lines ourselves, since the packaged inih is built without
 *    handler line numbers;
 *  - see section headers, including sections that contain no keys (inih
 *    reports only key=value pairs);
 *  - strip leading blanks: smb.conf files are indented by convention, and
 *    inih would take every indented line after a key as a continuation of
 *    that key's value (Python configparser style);
 *  - refuse over-long lines instead of letting inih's fixed-size buffer
 *    split them into two bogus lines. */
static char *ini_reader_fn(char *str, int num, void *stream)
{
	struct parse_ctx *x = stream;
	if (x->failed) return NULL;   /* stop reading after the first error */
	ssize_t n = getline(&x->linebuf, &x->linecap, x->f);
	if (n < 0) {
		section_end(x);          /* validate the last section */
		return NULL;
	}
	x->line++;
	const char *p = x->linebuf;
	/* Editors on Windows like to start files with a UTF-8 byte order mark. */
	if (x->line == 1 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
	while (*p == ' ' || *p == '\t') p++;
	size_t len = (size_t)n - (size_t)(p - x->linebuf);
	/* Room for the line, its newline and the terminator. */
	size_t body = len;
	if (body && p[body - 1] == '\n') body--;
	if (body && p[body - 1] == '\r') body--;
	if (body + 2 > (size_t)num) {
		ctx_fail(x, "line is too long (at most %d characters; repeat 'valid users' to split a long list)",
			 num - 2);
		return NULL;
	}
	if (body && p[body - 1] == '\\' && *p != '#' && *p != ';') {
		ctx_fail(x, "line continuation with '\\' is not supported; repeat 'valid users' to split a long list");
		return NULL;
	}
	memcpy(str, p, len);
	str[len] = 0;

	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (end) {
			char name[256];
			const char *b = p + 1;
			while (b < end && isspace((unsigned char)*b)) b++;
			const char *e = end;
			while (e > b && isspace((unsigned char)e[-1])) e--;
			size_t nlen = (size_t)(e - b);
			if (nlen >= sizeof(name)) {
				ctx_fail(x, "section name is too long");
				return NULL;
			}
			memcpy(name, b, nlen);
			name[nlen] = 0;
			section_begin(x, name);
		}
		/* no ']': inih reports the syntax error at this line */
	}
	return str;
}

/* Normalizes a key the way Samba compares parameter names: case and
 * whitespace do not matter ("Read Only" == "readonly"). */
static void normalize_key(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *in && o + 1 < outlen; in++) {
		if (isspace((unsigned char)*in) || *in == '_') continue;
		out[o++] = (char)tolower((unsigned char)*in);
	}
	out[o] = 0;
}

/* Keys that Samba has and later smbkit issues will implement.  They are
 * refused rather than ignored: each of them promises a protection or a
 * behaviour that this version would silently not deliver. */
static const char *const not_yet_supported[] = {
	"adminusers", "forceuser", "forcegroup",
	"createmask", "createmode", "directorymask", "directorymode", "forcecreatemode",
	"forcedirectorymode", "vetofiles", "hidefiles", "oplocks", "leases", "smb2leases",
	"durablehandles", "strictlocking", "serverminprotocol",
	"servermaxprotocol", "minprotocol", "maxprotocol", "interfaces", "bindinterfacesonly",
	"smbports", "security", "passdbbackend", "smbpasswdfile", "storedosattributes",
	"eadsupport", "vfsobjects", "followsymlinks", "widelinks", "kernelsharemodes",
	NULL,
};

static bool is_not_yet_supported(const char *nkey)
{
	for (const char *const *k = not_yet_supported; *k; k++)
		if (!strcasecmp(nkey, *k)) return true;
	return false;
}

static bool want_bool(struct parse_ctx *x, const char *key, const char *value, bool *out)
{
	int b = parse_bool(value);
	if (b < 0) {
		ctx_fail(x, "'%s' needs yes/no/true/false/1/0, not '%s'", key, value);
		return false;
	}
	*out = b;
	return true;
}

static bool want_uint(struct parse_ctx *x, const char *key, const char *value, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	if (parse_uint(value, min, max, out) != 0) {
		ctx_fail(x, "'%s' needs a number from %lu to %lu, not '%s'", key, min, max, value);
		return false;
	}
	return true;
}

static void global_key(struct parse_ctx *x, const char *key, const char *nkey, const char *value)
{
	struct smbd_config *c = x->c;
	unsigned long n;
	bool b;
	char msg[300];

	if (!strcmp(nkey, "netbiosname")) {
		size_t len = strlen(value);
		if (len == 0 || len > NETBIOS_NAME_MAX) {
			ctx_fail(x, "'netbios name' must be 1 to %d characters", NETBIOS_NAME_MAX);
			return;
		}
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || strchr("\\/:*?\"<>|.", *p)) {
				ctx_fail(x, "'netbios name' may contain only ASCII letters, digits and - _ ! @ # $ %% ^ & ( ) ' { } ~");
				return;
			}
		}
		if (set_str(&c->netbios_name, value) != 0) { ctx_fail(x, "out of memory"); return; }
		for (char *p = c->netbios_name; *p; p++) *p = (char)toupper((unsigned char)*p);
	} else if (!strcmp(nkey, "workgroup")) {
		if (!*value || strlen(value) > NETBIOS_NAME_MAX) {
			ctx_fail(x, "'workgroup' must be 1 to %d characters", NETBIOS_NAME_MAX);
			return;
		}
		if (set_str(&c->workgroup, value) != 0) ctx_fail(x, "out of memory");
		else for (char *p = c->workgroup; *p; p++) *p = (char)toupper((unsigned char)*p);
	} else if (!strcmp(nkey, "serverstring")) {
		if (set_str(&c->server_string, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "usersfile")) {
		if (value[0] != '/') {
			ctx_fail(x, "'users file' must be an absolute path, not '%s'", value);
			return;
		}
		if (set_str(&c->users_file, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "guestaccount")) {
		if (!*value) { ctx_fail(x, "'guest account' is empty"); return; }
		if (set_str(&c->guest_account, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "kerberoskeytab")) {
		if (value[0] != '/') {
			ctx_fail(x, "'kerberos keytab' must be an absolute path, not '%s'", value);
			return;
		}
		if (set_str(&c->krb5_keytab, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "realm")) {
		/* Compared byte for byte with the realm of client principals
		 * (Kerberos realms are case-sensitive), so refuse what no
		 * principal display could end with. */
		if (!*value) { ctx_fail(x, "'realm' is empty"); return; }
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("@/\\:", *p)) {
				ctx_fail(x, "'realm' may not contain spaces, control characters, '@', '/', '\\' or ':'");
				return;
			}
		}
		if (set_str(&c->realm, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "maptoguest")) {
		if (!strcasecmp(value, "bad user") || !strcasecmp(value, "baduser")) c->map_guest = true;
		else if (!strcasecmp(value, "never")) c->map_guest = false;
		else if (!strcasecmp(value, "bad password") || !strcasecmp(value, "badpassword"))
			/* Mapping a wrong password of a real user to guest hides
			 * typing mistakes as mysterious permission problems. */
			ctx_fail(x, "'map to guest = bad password' is not supported; use 'bad user' or 'never'");
		else ctx_fail(x, "'map to guest' must be 'bad user' or 'never', not '%s'", value);
	} else if (!strcmp(nkey, "guestok") || !strcmp(nkey, "public")) {
		if (!want_bool(x, key, value, &b)) return;
		x->global_guest_ok = b;
		if (b) c->map_guest = true;
	} else if (!strcmp(nkey, "serversigning")) {
		/* SMB2 cannot switch signing off: "disabled" only means "not
		 * required", the client may still sign (MS-SMB2 3.3.5.4). */
		if (!strcasecmp(value, "mandatory") || !strcasecmp(value, "required")) c->signing_required = true;
		else if (!strcasecmp(value, "auto") || !strcasecmp(value, "disabled") ||
			 !strcasecmp(value, "if_required") || !strcasecmp(value, "default"))
			c->signing_required = false;
		else ctx_fail(x, "'server signing' must be mandatory, required, auto, if_required or disabled, not '%s'", value);
	} else if (!strcmp(nkey, "serversmbencrypt") || !strcmp(nkey, "smbencrypt")) {
		/* "smb encrypt" is the pre-4.17 Samba name of the same option. */
		if (parse_encrypt(value, &c->encrypt) != 0)
			ctx_fail(x, "'%s' must be off, if_required, desired or required, not '%s'", key, value);
	} else if (!strcmp(nkey, "serversmb3encryptionalgorithms")) {
		struct cipher_list l = { .n = 4 };
		l.ids[0] = SMB2_ENCRYPTION_AES128_GCM;
		l.ids[1] = SMB2_ENCRYPTION_AES128_CCM;
		l.ids[2] = SMB2_ENCRYPTION_AES256_GCM;
		l.ids[3] = SMB2_ENCRYPTION_AES256_CCM;
		/* A list of names replaces the default: start empty once the
		 * first non-removal item is seen. */
		const char *p = value;
		while (*p == ' ' || *p == '\t' || *p == ',') p++;
		if (*p && *p != '-') l.n = 0;
		if (for_each_item(value, cipher_item, &l, msg, sizeof(msg)) != 0) {
			ctx_fail(x, "%s", msg);
			return;
		}
		if (l.n == 0) {
			ctx_fail(x, "'%s' leaves no algorithm; set 'server smb encrypt = off' to disable encryption", key);
			return;
		}
		memcpy(c->ciphers, l.ids, sizeof(l.ids));
		c->nciphers = l.n;
	} else if (!strcmp(nkey, "listen")) {
		char **v = NULL;
		if (for_each_item(value, listen_item, &v, msg, sizeof(msg)) != 0) {
			free_strv(v);
			ctx_fail(x, "%s", msg);
			return;
		}
		if (!v) { ctx_fail(x, "'listen' is empty"); return; }
		free_strv(c->listen);   /* a later "listen" line replaces an earlier one */
		c->listen = v;
	} else if (!strcmp(nkey, "loglevel") || !strcmp(nkey, "debuglevel")) {
		int lvl = log_level_parse(value);
		/* Samba's levels run to 10; everything above our 4 is "trace". */
		if (lvl < 0 && parse_uint(value, 5, 10, &n) == 0) lvl = LOG_LVL_TRACE;
		if (lvl < 0) {
			ctx_fail(x, "'log level' must be error, warn, info, debug, trace or 0-10, not '%s'", value);
			return;
		}
		c->log_level = lvl;
	} else if (!strcmp(nkey, "maxconnections")) {
		/* 0 means unlimited, as in Samba. */
		if (!want_uint(x, key, value, 0, 1000000, &n)) return;
		c->max_connections = n ? (unsigned)n : UINT_MAX;
	} else if (!strcmp(nkey, "busypoll")) {
		/* Microseconds; 0 switches polling off (loop.c). */
		if (!want_uint(x, key, value, 0, 10000, &n)) return;
		c->busy_poll_us = (unsigned)n;
	} else if (!strcmp(nkey, "maxiosize")) {
		/* MaxRead/MaxWrite/MaxTransact (MS-SMB2 2.2.4): 64 KiB up to 8 MiB,
		 * the largest Windows servers advertise. */
		if (!want_uint(x, key, value, 65536, 8u << 20, &n)) return;
		c->max_io_size = (unsigned)n;
	} else if (!strcmp(nkey, "maxopenfiles")) {
		if (!want_uint(x, key, value, 1, 1u << 24, &n)) return;
		c->max_opens_per_conn = (unsigned)n;
	} else if (!strcmp(nkey, "maxsessions")) {
		if (!want_uint(x, key, value, 1, 65535, &n)) return;
		c->max_sessions_per_conn = (unsigned)n;
	/* ---- durable / persistent handles (durable.c) ---- */
	} else if (!strcmp(nkey, "statedirectory")) {
		if (value[0] != '/') {
			ctx_fail(x, "'%s' must be an absolute path, not '%s'", key, value);
			return;
		}
		if (set_str(&c->state_dir, value) != 0) ctx_fail(x, "out of memory");
	/* ---- end durable ---- */
	} else if (!strcmp(nkey, "hostsallow") || !strcmp(nkey, "allowhosts") || !strcmp(nkey, "hostsdeny") ||
		   !strcmp(nkey, "denyhosts")) {
		struct config_entry *ce = cfg_entry(c);
		struct host_acl *acl = host_acl_parse(value, msg, sizeof(msg));
		if (!acl) { ctx_fail(x, "'%s': %s", key, msg); return; }
		struct host_acl **dst = strstr(nkey, "allow") ? &ce->hosts_allow : &ce->hosts_deny;
		host_acl_free(*dst);   /* a later line replaces an earlier one, as in Samba */
		*dst = acl;
	} else if (!strcmp(nkey, "loginfailurelimit")) {
		if (!want_uint(x, key, value, 0, 1000000, &n)) return;
		cfg_entry(c)->login_failure_limit = (unsigned)n;
	} else if (!strcmp(nkey, "loginfailurewindow")) {
		if (!want_uint(x, key, value, 1, 86400, &n)) return;
		cfg_entry(c)->login_failure_window = (unsigned)n;
	} else if (!strcmp(nkey, "loginfailurebackoff")) {
		if (!want_uint(x, key, value, 1, 3600, &n)) return;
		cfg_entry(c)->login_failure_backoff = (unsigned)n;
	} else if (is_not_yet_supported(nkey)) {
		ctx_fail(x, "'%s' is not supported by this version of smbkitd", key);
	} else if (!strcmp(nkey, "invalidusers") || !strcmp(nkey, "readlist") || !strcmp(nkey, "writelist")) {
		ctx_fail(x, "'%s' belongs in a share section, not in [global]", key);
	} else if (!strcmp(nkey, "path") || !strcmp(nkey, "readonly") || !strcmp(nkey, "writable") ||
		   !strcmp(nkey, "writeable") || !strcmp(nkey, "validusers") || !strcmp(nkey, "comment") ||
		   !strcmp(nkey, "browseable") || !strcmp(nkey, "browsable") || !strcmp(nkey, "casesensitive") ||
		   !strcmp(nkey, "accessbasedenumeration") || !strcmp(nkey, "hideunreadable")) {
		ctx_fail(x, "'%s' belongs in a share section, not in [global]", key);
	} else {
		ctx_fail(x, "unknown option '%s' in [global]", key);
	}
}

static void share_key(struct parse_ctx *x, const char *key, const char *nkey, const char *value)
{
	struct share_entry *e = x->share;
	struct smbd_share *s = &e->share;
	bool b;
	char msg[300];

	if (!strcmp(nkey, "path")) {
		if (value[0] != '/') {
			ctx_fail(x, "share [%s]: 'path' must be absolute, not '%s'", s->name, value);
			return;
		}
		if (set_str(&s->path, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "readonly")) {
		if (want_bool(x, key, value, &b)) s->read_only = b;
	} else if (!strcmp(nkey, "writable") || !strcmp(nkey, "writeable") || !strcmp(nkey, "writeok")) {
		if (want_bool(x, key, value, &b)) s->read_only = !b;
	} else if (!strcmp(nkey, "guestok") || !strcmp(nkey, "public")) {
		if (want_bool(x, key, value, &b)) { s->guest_ok = b; e->guest_ok_set = true; }
	} else if (!strcmp(nkey, "validusers")) {
		/* Accumulates over repeated "valid users" lines, so a long
		 * list can be split (inih lines are limited in length). */
		if (for_each_item(value, valid_user_item, &s->valid_users, msg, sizeof(msg)) != 0)
			ctx_fail(x, "%s", msg);
	} else if (!strcmp(nkey, "invalidusers") || !strcmp(nkey, "readlist") || !strcmp(nkey, "writelist")) {
		/* Accumulate like "valid users". */
		char ***dst = nkey[0] == 'i' ? &e->invalid_users : nkey[0] == 'r' ? &e->read_list : &e->write_list;
		if (for_each_item(value, valid_user_item, dst, msg, sizeof(msg)) != 0) ctx_fail(x, "%s", msg);
	} else if (!strcmp(nkey, "hostsallow") || !strcmp(nkey, "allowhosts") || !strcmp(nkey, "hostsdeny") ||
		   !strcmp(nkey, "denyhosts")) {
		struct host_acl *acl = host_acl_parse(value, msg, sizeof(msg));
		if (!acl) { ctx_fail(x, "share [%s]: '%s': %s", s->name, key, msg); return; }
		struct host_acl **dst = strstr(nkey, "allow") ? &e->hosts_allow : &e->hosts_deny;
		host_acl_free(*dst);
		*dst = acl;
	} else if (!strcmp(nkey, "loginfailurelimit") || !strcmp(nkey, "loginfailurewindow") ||
		   !strcmp(nkey, "loginfailurebackoff")) {
		ctx_fail(x, "'%s' belongs in [global], not in a share section", key);
	} else if (!strcmp(nkey, "browseable") || !strcmp(nkey, "browsable")) {
		if (want_bool(x, key, value, &b)) s->browseable = b;
	} else if (!strcmp(nkey, "comment")) {
		if (set_str(&s->comment, value) != 0) ctx_fail(x, "out of memory");
	} else if (!strcmp(nkey, "smbencrypt") || !strcmp(nkey, "serversmbencrypt")) {
		/* Per share only "desired" and "required" act (Samba: off and
		 * if_required on a share have no effect). */
		if (parse_encrypt(value, &s->encrypt) != 0)
			ctx_fail(x, "share [%s]: '%s' must be off, if_required, desired or required, not '%s'", s->name,
				 key, value);
	} else if (!strcmp(nkey, "casesensitive")) {
		/* "auto" lets Samba ask the client; SMB2 clients expect
		 * case-insensitive names, which is what auto gives them. */
		if (!strcasecmp(value, "auto") || !strcasecmp(value, "default")) s->case_sensitive = false;
		else if (want_bool(x, key, value, &b)) s->case_sensitive = b;
	/* ---- durable / persistent handles (durable.c) ---- */
	} else if (!strcmp(nkey, "continuouslyavailable")) {
		if (want_bool(x, key, value, &b)) s->continuously_available = b;
	/* ---- end durable ---- */
	} else if (!strcmp(nkey, "accessbasedenumeration") || !strcmp(nkey, "hideunreadable")) {
		/* access_enum.h; Samba's "hide unreadable" does the same and
		 * also sets the share flag, so its configs carry over. */
		if (want_bool(x, key, value, &b)) e->access_based_enum = b;
	} else if (is_not_yet_supported(nkey)) {
		ctx_fail(x, "'%s' is not supported by this version of smbkitd", key);
	} else {
		ctx_fail(x, "unknown option '%s' in share [%s]", key, s->name);
	}
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = user;
	if (x->failed) return 0;
	if (x->kind == SECTION_NONE) {
		if (!*section) ctx_fail(x, "'%s' appears before any [section]", name);
		else ctx_fail(x, "internal error: section [%s] not tracked", section);
		return 0;
	}
	char nkey[64];
	normalize_key(name, nkey, sizeof(nkey));
	if (x->kind == SECTION_GLOBAL) global_key(x, name, nkey, value ? value : "");
	else share_key(x, name, nkey, value ? value : "");
	return x->failed ? 0 : 1;
}

struct smbd_config *config_load_file(const char *path, char *err, size_t errlen)
{
	struct smbd_config *c = config_new_default();
	if (!c) { set_err(err, errlen, "out of memory"); return NULL; }
	if (set_str(&c->source, path) != 0) {
		config_put(c);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		config_put(c);
		return NULL;
	}
	struct parse_ctx x = { .c = c, .path = path, .f = f };
	int rc = ini_parse_stream(ini_reader_fn, &x, ini_handler_fn, &x);
	bool read_error = ferror(f);
	fclose(f);
	free(x.linebuf);

	if (x.failed) {
		set_err(err, errlen, "%s", x.err);
	} else if (rc > 0) {
		/* inih's own syntax errors: a line that is neither a comment, a
		 * [section] nor a key = value pair. */
		set_err(err, errlen, "%s:%d: syntax error (expected [section] or 'key = value')", path, rc);
	} else if (rc < 0) {
		set_err(err, errlen, "%s: cannot parse (out of memory)", path);
	} else if (read_error) {
		set_err(err, errlen, "%s: read error", path);
	} else {
		/* [global] "guest ok" is the default for shares that do not set it. */
		for (size_t i = 0; i < c->nshares; i++) {
			struct share_entry *e = container_of(c->shares[i], struct share_entry, share);
			if (!e->guest_ok_set) e->share.guest_ok = x.global_guest_ok;
		}
		return c;
	}
	config_put(c);
	return NULL;
}

int config_add_share_arg(struct smbd_config *c, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (!eq) {
		set_err(err, errlen, "--share %s: expected NAME=PATH", arg);
		return -1;
	}
	size_t nlen = (size_t)(eq - arg);
	char *name = strndup(arg, nlen);
	if (!name) { set_err(err, errlen, "out of memory"); return -1; }
	const char *path = eq + 1;
	const char *problem = share_name_problem(name);
	int rc = -1;
	if (problem) {
		set_err(err, errlen, "--share %s: %s", arg, problem);
	} else if (path[0] != '/') {
		/* Relative paths would depend on the daemon's working directory,
		 * which changes when it daemonizes; make the admin say it. */
		set_err(err, errlen, "--share %s: PATH must be absolute", arg);
	} else if (find_share_nolock(c, name)) {
		set_err(err, errlen, "--share %s: a share named '%s' already exists", arg, name);
	} else {
		struct share_entry *e = share_new(name);
		if (e && set_str(&e->share.path, path) == 0 && config_append_share(c, &e->share) == 0) {
			/* Command-line shares are for quick use: writable, and
			 * open to guests exactly when --guest is given. */
			e->from_cmdline = true;
			e->share.read_only = false;
			rc = 0;
		} else {
			if (e) share_put(&e->share);
			set_err(err, errlen, "out of memory");
		}
	}
	free(name);
	return rc;
}

static bool has_ipc_share(const struct smbd_config *c)
{
	for (size_t i = 0; i < c->nshares; i++)
		if (c->shares[i]->ipc) return true;
	return false;
}

int config_finalize(struct smbd_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nshares; i++) {
		struct smbd_share *s = c->shares[i];
		if (s->ipc) continue;
		struct share_entry *e = container_of(s, struct share_entry, share);
		if (e->from_cmdline) s->guest_ok = c->map_guest;
		if (s->root_fd >= 0) continue;   /* finalize may be called twice */
		/* O_PATH: the fd only anchors openat2(RESOLVE_BENEATH) lookups;
		 * it grants no read access by itself. */
		s->root_fd = open(s->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (s->root_fd < 0) {
			set_err(err, errlen, "share %s: %s: %s", s->name, s->path, strerror(errno));
			return -1;
		}
	}

	if (!has_ipc_share(c)) {
		struct share_entry *e = share_new("IPC$");
		if (!e || set_str(&e->share.comment, "IPC Service") != 0 || config_append_share(c, &e->share) != 0) {
			if (e) share_put(&e->share);
			set_err(err, errlen, "out of memory");
			return -1;
		}
		struct smbd_share *ipc = &e->share;
		ipc->ipc = true;
		ipc->read_only = true;
		/* Windows lists IPC$ in NetShareEnum, and `smbclient -L` expects
		 * to see it; anonymous share listing goes through IPC$, so the
		 * tree-connect code decides who may use it, not this flag. */
		ipc->browseable = true;
		ipc->guest_ok = true;
	}

	if (c->users_file && !c->users) {
		struct smbd_user *users = NULL;
		size_t n = 0;
		if (userdb_load(c->users_file, &users, &n, err, errlen) != 0) return -1;
		c->users = users;
		c->nusers = n;
		for (size_t i = 0; i < n; i++) {
			if (!getpwnam(users[i].unix_name))
				log_warn("%s: user %s maps to Unix account '%s', which does not exist",
					 c->users_file, users[i].name, users[i].unix_name);
		}
	}
	if (c->map_guest && !getpwnam(c->guest_account))
		log_warn("guest account '%s' does not exist; guest sessions will fail", c->guest_account);
	/* Kerberos is offered (NEGOTIATE hints, SESSION_SETUP) only with a
	 * realm to check principals against and a keytab we can read; an
	 * unreadable keytab is a warning, not an error, so NTLM keeps working. */
	c->krb5_enabled = false;
	if (c->realm) {
		if (krb5_keytab_usable(c->krb5_keytab))
			c->krb5_enabled = true;
		else
			log_warn("kerberos: keytab %s is not a readable file; Kerberos logins are disabled",
				 c->krb5_keytab);
	}
	return 0;
}

/* ----------------------------------------------------------- access policy */

bool config_host_allowed(const struct smbd_config *c, const struct sockaddr_storage *peer)
{
	const struct config_entry *ce = cfg_entry(c);
	return host_allowed(ce->hosts_allow, ce->hosts_deny, peer);
}

void config_login_backoff(const struct smbd_config *c, unsigned *limit, unsigned *window, unsigned *backoff)
{
	const struct config_entry *ce = cfg_entry(c);
	*limit = ce->login_failure_limit;
	*window = ce->login_failure_window;
	*backoff = ce->login_failure_backoff;
}

bool config_share_access_based_enum(const struct smbd_share *sh)
{
	if (sh->ipc) return false;
	const struct share_entry *e = container_of(sh, struct share_entry, share);
	return e->access_based_enum;
}

/* The order follows Samba: hosts, then guest, invalid users (always wins),
 * valid users, then read list / write list for the read-only decision. */
uint32_t config_share_access(const struct smbd_config *c, const struct smbd_share *sh,
			     const struct smbd_session *s, const struct sockaddr_storage *peer, bool *read_only,
			     char *why, size_t whylen)
{
	const struct share_entry *e = container_of(sh, struct share_entry, share);
	*read_only = sh->read_only;
	if (!host_allowed(e->hosts_allow, e->hosts_deny, peer)) {
		snprintf(why, whylen, "the client address is not allowed by the share's hosts allow/deny");
		return STATUS_ACCESS_DENIED;
	}
	if ((s->is_anonymous || s->is_guest) && !sh->guest_ok) {
		snprintf(why, whylen, "guest access not allowed");
		return STATUS_ACCESS_DENIED;
	}
	/* Guests are checked under the guest account's name, so "invalid
	 * users = nobody" (or a valid users list without it) keeps them out. */
	const char *user, *unix_name;
	if (s->is_anonymous || s->is_guest) {
		user = c->guest_account;
		unix_name = c->guest_account;
	} else {
		user = s->user;
		const struct smbd_user *u = config_find_user(c, s->user);
		unix_name = u ? u->unix_name : s->user;
	}
	if (e->invalid_users && access_user_in_list(e->invalid_users, user, unix_name)) {
		snprintf(why, whylen, "listed in invalid users");
		return STATUS_ACCESS_DENIED;
	}
	if (sh->valid_users && !access_user_in_list(sh->valid_users, user, unix_name)) {
		snprintf(why, whylen, "not in valid users");
		return STATUS_ACCESS_DENIED;
	}
	if (e->read_list && access_user_in_list(e->read_list, user, unix_name)) *read_only = true;
	if (e->write_list && access_user_in_list(e->write_list, user, unix_name)) *read_only = false;
	/* IPC$ is read-only to the file system anyway; pipes need "write". */
	if (sh->ipc) *read_only = true;
	why[0] = 0;
	return STATUS_SUCCESS;
}
