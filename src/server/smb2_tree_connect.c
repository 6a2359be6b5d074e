/* TREE_CONNECT (MS-SMB2 3.3.5.7) and TREE_DISCONNECT (3.3.5.8). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf16.h"
#include "server/server.h"
#include "wire/session_setup.h"
#include "wire/tree_connect.h"

struct smbd_tree *tree_create(struct smbd_session *s, struct smbd_share *sh, bool read_only);

#define MAX_TREES_PER_SESSION 1024

static bool user_in_list(char *const *list, const char *user)
{
	for (; *list; list++)
		if (!utf8_casecmp(*list, user)) return true;
	return false;
}

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
	if ((s->is_anonymous || s->is_guest) && !sh->guest_ok) {
		log_warn("%s: tree connect of %s to '%s' refused: guest access not allowed", c->peer_str, who, sh->name);
		st = STATUS_ACCESS_DENIED;
		goto out;
	}
	if (sh->valid_users && !s->is_anonymous && !s->is_guest && !user_in_list(sh->valid_users, s->user)) {
		log_warn("%s: tree connect of '%s' to '%s' refused: not in valid users", c->peer_str, who, sh->name);
		st = STATUS_ACCESS_DENIED;
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
	bool ro = sh->read_only;
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
