/* MS-SRVS server service: NetrShareEnum, NetrShareGetInfo, NetrServerGetInfo.
 *
 * Marshalling follows the MS-SRVS IDL with NDR 2.0 (C706 chapter 14):
 *  - a top-level [ref] pointer has no wire form; [unique] pointers are a
 *    referent id (0 = NULL) with the pointee deferred;
 *  - the pointees embedded in one top-level parameter are written after
 *    that parameter's fixed part, in order, before the next parameter;
 *  - a non-encapsulated union (switch_is) is its u32 discriminant followed
 *    by the selected arm.  For a level we do not implement we write the
 *    discriminant and an empty arm, which is how the [default] arm that
 *    clients compile into their stubs decodes, and fail the call with
 *    WERR_INVALID_LEVEL.
 */
#include "server/srvsvc.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utf16.h"
#include "server/server.h"
#include "wire/dcerpc.h"

/* Longest name we accept in a request (characters incl. NUL): server names
 * and share names are far shorter (NNLEN is 80). */
#define SRVSVC_MAX_NAME 1024

/* Platform id and server type bits (MS-SRVS 2.2.2.6, 2.2.2.7). */
#define PLATFORM_ID_NT 500
#define SV_TYPE_WORKSTATION 0x00000001u
#define SV_TYPE_SERVER 0x00000002u
#define SV_TYPE_SERVER_UNIX 0x00000800u
#define SV_TYPE_NT 0x00001000u
#define SV_TYPE_SERVER_NT 0x00008000u
/* What we report as the server's version: Windows 10 / Server 2016+. */
#define SRVSVC_VERSION_MAJOR 10
#define SRVSVC_VERSION_MINOR 0

static bool share_level_known(uint32_t level)
{
	return level == 0 || level == 1 || level == 2 || level == 501 || level == 502;
}

/* Levels 2 and 502 carry the share's local path (and 502 its security
 * descriptor): Windows hands them only to administrators and answers
 * everyone else WERR_ACCESS_DENIED (MS-SRVS 3.1.4.8, 3.1.4.10: the caller
 * must be a member of the Administrators, Server Operators or Power Users
 * group).  smbkit has no administrators yet, so nobody gets them; the
 * levels clients use to browse (0, 1, 501) stay open to any user. */
static bool share_level_needs_admin(uint32_t level)
{
	return level == 2 || level == 502;
}

static bool caller_is_admin(void)
{
	return false;
}

static uint32_t share_type(const struct smbd_share *sh)
{
	return sh->ipc ? (STYPE_IPC | STYPE_SPECIAL) : STYPE_DISKTREE;
}

static const char *share_remark(const struct smbd_share *sh)
{
	if (sh->comment) return sh->comment;
	return sh->ipc ? "Remote IPC" : "";
}

/* shi2_path is the share's local path in Windows form; we show the Unix
 * path under a "C:" drive, with backslashes, the way Windows admin tools
 * expect to parse it.  IPC$ has no path. */
static char *share_windows_path(const struct smbd_share *sh)
{
	if (!sh->path) return strdup("");
	size_t n = strlen(sh->path);
	char *p = malloc(n + 3);
	if (!p) return NULL;
	p[0] = 'C';
	p[1] = ':';
	for (size_t i = 0; i < n; i++) p[2 + i] = sh->path[i] == '/' ? '\\' : sh->path[i];
	p[n + 2] = 0;
	return p;
}

/* The fixed (inline) part of SHARE_INFO_<level> (MS-SRVS 2.2.4.22-2.2.4.26). */
static void push_share_fixed(struct ndr_push *n, uint32_t level, const struct smbd_share *sh)
{
	ndr_push_ptr(n, true);                        /* shiN_netname */
	if (level == 0) return;
	ndr_push_u32(n, share_type(sh));              /* shiN_type */
	ndr_push_ptr(n, true);                        /* shiN_remark */
	if (level == 1) return;
	if (level == 501) {
		ndr_push_u32(n, 0);                   /* shi501_flags: manual caching */
		return;
	}
	/* 2 and 502 */
	ndr_push_u32(n, 0);                           /* permissions (share-level security is unused) */
	ndr_push_u32(n, 0xFFFFFFFFu);                 /* max_uses: unlimited */
	ndr_push_u32(n, 0);                           /* current_uses: not tracked */
	ndr_push_ptr(n, true);                        /* path */
	ndr_push_ptr(n, false);                       /* passwd: none */
	if (level == 502) {
		ndr_push_u32(n, 0);                   /* shi502_reserved: SD length */
		ndr_push_ptr(n, false);               /* shi502_security_descriptor: not returned */
	}
}

