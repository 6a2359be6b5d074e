/* Access policy building blocks: host lists, user lists with Unix groups,
 * and the failed-login back-off table.  See access.h. */
#include "common/clock.h"
#include "common/lock.h"
#include "server/access.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/utf16.h"

/* ---------------------------------------------------------- host lists */

enum host_item_kind { HOST_ALL, HOST_LOCALHOST, HOST_NET, HOST_EXCEPT };

struct host_item {
	enum host_item_kind kind;
	int family;            /* AF_INET / AF_INET6 for HOST_NET */
	uint8_t addr[16];      /* network address, host bits cleared */
	unsigned prefix;       /* bits that must match */
};

struct host_acl {
	struct host_item *items;
	size_t n;
};

static void mask_bits(uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bit = (unsigned)i * 8;
		if (bit >= prefix) addr[i] = 0;
		else if (prefix - bit < 8) addr[i] &= (uint8_t)(0xFF << (8 - (prefix - bit)));
	}
}

/* A dotted IPv4 netmask ("255.255.255.0") to a prefix length; -1 if the
 * mask is not contiguous ones then zeros. */
static int mask_to_prefix(const uint8_t m[4])
{
	uint32_t v = ((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) | ((uint32_t)m[2] << 8) | m[3];
	int n = 0;
	while (n < 32 && (v & (0x80000000u >> n))) n++;
	if (n < 32 && (v << n) != 0) return -1;
	return n;
}

static int parse_host_item(const char *tok, struct host_item *it, char *msg, size_t msglen)
{
	memset(it, 0, sizeof(*it));
	if (!strcasecmp(tok, "ALL")) { it->kind = HOST_ALL; return 0; }
	if (!strcasecmp(tok, "EXCEPT")) { it->kind = HOST_EXCEPT; return 0; }
	if (!strcasecmp(tok, "localhost")) { it->kind = HOST_LOCALHOST; return 0; }
	it->kind = HOST_NET;
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(tok) >= sizeof(buf)) goto bad;
	strcpy(buf, tok);
	char *slash = strchr(buf, '/');
	if (slash) *slash++ = 0;
	char *a = buf;
	size_t alen = strlen(a);
	if (a[0] == '[' && alen > 2 && a[alen - 1] == ']') { a[alen - 1] = 0; a++; }

	/* "a.b.c." : every address starting with those octets (Samba). */
	if (!slash && alen > 1 && a[alen - 1] == '.') {
		unsigned octets = 0;
		const char *p = a;
		while (*p) {
			if (!isdigit((unsigned char)*p)) goto bad;
			unsigned v = 0, digits = 0;
			while (isdigit((unsigned char)*p)) { v = v * 10 + (unsigned)(*p++ - '0'); if (++digits > 3) goto bad; }
			if (v > 255 || *p != '.' || octets >= 3) goto bad;
			it->addr[octets++] = (uint8_t)v;
			p++;
		}
		it->family = AF_INET;
		it->prefix = octets * 8;
		return 0;
	}
	if (inet_pton(AF_INET, a, it->addr) == 1) {
		it->family = AF_INET;
		it->prefix = 32;
		if (slash) {
			uint8_t m[4];
			char *end;
			if (strchr(slash, '.')) {
				int pl = inet_pton(AF_INET, slash, m) == 1 ? mask_to_prefix(m) : -1;
				if (pl < 0) goto bad;
				it->prefix = (unsigned)pl;
			} else {
				unsigned long pl = strtoul(slash, &end, 10);
				if (!*slash || *end || pl > 32) goto bad;
				it->prefix = (unsigned)pl;
			}
		}
		mask_bits(it->addr, 4, it->prefix);
		return 0;
	}
	if (inet_pton(AF_INET6, a, it->addr) == 1) {
		it->family = AF_INET6;
		it->prefix = 128;
		if (slash) {
			char *end;
			unsigned long pl = strtoul(slash, &end, 10);
			if (!*slash || *end || pl > 128) goto bad;
			it->prefix = (unsigned)pl;
		}
		/* ::ffff:a.b.c.d written by the admin: the IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)it->addr) && it->prefix >= 96) {
			memmove(it->addr, it->addr + 12, 4);
			memset(it->addr + 4, 0, 12);
			it->family = AF_INET;
			it->prefix -= 96;
		}
		mask_bits(it->addr, 16, it->prefix);
		return 0;
	}
bad:
	/* Host names, domains (".example.com") and netgroups (@ng) would make
	 * the decision depend on DNS / NIS answers an attacker may control. */
	snprintf(msg, msglen,
		 "'%s' is not an address, network (a.b.c.d/len, a.b.c.d/mask, a.b.c., ipv6/len), ALL, "
		 "localhost or EXCEPT (host names and netgroups are not supported)", tok);
	return -1;
}

struct host_acl *host_acl_parse(const char *value, char *msg, size_t msglen)
{
	struct host_acl *acl = calloc(1, sizeof(*acl));
	char *copy = strdup(value);
	if (!acl || !copy) goto oom;
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		struct host_item it;
		if (parse_host_item(tok, &it, msg, msglen) != 0) goto fail;
		struct host_item *ni = realloc(acl->items, (acl->n + 1) * sizeof(*ni));
		if (!ni) goto oom;
		acl->items = ni;
		acl->items[acl->n++] = it;
	}
	if (acl->n == 0) {
		snprintf(msg, msglen, "the list is empty");
		goto fail;
	}
	if (acl->items[0].kind == HOST_EXCEPT || acl->items[acl->n - 1].kind == HOST_EXCEPT) {
		snprintf(msg, msglen, "EXCEPT needs a list on both sides");
		goto fail;
	}
	free(copy);
	return acl;
oom:
	snprintf(msg, msglen, "out of memory");
fail:
	free(copy);
	host_acl_free(acl);
	return NULL;
}

