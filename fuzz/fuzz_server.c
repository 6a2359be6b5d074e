/* libFuzzer target: the whole request path of an in-process smbkitd.
 *
 * g_server is set up once the way src/server/main.c does it (locks, lists,
 * ids, a config with one disk share in a temporary directory plus IPC$, and
 * user "fuzz" whose NT hash is known).  For every input a connection is made
 * over a socketpair with conn_accept(), the input is cut into SMB messages
 * and each goes through dispatch_message() exactly as conn.c hands over a
 * received frame; the other end of the socketpair is drained after each
 * message.  At the end the connection is torn down and the harness checks
 * that no session, open or connection stayed published (LeakSanitizer
 * cannot see those: they are reachable from g_server).
 *
 * Input layout:
 *   byte 0     mode:  bits 0-1  0 = NEGOTIATE + NTLMSSP login + TREE_CONNECT to
 *                                   the disk share ("share"),
 *                               1 = same, tree connected to IPC$,
 *                               2 = NEGOTIATE + login, no tree,
 *                               3 = nothing: the input starts at NEGOTIATE
 *                     bits 2-3  dialect offered by the harness' NEGOTIATE:
 *                               0/1 = 3.1.1 (with preauth context), 2 = 2.1,
 *                               3 = 3.0.2
 *   then records: [u32 little-endian: bits 0-23 length, bits 24-31 flags]
 *   [length bytes: one SMB message as it would follow the 4-byte transport
 *   header].  Flags: bit 0 = keep MessageId as given (otherwise the harness
 *   writes the next id of the credit window into every header of the
 *   compound), bit 1 = keep SessionId/TreeId (otherwise those of the login
 *   and tree connect are written), bit 2 = keep CreditRequest (otherwise
 *   raised to at least 1 so the window does not close by accident).
 *
 * The prefix (login) is done by the harness with the project's own NTLMSSP
 * client, so the fuzzer spends its time behind authentication instead of
 * having to forge an NTLMv2 response.  SMBKIT_FUZZ_LOG=debug shows what the
 * server does with an input. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pwd.h>
#include <netinet/in.h>

#include "auth/ntlmssp_client.h"
#include "common/utf16.h"
#include "crypto/crypto.h"
#include "fuzz_common.h"
#include "server/loop.h"
#include "server/server.h"
#include "wire/negotiate.h"
#include "wire/session_setup.h"
#include "wire/smb2.h"
#include "wire/spnego.h"

#define FUZZ_USER "fuzz"
#define FUZZ_PASSWORD "fuzz-password"

static char share_dir[256];
static struct smbd_loop fake_loop;

/* One connection under test. */
struct fuzz_conn {
	struct smbd_conn *c;
	int peer_fd;              /* the "client" end of the socketpair */
	uint64_t next_mid;
	uint64_t session_id;
	uint32_t tree_id;
	struct wbuf rx;           /* bytes the server sent, framed */
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_server: %s: %s\n", what, strerror(errno));
	abort();
}

static void reset_share(void);