/* The deferred pointees of SHARE_INFO_<level>, in field order. */
static void push_share_deferred(struct ndr_push *n, uint32_t level, const struct smbd_share *sh)
{
	ndr_push_string(n, sh->name);
	if (level == 0) return;
	ndr_push_string(n, share_remark(sh));
	if (level == 2 || level == 502) {
		char *path = share_windows_path(sh);
		if (!path) {
			n->w->err = true;
			return;
		}
		ndr_push_string(n, path);
		free(path);
	}
}

static const struct smbd_share *find_share(const struct smbd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nshares; i++)
		if (utf8_casecmp(cfg->shares[i]->name, name) == 0) return cfg->shares[i];
	return NULL;
}

/* Reads an optional [in,string,unique] server name and drops it: the call
 * always addresses this server. */
static void pull_server_name(struct ndr_pull *in)
{
	if (ndr_pull_u32(in)) free(ndr_pull_string(in, SRVSVC_MAX_NAME));
}

/* NetrShareEnum (opnum 15, MS-SRVS 3.1.4.8) and NetrShareEnumSticky
 * (opnum 36, 3.1.4.9), which has the same signature but lists only the
 * persistent shares: every configured share, not the special IPC$. */
static uint32_t netr_share_enum(const struct smbd_config *cfg, struct ndr_pull *in, struct wbuf *out, bool sticky)
{
	pull_server_name(in);
	/* InfoStruct: [in,out] ref -> SHARE_ENUM_STRUCT { Level; union } */
	uint32_t level = ndr_pull_u32(in);
	uint32_t sw = ndr_pull_u32(in);
	if (!ndr_pull_ok(in) || sw != level) return DCERPC_NCA_S_FAULT_NDR;
	bool known = share_level_known(level);
	if (known) {
		/* arm: unique pointer to the container, then (deferred) the
		 * container { EntriesRead; [unique] Buffer }.  Clients send an
		 * empty container; anything in it would be input we ignore
		 * anyway, but we do not parse arrays on input. */
		if (ndr_pull_u32(in)) {
			(void)ndr_pull_u32(in);          /* EntriesRead */
			if (ndr_pull_u32(in)) return DCERPC_NCA_S_FAULT_NDR;
		}
		(void)ndr_pull_u32(in);                  /* PreferedMaximumLength: we return everything */
		bool has_resume = ndr_pull_u32(in) != 0;
		uint32_t resume = has_resume ? ndr_pull_u32(in) : 0;
		if (!ndr_pull_ok(in)) return DCERPC_NCA_S_FAULT_NDR;
		if (share_level_needs_admin(level) && !caller_is_admin()) {
			/* The same shape as a refusal from Windows: the level,
			 * no container, nothing enumerated. */
			struct ndr_push n;
			ndr_push_init(&n, out);
			ndr_push_u32(&n, level);
			ndr_push_u32(&n, level);
			ndr_push_ptr(&n, false);             /* container */
			ndr_push_u32(&n, 0);                 /* TotalEntries */
			if (ndr_push_ptr(&n, has_resume)) ndr_push_u32(&n, 0);
			ndr_push_u32(&n, WERR_ACCESS_DENIED);
			return 0;
		}

		/* Everything browseable is listed, plus IPC$ (which clients
		 * look for to know the server speaks RPC). */
		const struct smbd_share *list[256];
		uint32_t total = 0;
		for (size_t i = 0; i < cfg->nshares && total < 256; i++) {
			const struct smbd_share *sh = cfg->shares[i];
			if (sticky ? !sh->ipc && sh->browseable : sh->browseable || sh->ipc) list[total++] = sh;
		}
		/* The resume handle is the index of the next entry to return. */
		uint32_t first = resume < total ? resume : total;
		uint32_t count = total - first;

		struct ndr_push n;
		ndr_push_init(&n, out);
		ndr_push_u32(&n, level);
		ndr_push_u32(&n, level);
		ndr_push_ptr(&n, true);                  /* container */
		ndr_push_u32(&n, count);                 /* EntriesRead */
		if (ndr_push_ptr(&n, count > 0)) {       /* Buffer */
			ndr_push_u32(&n, count);         /* conformance */
			for (uint32_t i = 0; i < count; i++) push_share_fixed(&n, level, list[first + i]);
			for (uint32_t i = 0; i < count; i++) push_share_deferred(&n, level, list[first + i]);
		}
		ndr_push_u32(&n, total);                 /* TotalEntries */
		if (ndr_push_ptr(&n, has_resume)) ndr_push_u32(&n, 0);  /* enumeration complete */
		ndr_push_u32(&n, WERR_OK);
		return 0;
	}
	/* Unknown level: we cannot know the arm's layout, so we do not read
	 * further; answer with an empty container arm and the error. */
	struct ndr_push n;
	ndr_push_init(&n, out);
	ndr_push_u32(&n, level);
	ndr_push_u32(&n, level);
	ndr_push_u32(&n, 0);                             /* TotalEntries */
	ndr_push_ptr(&n, false);                         /* ResumeHandle */
	ndr_push_u32(&n, WERR_INVALID_LEVEL);
	return 0;
}