void host_acl_free(struct host_acl *acl)
{
	if (!acl) return;
	free(acl->items);
	free(acl);
}

/* The peer as (family, 4 or 16 bytes); IPv4-mapped IPv6 becomes IPv4 (a
 * dual-stack listener sees IPv4 clients that way). */
static int peer_addr(const struct sockaddr_storage *peer, uint8_t out[16])
{
	memset(out, 0, 16);
	if (peer->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)peer)->sin_addr, 4);
		return AF_INET;
	}
	if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(out, a6->s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(out, a6->s6_addr, 16);
		return AF_INET6;
	}
	return AF_UNSPEC;
}

static bool is_loopback_exact(int fam, const uint8_t a[16])
{
	static const uint8_t v6_loop[16] = { [15] = 1 };
	if (fam == AF_INET) return a[0] == 127 && a[1] == 0 && a[2] == 0 && a[3] == 1;
	return fam == AF_INET6 && !memcmp(a, v6_loop, 16);
}

static bool item_match(const struct host_item *it, int fam, const uint8_t a[16])
{
	switch (it->kind) {
	case HOST_ALL: return true;
	case HOST_LOCALHOST: return (fam == AF_INET && a[0] == 127) || is_loopback_exact(fam, a);
	case HOST_NET: {
		if (fam != it->family) return false;
		uint8_t m[16];
		memcpy(m, a, 16);
		mask_bits(m, fam == AF_INET ? 4 : 16, it->prefix);
		return !memcmp(m, it->addr, fam == AF_INET ? 4 : 16);
	}
	case HOST_EXCEPT: return false;
	}
	return false;
}

/* hosts_access(5): "A EXCEPT B" matches what A matches unless B matches;
 * B may itself contain EXCEPT (so it nests to the right). */
static bool list_match(const struct host_item *items, size_t n, int fam, const uint8_t a[16])
{
	size_t i = 0;
	bool matched = false;
	for (; i < n && items[i].kind != HOST_EXCEPT; i++)
		if (item_match(&items[i], fam, a)) matched = true;
	if (!matched) return false;
	if (i == n) return true;
	return !list_match(items + i + 1, n - i - 1, fam, a);
}

bool host_acl_match(const struct host_acl *acl, const struct sockaddr_storage *peer)
{
	uint8_t a[16];
	int fam = peer_addr(peer, a);
	if (!acl || fam == AF_UNSPEC) return false;
	return list_match(acl->items, acl->n, fam, a);
}

bool host_allowed(const struct host_acl *allow, const struct host_acl *deny, const struct sockaddr_storage *peer)
{
	if (!allow && !deny) return true;
	uint8_t a[16];
	int fam = peer_addr(peer, a);
	if (fam == AF_UNSPEC) return false;
	bool in_allow = allow && host_acl_match(allow, peer);
	bool in_deny = deny && host_acl_match(deny, peer);
	/* Samba: the local machine is always let in unless it is denied by
	 * name and not allowed by name (an admin on the box can read the files
	 * anyway; locking it out only breaks local tools). */
	if (is_loopback_exact(fam, a)) return !(in_deny && !in_allow);
	if (allow && !deny) return in_allow;
	if (deny && !allow) return !in_deny;
	if (in_allow) return true;   /* both lists: allow wins, then deny, else allowed */
	return !in_deny;
}

/* ---------------------------------------------------------- user lists */

static bool unix_user_in_group(const char *unix_name, const char *group)
{
	if (!unix_name || !*unix_name) return false;
	char gbuf[8192], pbuf[4096];
	struct group gr, *gres = NULL;
	if (getgrnam_r(group, &gr, gbuf, sizeof(gbuf), &gres) != 0 || !gres) {
		log_debug("user list: group '%s' does not exist", group);
		return false;
	}
	gid_t gid = gr.gr_gid;
	struct passwd pw, *pres = NULL;
	if (getpwnam_r(unix_name, &pw, pbuf, sizeof(pbuf), &pres) != 0 || !pres) return false;
	if (pw.pw_gid == gid) return true;
	int n = 64;
	gid_t *g = malloc((size_t)n * sizeof(*g));
	if (!g) return false;
	if (getgrouplist(unix_name, pw.pw_gid, g, &n) < 0) {
		gid_t *g2 = n > 0 && n < 65536 ? realloc(g, (size_t)n * sizeof(*g)) : NULL;
		if (!g2) { free(g); return false; }
		g = g2;
		if (getgrouplist(unix_name, pw.pw_gid, g, &n) < 0) n = 0;
	}
	bool found = false;
	for (int i = 0; i < n; i++)
		if (g[i] == gid) found = true;
	free(g);
	return found;
}