/* libFuzzer leaves through exit(): remove the temporary share then. */
static void remove_share_dir(void)
{
	reset_share();
	rmdir(share_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init_common();
	/* A client can make the server grow files (WRITE at a large offset,
	 * EndOfFile/AllocationSize); keep that from filling the shared disk:
	 * beyond 64 MiB the kernel answers EFBIG instead. */
	struct rlimit fsz = { 64u << 20, 64u << 20 };
	setrlimit(RLIMIT_FSIZE, &fsz);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	const char *tmp = getenv("TMPDIR");
	snprintf(share_dir, sizeof(share_dir), "%s/smbkit-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(share_dir)) die("mkdtemp");
	chmod(share_dir, 0777);
	atexit(remove_share_dir);

	char err[512] = "";
	struct smbd_config *cfg = config_new_default();
	if (!cfg) die("config_new_default");
	char arg[300];
	snprintf(arg, sizeof(arg), "share=%s", share_dir);
	if (config_add_share_arg(cfg, arg, err, sizeof(err)) != 0 || config_finalize(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_server: config: %s\n", err);
		abort();
	}
	/* The user lives only in memory, like smbkitd --demo's.  When running
	 * as root requests are impersonated as "nobody" (a real unprivileged
	 * account exercises the permission paths); otherwise as ourselves. */
	const char *unix_name = "nobody";
	if (geteuid() != 0 || !getpwnam("nobody")) {
		struct passwd *pw = getpwuid(geteuid());
		unix_name = pw ? pw->pw_name : "root";
	}
	struct smbd_user *u = realloc(cfg->users, (cfg->nusers + 1) * sizeof(*u));
	if (!u) die("realloc");
	cfg->users = u;
	u[cfg->nusers].name = strdup(FUZZ_USER);
	u[cfg->nusers].unix_name = strdup(unix_name);
	nt_hash_password(FUZZ_PASSWORD, u[cfg->nusers].nt_hash);
	cfg->nusers++;

	smb_mutex_init(&g_server.config_lock, LOCK_RANK_CONFIG, "config");
	smb_mutex_init(&g_server.conn_lock, LOCK_RANK_CONN_TABLE, "conn_table");
	smb_mutex_init(&g_server.session_lock, LOCK_RANK_SESSION_TABLE, "session_table");
	smb_mutex_init(&g_server.open_lock, LOCK_RANK_OPEN_TABLE, "open_table");
	list_init(&g_server.conns);
	list_init(&g_server.sessions);
	list_init(&g_server.opens);
	atomic_init(&g_server.next_session_id, 1);
	atomic_init(&g_server.next_file_id, 1);
	memset(g_server.guid, 0x5a, 16);   /* fixed: reproducible responses */
	g_server.start_time = nt_time_now();
	g_server.cfg = cfg;

	fake_loop.index = 0;
	fake_loop.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fake_loop.epfd < 0) die("epoll_create1");
	fake_loop.wake_fd = -1;
	return 0;
}

/* Reads what the server sent so far into fc->rx; keeps flushing the
 * server's send queue (a socketpair holds less than a large READ reply). */
static void drain(struct fuzz_conn *fc)
{
	uint8_t buf[65536];
	for (int rounds = 0; rounds < 100000; rounds++) {
		ssize_t r = recv(fc->peer_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r > 0) {
			/* Keep only a bounded tail: the prefix needs the last reply,
			 * nothing needs more than a few MB. */
			if (fc->rx.len > (8u << 20)) fc->rx.len = 0;
			wbuf_bytes(&fc->rx, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR) continue;
		smb_mutex_lock(&fc->c->send_lock);
		bool pending = !list_empty(&fc->c->sendq);
		smb_mutex_unlock(&fc->c->send_lock);
		if (!pending || conn_is_dead(fc->c)) return;
		conn_on_writable(fc->c);
	}
}

static void send_msg(struct fuzz_conn *fc, const uint8_t *msg, size_t len)
{
	fc->rx.len = 0;
	dispatch_message(fc->c, msg, len);
	drain(fc);
	if (!conn_is_dead(fc->c)) conn_update_events(fc->c);
}

/* The first response frame in rx: its header and body. */
static bool first_reply(struct fuzz_conn *fc, struct smb2_hdr *h, const uint8_t **body, size_t *body_len)
{
	if (fc->rx.len < 4 + SMB2_HDR_SIZE) return false;
	size_t flen = get_be32(fc->rx.p) & 0x00FFFFFFu;
	if (flen > fc->rx.len - 4 || !smb2_hdr_decode(fc->rx.p + 4, flen, h)) return false;
	*body = fc->rx.p + 4 + SMB2_HDR_SIZE;
	*body_len = flen - SMB2_HDR_SIZE;
	return true;
}

static void begin_request(struct wbuf *w, struct fuzz_conn *fc, uint16_t command)
{
	struct smb2_hdr h = { 0 };
	h.command = command;
	h.credit = 64;
	h.credit_charge = 1;
	h.message_id = fc->next_mid++;
	h.session_id = fc->session_id;
	h.tree_id = fc->tree_id;
	uint8_t *p = wbuf_reserve(w, SMB2_HDR_SIZE);
	if (p) smb2_hdr_encode(p, &h);
}

static bool do_negotiate(struct fuzz_conn *fc, unsigned dialect_sel)
{
	struct smb2_negotiate_req r = { 0 };
	r.security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	r.capabilities = SMB2_GLOBAL_CAP_LARGE_MTU | SMB2_GLOBAL_CAP_LEASING | SMB2_GLOBAL_CAP_ENCRYPTION;
	memset(r.client_guid, 0xc1, 16);
	uint8_t preauth[38];
	uint8_t ciphers[6];
	uint8_t signing[6];
	switch (dialect_sel) {
	case 2:
		r.dialects[r.dialect_count++] = SMB2_DIALECT_202;
		r.dialects[r.dialect_count++] = SMB2_DIALECT_210;
		break;
	case 3:
		r.dialects[r.dialect_count++] = SMB2_DIALECT_300;
		r.dialects[r.dialect_count++] = SMB2_DIALECT_302;
		break;
	default:
		r.dialects[r.dialect_count++] = SMB2_DIALECT_210;
		r.dialects[r.dialect_count++] = SMB2_DIALECT_302;
		r.dialects[r.dialect_count++] = SMB2_DIALECT_311;
		/* MS-SMB2 2.2.3.1.1: one hash algorithm (SHA-512) and a 32-byte salt. */
		put_le16(preauth, 1);
		put_le16(preauth + 2, 32);
		put_le16(preauth + 4, SMB2_PREAUTH_INTEGRITY_SHA512);
		memset(preauth + 6, 0xab, 32);
		r.contexts[r.ncontexts++] = (struct smb2_neg_context){ SMB2_PREAUTH_INTEGRITY_CAPABILITIES,
			sizeof(preauth), preauth };
		put_le16(ciphers, 2);
		put_le16(ciphers + 2, SMB2_ENCRYPTION_AES128_GCM);
		put_le16(ciphers + 4, SMB2_ENCRYPTION_AES128_CCM);
		r.contexts[r.ncontexts++] = (struct smb2_neg_context){ SMB2_ENCRYPTION_CAPABILITIES,
			sizeof(ciphers), ciphers };
		put_le16(signing, 2);
		put_le16(signing + 2, SMB2_SIGNING_AES_CMAC);
		put_le16(signing + 4, SMB2_SIGNING_HMAC_SHA256);
		r.contexts[r.ncontexts++] = (struct smb2_neg_context){ SMB2_SIGNING_CAPABILITIES,
			sizeof(signing), signing };
		break;
	}
	struct wbuf w;
	wbuf_init(&w, 512);
	begin_request(&w, fc, SMB2_NEGOTIATE);
	smb2_negotiate_req_encode(&w, 0, &r);
	bool ok = false;
	if (!w.err) {
		send_msg(fc, w.p, w.len);
		struct smb2_hdr h;
		const uint8_t *body;
		size_t blen;
		ok = first_reply(fc, &h, &body, &blen) && h.status == STATUS_SUCCESS;
	}
	wbuf_free(&w);
	return ok;
}

/* One SESSION_SETUP leg; returns the status and copies the server's
 * security token (unwrapped from SPNEGO) into tok. */
static uint32_t session_setup_leg(struct fuzz_conn *fc, const uint8_t *blob, size_t blob_len, struct wbuf *tok)
{
	struct smb2_session_setup_req r = { 0 };
	r.security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	r.security_blob = blob;
	r.security_blob_len = blob_len;
	struct wbuf w;
	wbuf_init(&w, 512);
	begin_request(&w, fc, SMB2_SESSION_SETUP);
	smb2_session_setup_req_encode(&w, 0, &r);
	uint32_t status = STATUS_INVALID_PARAMETER;
	if (!w.err) {
		send_msg(fc, w.p, w.len);
		struct smb2_hdr h;
		const uint8_t *body;
		size_t blen;
		if (first_reply(fc, &h, &body, &blen)) {
			status = h.status;
			fc->session_id = h.session_id;
			/* 2.2.6: SecurityBufferOffset (from the header) at body+4, length at +6. */
			if (blen >= 8) {
				size_t off = get_le16(body + 4), len = get_le16(body + 6);
				if (off >= SMB2_HDR_SIZE && range_ok(off - SMB2_HDR_SIZE, len, blen)) {
					struct spnego_token t;
					if (spnego_decode(body + off - SMB2_HDR_SIZE, len, &t) == 0 && t.mech_token)
						wbuf_bytes(tok, t.mech_token, t.mech_token_len);
				}
			}
		}
	}
	wbuf_free(&w);
	return status;
}

static bool do_login(struct fuzz_conn *fc)
{
	struct ntlmssp_client *cl = ntlmssp_client_new(FUZZ_USER, "WORKGROUP", FUZZ_PASSWORD, "FUZZWS");
	if (!cl) return false;
	bool ok = false;
	struct wbuf ntlm, spnego, challenge, auth;
	wbuf_init(&ntlm, 256);
	wbuf_init(&spnego, 256);
	wbuf_init(&challenge, 512);
	wbuf_init(&auth, 512);
	if (ntlmssp_client_step(cl, NULL, 0, &ntlm) != STATUS_MORE_PROCESSING_REQUIRED) goto out;
	spnego_encode_init(&spnego, SPNEGO_MECH_NTLMSSP, ntlm.p, ntlm.len);
	if (session_setup_leg(fc, spnego.p, spnego.len, &challenge) != STATUS_MORE_PROCESSING_REQUIRED ||
	    challenge.len == 0)
		goto out;
	ntlm.len = 0;
	if (ntlmssp_client_step(cl, challenge.p, challenge.len, &ntlm) != STATUS_SUCCESS) goto out;
	spnego.len = 0;
	spnego_encode_resp(&spnego, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_UNKNOWN, ntlm.p, ntlm.len);
	ok = session_setup_leg(fc, spnego.p, spnego.len, &auth) == STATUS_SUCCESS;
out:
	wbuf_free(&ntlm);
	wbuf_free(&spnego);
	wbuf_free(&challenge);
	wbuf_free(&auth);
	ntlmssp_client_free(cl);
	return ok;
}

static bool do_tree_connect(struct fuzz_conn *fc, const char *share)
{
	char unc[64];
	snprintf(unc, sizeof(unc), "\\\\127.0.0.1\\%s", share);
	struct wbuf w;
	wbuf_init(&w, 256);
	begin_request(&w, fc, SMB2_TREE_CONNECT);
	/* MS-SMB2 2.2.9: StructureSize 9, Flags, PathOffset, PathLength, path. */
	wbuf_u16(&w, 9);
	wbuf_u16(&w, 0);
	wbuf_u16(&w, SMB2_HDR_SIZE + 8);
	size_t len_pos = w.len;
	wbuf_u16(&w, 0);
	size_t start = w.len;
	for (const char *p = unc; *p; p++) wbuf_u16(&w, (uint16_t)(unsigned char)*p);
	wbuf_set_u16(&w, len_pos, (uint16_t)(w.len - start));
	bool ok = false;
	if (!w.err) {
		send_msg(fc, w.p, w.len);
		struct smb2_hdr h;
		const uint8_t *body;
		size_t blen;
		if (first_reply(fc, &h, &body, &blen) && h.status == STATUS_SUCCESS) {
			fc->tree_id = h.tree_id;
			ok = true;
		}
	}
	wbuf_free(&w);
	return ok;
}

/* Rewrites ids in every header of a compound so the fuzzer does not have to
 * guess the credit window or the session/tree ids. */
static void patch_chain(struct fuzz_conn *fc, uint8_t *m, size_t len, uint8_t flags)
{
	size_t off = 0;
	for (int i = 0; i < 64; i++) {
		if (len - off < SMB2_HDR_SIZE || get_le32(m + off) != SMB2_PROTOCOL_ID) return;
		uint8_t *h = m + off;
		if (!(flags & 1)) {
			uint16_t charge = get_le16(h + 6);
			put_le64(h + 24, fc->next_mid);
			fc->next_mid += charge ? charge : 1;
		}
		if (!(flags & 2)) {
			put_le64(h + 40, fc->session_id);
			if (!(get_le32(h + 16) & SMB2_FLAGS_ASYNC_COMMAND)) put_le32(h + 36, fc->tree_id);
		}
		if (!(flags & 4) && get_le16(h + 14) == 0) put_le16(h + 14, 1);
		uint32_t next = get_le32(h + 20);
		if (next == 0 || next > len - off) return;
		off += next;
	}
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	if (ftw->level > 0) remove(path);
	return 0;
}

/* Every input starts from an empty share. */
static void reset_share(void)
{
	chmod(share_dir, 0777);
	nftw(share_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void check_unpublished(void)
{
	const char *what = NULL;
	smb_mutex_lock(&g_server.conn_lock);
	if (!list_empty(&g_server.conns)) what = "a connection";
	smb_mutex_unlock(&g_server.conn_lock);
	smb_mutex_lock(&g_server.session_lock);
	if (!list_empty(&g_server.sessions)) what = "a session";
	smb_mutex_unlock(&g_server.session_lock);
	smb_mutex_lock(&g_server.open_lock);
	if (!list_empty(&g_server.opens)) what = "an open";
	smb_mutex_unlock(&g_server.open_lock);
	if (what) {
		fprintf(stderr, "fuzz_server: %s is still published after conn_teardown\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	unsigned mode = data[0] & 3, dialect_sel = (data[0] >> 2) & 3;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct sockaddr_storage peer;
	memset(&peer, 0, sizeof(peer));
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(50000);
	sin->sin_addr.s_addr = htonl(0x7f000001);

	struct fuzz_conn fc = { 0 };
	fc.peer_fd = sv[1];
	wbuf_init(&fc.rx, 65536);
	fc.c = conn_accept(&fake_loop, sv[0], &peer);
	if (!fc.c) die("conn_accept");
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = conn_epoll_item(fc.c) };
	epoll_ctl(fake_loop.epfd, EPOLL_CTL_ADD, sv[0], &ev);

	bool ready = true;
	if (mode != 3) {
		ready = do_negotiate(&fc, dialect_sel) && do_login(&fc);
		if (ready && mode == 0) ready = do_tree_connect(&fc, "share");
		if (ready && mode == 1) ready = do_tree_connect(&fc, "IPC$");
		if (!ready) {
			fprintf(stderr, "fuzz_server: the login prefix failed (mode %u, dialect %u)\n", mode, dialect_sel);
			abort();
		}
	}

	size_t off = 1;
	while (off + 4 <= size && !conn_is_dead(fc.c)) {
		uint32_t word = get_le32(data + off);
		off += 4;
		size_t len = word & 0x00FFFFFFu;
		uint8_t flags = (uint8_t)(word >> 24);
		if (len > size - off) len = size - off;
		/* Exact-size private copy: ASan flags reads past the message, and
		 * the harness may patch ids in it. */
		uint8_t *m = malloc(len ? len : 1);
		if (!m) break;
		memcpy(m, data + off, len);
		off += len;
		patch_chain(&fc, m, len, flags);
		send_msg(&fc, m, len);
		free(m);
	}

	conn_disconnect(fc.c, "end of fuzz input");
	conn_teardown(fc.c);   /* closes sv[0] and drops the loop's reference */
	close(sv[1]);
	wbuf_free(&fc.rx);
	check_unpublished();
	reset_share();
	return 0;
}
