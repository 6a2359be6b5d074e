/* TREE_CONNECT (MS-SMB2 3.3.5.7) and TREE_DISCONNECT (3.3.5.8). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf16.h"
#include "server/access.h"
#include "server/access_enum.h"
#include "server/server.h"
#include "wire/session_setup.h"
#include "wire/tree_connect.h"

struct smbd_tree *tree_create(struct smbd_session *s, struct smbd_share *sh, bool read_only);

#define MAX_TREES_PER_SESSION 1024

uint32_t smb2_tree_connect(struct smb2_request *req)
{
	struct smbd_conn *c = req->conn;
	struct smbd_session *s = req->session;
	struct smb2_tree_connect_req r;
	uint32_t st = smb2_tree_connect_req_decode(req->msg, req->msg_len, &r);
	if (st) return st;
	char *path = utf16le_to_utf8(r.path, r.path_len, NULL);
	if (!path) return STATUS_BAD_NETWORK_NAME;
	/* "\\server\share": the share is the component after the last '\'. */
	const char *name = strrchr(path, '\\');
	name = name ? name + 1 : path;
	if (path[0] != '\\' || path[1] != '\\' || !*name) {
		free(path);
		return STATUS_BAD_NETWORK_NAME;
	}
	struct smbd_share *sh = config_find_share(c->cfg, name);
	if (!sh) {
		log_warn("%s: tree connect to unknown share '%s' refused", c->peer_str, name);
		free(path);
		return STATUS_BAD_NETWORK_NAME;
	}
	const char *who = s->is_anonymous ? "anonymous" : s->user;
	/* Access policy (access.h): share hosts allow/deny, guest ok, invalid
	 * users, valid users, and read list / write list for read-only. */
	bool ro = sh->read_only;
	char why[128];
	st = config_share_access(c->cfg, sh, s, &c->peer, &ro, why, sizeof(why));
	if (st != STATUS_SUCCESS) {
		log_warn("%s: tree connect of '%s' to '%s' refused: %s", c->peer_str, who, sh->name, why);
		goto out;
	}
	/* Share encryption (MS-SMB2 3.3.5.7, Samba's "smb encrypt"): a share
	 * that requires it refuses a connection that cannot encrypt, and
	 * anonymous/guest sessions, which have no key; with encryption off
	 * globally nobody can encrypt, so nobody gets in. */
	bool can_encrypt = c->cipher && s->keyed && c->cfg->encrypt != SMBD_ENCRYPT_OFF;
	if (sh->encrypt == SMBD_ENCRYPT_REQUIRED && !can_encrypt) {
		log_warn("%s: tree connect of %s to '%s' refused: the share requires encryption", c->peer_str, who,
			 sh->name);
		st = STATUS_ACCESS_DENIED;
		goto out;
	}
	if (s->ntrees >= MAX_TREES_PER_SESSION) {
		st = STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	struct smbd_tree *t = tree_create(s, sh, ro);
	if (!t) {
		st = STATUS_INSUFFICIENT_RESOURCES;
		goto out;
	}
	t->encrypt_data = can_encrypt && sh->encrypt >= SMBD_ENCRYPT_DESIRED;
	t->encrypt_required = sh->encrypt == SMBD_ENCRYPT_REQUIRED || s->encrypt_required;
	t->maximal_access = sh->ipc ? (FILE_GENERIC_READ | FILE_GENERIC_WRITE)
		: ro ? (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE) : FILE_ALL_ACCESS;
	struct smb2_tree_connect_rsp rsp = {
		.share_type = sh->ipc ? SMB2_SHARE_TYPE_PIPE : SMB2_SHARE_TYPE_DISK,
		.share_flags = sh->ipc ? SMB2_SHAREFLAG_NO_CACHING : SMB2_SHAREFLAG_MANUAL_CACHING,
		.capabilities = 0,
		.maximal_access = t->maximal_access,
	};
	if (t->encrypt_data) rsp.share_flags |= SMB2_SHAREFLAG_ENCRYPT_DATA;
	/* "access based enumeration": listings leave out what the user may
	 * not read (MS-SMB2 2.2.10, 3.3.5.18; smb2_query_directory.c). */
	if (config_share_access_based_enum(sh)) rsp.share_flags |= SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM;
	/* "continuously available" (durable.c): persistent handles, 3.x only. */
	if (sh->continuously_available && c->dialect >= SMB2_DIALECT_300)
		rsp.capabilities |= SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY;
	smb2_tree_connect_rsp_encode(req->out, &rsp);
	req->hdr.tree_id = t->id;
	log_info("%s: tree connect of %s to '%s'%s%s (tree %u)", c->peer_str, who, sh->name, ro ? " read-only" : "",
		 t->encrypt_data || s->encrypt_data ? " encrypted" : "", t->id);
	tree_put(t);
	st = STATUS_SUCCESS;
out:
	share_put(sh);
	free(path);
	return st;
}

uint32_t smb2_tree_disconnect(struct smb2_request *req)
{
	tree_destroy(req->tree);
	smb2_empty4_encode(req->out);
	return STATUS_SUCCESS;
}