bool access_user_in_list(char *const *list, const char *user, const char *unix_name)
{
	if (!list) return false;
	for (; *list; list++) {
		const char *e = *list;
		if (e[0] == '@' || e[0] == '+') {
			if (unix_user_in_group(unix_name, e + 1)) return true;
			continue;
		}
		if (user && *user && !utf8_casecmp(e, user)) return true;
		if (unix_name && *unix_name && !strcmp(e, unix_name)) return true;
	}
	return false;
}

/* ------------------------------------------- failed-login back-off */

/* One slot per client address that failed recently.  The table has a fixed
 * size: when full, the least recently used slot is reused, so an attacker
 * spraying source addresses costs a bounded amount of memory (and can at
 * worst make the server forget older offenders early). */
#define BACKOFF_SLOTS 1024
#define BACKOFF_MAX_SECONDS 3600u

struct backoff_slot {
	bool used;
	int family;
	uint8_t addr[16];
	unsigned failures;       /* in the current window */
	time_t window_start;
	time_t blocked_until;
	unsigned level;          /* blocks so far: each doubles the next */
	time_t last_used;        /* LRU */
};

/* A leaf lock: nothing is called while it is held (no logging, no other
 * lock), so it cannot take part in a lock-order cycle.  The lead adds it to
 * the lock table in common/lock.h ("login_backoff", leaf). */
/* rank login_backoff (common/lock.h) */
static struct smb_mutex backoff_lock = { PTHREAD_MUTEX_INITIALIZER, LOCK_RANK_LOGIN_BACKOFF, "login_backoff" };
static struct backoff_slot backoff_table[BACKOFF_SLOTS];

static time_t now_mono(void) { return (time_t)(clock_monotonic_ns() / 1000000000u); }

static struct backoff_slot *slot_find(int fam, const uint8_t a[16], bool create, time_t now)
{
	struct backoff_slot *lru = NULL;
	for (size_t i = 0; i < BACKOFF_SLOTS; i++) {
		struct backoff_slot *s = &backoff_table[i];
		if (s->used && s->family == fam && !memcmp(s->addr, a, 16)) return s;
		if (!s->used) {
			if (!lru || lru->used) lru = s;   /* a free slot beats any used one */
		} else if (!lru || (lru->used && s->last_used < lru->last_used)) {
			lru = s;
		}
	}
	if (!create) return NULL;
	memset(lru, 0, sizeof(*lru));
	lru->used = true;
	lru->family = fam;
	memcpy(lru->addr, a, 16);
	lru->window_start = now;
	lru->last_used = now;
	return lru;
}

unsigned login_backoff_blocked(const struct smbd_config *c, const struct sockaddr_storage *peer)
{
	unsigned limit, window, backoff;
	config_login_backoff(c, &limit, &window, &backoff);
	if (!limit) return 0;
	uint8_t a[16];
	int fam = peer_addr(peer, a);
	if (fam == AF_UNSPEC) return 0;
	time_t now = now_mono();
	unsigned left = 0;
	smb_mutex_lock(&backoff_lock);
	struct backoff_slot *s = slot_find(fam, a, false, now);
	if (s && s->blocked_until > now) {
		left = (unsigned)(s->blocked_until - now);
		s->last_used = now;
	}
	smb_mutex_unlock(&backoff_lock);
	return left;
}

unsigned login_backoff_record(const struct smbd_config *c, const struct sockaddr_storage *peer, bool failed)
{
	unsigned limit, window, backoff;
	config_login_backoff(c, &limit, &window, &backoff);
	if (!limit) return 0;
	uint8_t a[16];
	int fam = peer_addr(peer, a);
	if (fam == AF_UNSPEC) return 0;
	time_t now = now_mono();
	unsigned started = 0;
	smb_mutex_lock(&backoff_lock);
	struct backoff_slot *s = slot_find(fam, a, failed, now);
	if (s && !failed) {
		/* A good login clears the count but not a block in progress
		 * (login_backoff_blocked refused that one before it ran). */
		s->failures = 0;
		s->level = 0;
	} else if (s) {
		s->last_used = now;
		if (now - s->window_start > (time_t)window) {
			s->window_start = now;
			s->failures = 0;
			/* A quiet window also forgets earlier escalation. */
			if (s->blocked_until + (time_t)window < now) s->level = 0;
		}
		if (++s->failures >= limit) {
			unsigned secs = backoff;
			for (unsigned i = 0; i < s->level && secs < BACKOFF_MAX_SECONDS; i++) secs *= 2;
			if (secs > BACKOFF_MAX_SECONDS) secs = BACKOFF_MAX_SECONDS;
			s->blocked_until = now + (time_t)secs;
			s->level++;
			s->failures = 0;
			s->window_start = now;
			started = secs;
		}
	}
	smb_mutex_unlock(&backoff_lock);
	return started;
}