/* NetrShareGetInfo (opnum 16, MS-SRVS 3.1.4.10). */
static uint32_t netr_share_get_info(const struct smbd_config *cfg, struct ndr_pull *in, struct wbuf *out)
{
	pull_server_name(in);
	char *netname = ndr_pull_string(in, SRVSVC_MAX_NAME);  /* [in,string] ref: no referent id */
	uint32_t level = ndr_pull_u32(in);
	if (!ndr_pull_ok(in) || !netname) {
		free(netname);
		return DCERPC_NCA_S_FAULT_NDR;
	}
	const struct smbd_share *sh = find_share(cfg, netname);
	log_debug("srvsvc: NetrShareGetInfo(%s, %u): %s", netname, level, sh ? "found" : "not found");
	free(netname);

	struct ndr_push n;
	ndr_push_init(&n, out);
	ndr_push_u32(&n, level);                         /* union discriminant */
	if (!share_level_known(level) && level != 1005) {
		ndr_push_u32(&n, WERR_INVALID_LEVEL);    /* empty [default] arm */
		return 0;
	}
	/* Refused before the name is looked up, so a refused caller cannot
	 * probe which hidden shares exist either. */
	if (share_level_needs_admin(level) && !caller_is_admin()) {
		ndr_push_ptr(&n, false);
		ndr_push_u32(&n, WERR_ACCESS_DENIED);
		return 0;
	}
	if (!sh) {
		ndr_push_ptr(&n, false);
		ndr_push_u32(&n, WERR_NET_NAME_NOT_FOUND);
		return 0;
	}
	ndr_push_ptr(&n, true);
	if (level == 1005) {
		ndr_push_u32(&n, 0);                     /* shi1005_flags: manual caching, no ABE */
	} else {
		push_share_fixed(&n, level, sh);
		push_share_deferred(&n, level, sh);
	}
	ndr_push_u32(&n, WERR_OK);
	return 0;
}

/* NetrServerGetInfo (opnum 21, MS-SRVS 3.1.4.17): levels 100 and 101.
 * Level 102 and above describe administration settings we do not have. */
static uint32_t netr_server_get_info(const struct smbd_config *cfg, struct ndr_pull *in, struct wbuf *out)
{
	pull_server_name(in);
	uint32_t level = ndr_pull_u32(in);
	if (!ndr_pull_ok(in)) return DCERPC_NCA_S_FAULT_NDR;
	const char *name = cfg->netbios_name ? cfg->netbios_name : "SMBKIT";
	const char *comment = cfg->server_string ? cfg->server_string : "";

	struct ndr_push n;
	ndr_push_init(&n, out);
	ndr_push_u32(&n, level);
	if (level != 100 && level != 101) {
		ndr_push_u32(&n, WERR_INVALID_LEVEL);
		return 0;
	}
	ndr_push_ptr(&n, true);
	ndr_push_u32(&n, PLATFORM_ID_NT);                /* sv10x_platform_id */
	ndr_push_ptr(&n, true);                          /* sv10x_name */
	if (level == 101) {
		ndr_push_u32(&n, SRVSVC_VERSION_MAJOR);
		ndr_push_u32(&n, SRVSVC_VERSION_MINOR);
		ndr_push_u32(&n, SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_UNIX | SV_TYPE_NT |
				     SV_TYPE_SERVER_NT);
		ndr_push_ptr(&n, true);                  /* sv101_comment */
	}
	ndr_push_string(&n, name);
	if (level == 101) ndr_push_string(&n, comment);
	ndr_push_u32(&n, WERR_OK);
	return 0;
}

uint32_t srvsvc_call(const struct smbd_config *cfg, uint16_t opnum, const uint8_t *stub, size_t stub_len,
		     struct wbuf *out)
{
	struct ndr_pull in;
	ndr_pull_init(&in, stub, stub_len);
	size_t start = out->len;
	uint32_t fault;
	switch (opnum) {
	case SRVSVC_OPNUM_NETR_SHARE_ENUM: fault = netr_share_enum(cfg, &in, out, false); break;
	case SRVSVC_OPNUM_NETR_SHARE_ENUM_STICKY: fault = netr_share_enum(cfg, &in, out, true); break;
	case SRVSVC_OPNUM_NETR_SHARE_GET_INFO: fault = netr_share_get_info(cfg, &in, out); break;
	case SRVSVC_OPNUM_NETR_SERVER_GET_INFO: fault = netr_server_get_info(cfg, &in, out); break;
	default:
		log_debug("srvsvc: opnum %u not implemented", opnum);
		return DCERPC_NCA_S_OP_RNG_ERROR;
	}
	if (!fault && out->err) fault = DCERPC_NCA_S_FAULT_REMOTE_NO_MEMORY;
	if (fault) {
		/* Leave nothing half-written behind. */
		out->err = false;
		out->len = start;
	}
	return fault;
}
