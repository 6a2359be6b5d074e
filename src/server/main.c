/* smbkitd: command line, configuration, listening sockets, signals. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/durable.h"
#include "server/loop.h"
#include "server/server.h"
#include "server/notify_watch.h"
#include "transport/tcp.h"

struct smbd_server g_server;

struct smbd_config *server_config_get(void)
{
	smb_mutex_lock(&g_server.config_lock);
	struct smbd_config *c = g_server.cfg;
	config_get(c);
	smb_mutex_unlock(&g_server.config_lock);
	return c;
}

/* Command-line settings, applied on top of the config file at start and at
 * every SIGHUP reload. */
struct cli {
	const char *config_path;
	const char *shares[64]; int nshares;
	const char *listen[16]; int nlisten;
	const char *users_file;
	bool guest;
	bool demo;
	bool signing_required;
	int log_level;
	bool foreground;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: smbkitd [options]\n"
		"  --share NAME=PATH     share a directory (repeatable)\n"
		"  --listen ADDR:PORT    listen address (repeatable; default [::]:445 and 0.0.0.0:445)\n"
		"  --users FILE          user database written by smbkit-passwd\n"
		"  --guest               map unknown users and anonymous logins to the guest account,\n"
		"                        and allow guests on command-line shares\n"
		"  -c, --config FILE     smb.conf-style configuration file\n"
		"  --signing-required    require signed messages\n"
		"  --foreground          do not detach\n"
		"  --log-level LEVEL     error, warn, info (default), debug, trace\n"
		"  --demo                share a demo directory with a demo user (demo/demo)\n"
		"  -h, --help            this text\n");
}

/* SIGUSR1: one log line with the objects published in the server's tables
 * and the heap in use, so tests/stress can check that everything a storm of
 * clients created is gone once they are (and that memory does not grow from
 * one storm to the next).  Runs on the main thread, which holds no lock: the
 * table locks are taken one at a time, in rank order (session_table, then
 * each session's lock), for a moment each. */
static void objects_dump(void)
{
	unsigned conns = 0, sessions = 0, trees = 0, opens = 0;
	struct list_head *pos;
	smb_mutex_lock(&g_server.conn_lock);
	list_for_each(pos, &g_server.conns) conns++;
	smb_mutex_unlock(&g_server.conn_lock);
	smb_mutex_lock(&g_server.session_lock);
	list_for_each(pos, &g_server.sessions) {
		struct smbd_session *s = list_entry(pos, struct smbd_session, global_link);
		sessions++;
		smb_mutex_lock(&s->lock);
		trees += s->ntrees;
		smb_mutex_unlock(&s->lock);
	}
	smb_mutex_unlock(&g_server.session_lock);
	smb_mutex_lock(&g_server.open_lock);
	list_for_each(pos, &g_server.opens) opens++;
	smb_mutex_unlock(&g_server.open_lock);
	/* glibc's view of the heap: bytes handed out by malloc and not yet
	 * freed (sanitizer builds use their own allocator; this reads 0 there). */
	struct mallinfo2 mi = mallinfo2();
	log_info("objects: conns=%u sessions=%u trees=%u opens=%u heap_in_use=%zu", conns, sessions, trees, opens,
		 (size_t)mi.uordblks + (size_t)mi.hblkhd);
}

static const char *demo_dir(void)
{
	static char path[256];
	const char *base = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/smbkit-demo", base && *base ? base : "/var/tmp");
	return path;
}

/* Builds a config from the file (if any) and the command line. */
static struct smbd_config *build_config(const struct cli *o, char *err, size_t errlen)
{
	struct smbd_config *c = o->config_path ? config_load_file(o->config_path, err, errlen) : config_new_default();
	if (!c) return NULL;
	if (o->guest) c->map_guest = true;
	if (o->signing_required) c->signing_required = true;
	if (o->users_file) {
		free(c->users_file);
		c->users_file = strdup(o->users_file);
	}
	for (int i = 0; i < o->nshares; i++) {
		if (config_add_share_arg(c, o->shares[i], err, errlen) != 0) {
			config_put(c);
			return NULL;
		}
	}
	if (o->nlisten) {
		char **l = calloc((size_t)o->nlisten + 1, sizeof(char *));
		for (int i = 0; l && i < o->nlisten; i++) l[i] = strdup(o->listen[i]);
		if (c->listen) {
			for (char **p = c->listen; *p; p++) free(*p);
			free(c->listen);
		}
		c->listen = l;
	}
	if (o->log_level >= 0) c->log_level = o->log_level;
	if (config_finalize(c, err, errlen) != 0) {
		config_put(c);
		return NULL;
	}
	if (o->demo) {
		/* The demo user lives only in memory: name demo, password demo. */
		struct smbd_user *u = realloc(c->users, (c->nusers + 1) * sizeof(*u));
		if (u) {
			c->users = u;
			u[c->nusers].name = strdup("demo");
			u[c->nusers].unix_name = strdup(getenv("SUDO_USER") ? getenv("SUDO_USER") : "nobody");
			nt_hash_password("demo", u[c->nusers].nt_hash);
			c->nusers++;
		}
	}
	return c;
}

static int open_listeners(const struct smbd_config *c, bool demo, int *fds, int max, int *port_out)
{
	const char *defaults[] = { "[::]:445", "0.0.0.0:445", NULL };
	const char *demo_fallback[] = { "[::]:4450", "0.0.0.0:4450", NULL };
	const char *const *list = c->listen ? (const char *const *)c->listen : defaults;
	int n = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		n = 0;
		for (int i = 0; list[i] && n < max; i++) {
			struct sockaddr_storage ss;
			socklen_t len;
			if (tcp_parse_addr(list[i], &ss, &len) != 0) {
				log_error("invalid listen address '%s'", list[i]);
				return -1;
			}
			int fd = tcp_listen(&ss, len);
			if (fd < 0) {
				if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
					log_warn("listen %s: %s (skipped)", list[i], strerror(-fd));
					continue;
				}
				log_error("listen %s: %s", list[i], strerror(-fd));
				for (int k = 0; k < n; k++) close(fds[k]);
				n = -1;
				break;
			}
			*port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				: ((struct sockaddr_in6 *)&ss)->sin6_port);
			log_info("listening on %s", list[i]);
			fds[n++] = fd;
		}
		if (n > 0) return n;
		if (!demo || c->listen || attempt) break;
		log_warn("port 445 is not available; the demo listens on 4450 instead");
		list = demo_fallback;
	}
	return n > 0 ? n : -1;
}

int main(int argc, char **argv)
{
	struct cli o = { .log_level = -1 };
	enum { OPT_SHARE = 256, OPT_LISTEN, OPT_USERS, OPT_GUEST, OPT_FG, OPT_LOGLEVEL, OPT_DEMO, OPT_SIGN };
	static const struct option opts[] = {
		{ "share", required_argument, NULL, OPT_SHARE },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "users", required_argument, NULL, OPT_USERS },
		{ "guest", no_argument, NULL, OPT_GUEST },
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, OPT_FG },
		{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
		{ "demo", no_argument, NULL, OPT_DEMO },
		{ "signing-required", no_argument, NULL, OPT_SIGN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	log_init("smbkitd");
	int ch;
	while ((ch = getopt_long(argc, argv, "c:hF", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SHARE:
			if (o.nshares == 64) { fprintf(stderr, "smbkitd: too many --share options\n"); return 2; }
			o.shares[o.nshares++] = optarg;
			break;
		case OPT_LISTEN:
			if (o.nlisten == 16) { fprintf(stderr, "smbkitd: too many --listen options\n"); return 2; }
			o.listen[o.nlisten++] = optarg;
			break;
		case OPT_USERS: o.users_file = optarg; break;
		case OPT_GUEST: o.guest = true; break;
		case 'c': o.config_path = optarg; break;
		case 'F':
		case OPT_FG: o.foreground = true; break;
		case OPT_LOGLEVEL:
			o.log_level = log_level_parse(optarg);
			if (o.log_level < 0) { fprintf(stderr, "smbkitd: unknown log level '%s'\n", optarg); return 2; }
			break;
		case OPT_DEMO: o.demo = true; o.foreground = true; break;
		case OPT_SIGN: o.signing_required = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) { usage(stderr); return 2; }

	static char demo_share[300];
	if (o.demo) {
		const char *d = demo_dir();
		mkdir(d, 0777);
		chmod(d, 01777);
		snprintf(demo_share, sizeof(demo_share), "demo=%s", d);
		o.shares[o.nshares++] = demo_share;
	}

	if (crypto_init() != 0) {
		fprintf(stderr, "smbkitd: OpenSSL providers (default, legacy) could not be loaded\n");
		return 1;
	}
	if (o.log_level >= 0) log_current_level = o.log_level;
	char err[512] = "";
	struct smbd_config *cfg = build_config(&o, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "smbkitd: %s\n", err);
		return 1;
	}
	if (o.log_level < 0) log_current_level = cfg->log_level;

	smb_mutex_init(&g_server.config_lock, LOCK_RANK_CONFIG, "config");
	smb_mutex_init(&g_server.conn_lock, LOCK_RANK_CONN_TABLE, "conn_table");
	smb_mutex_init(&g_server.session_lock, LOCK_RANK_SESSION_TABLE, "session_table");
	smb_mutex_init(&g_server.open_lock, LOCK_RANK_OPEN_TABLE, "open_table");
	list_init(&g_server.conns);
	list_init(&g_server.sessions);
	list_init(&g_server.opens);
	atomic_init(&g_server.next_session_id, 1);
	atomic_init(&g_server.next_file_id, 1);
	crypto_random(g_server.guid, 16);
	g_server.start_time = nt_time_now();
	g_server.cfg = cfg;

	int lfds[32], port = 445;
	int nl = open_listeners(cfg, o.demo, lfds, 32, &port);
	if (nl < 0) return 1;

	if (!o.foreground && daemon(0, 1) != 0) {
		log_error("daemon: %s", strerror(errno));
		return 1;
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nloops = ncpu > 0 ? (int)ncpu : 1;
	if (nloops > 64) nloops = 64;
	/* Durable handles: file-id epoch, persistent store, scavenger. */
	durable_startup(cfg);
	if (loops_start(lfds, nl, nloops) != 0) {
		log_error("could not start event loops");
		return 1;
	}
	for (size_t i = 0; i < cfg->nshares; i++)
		if (!cfg->shares[i]->ipc)
			log_info("share '%s' -> %s%s", cfg->shares[i]->name, cfg->shares[i]->path,
				 cfg->shares[i]->read_only ? " (read-only)" : "");
	if (o.demo) {
		printf("\nsmbkitd demo is running: share 'demo' at %s, user 'demo', password 'demo'.\n"
		       "Connect with:\n\n  smbclient //127.0.0.1/demo -p %d -U demo%%demo\n\n"
		       "Press Ctrl-C to stop.\n\n", demo_dir(), port);
		fflush(stdout);
	}
	log_info("smbkitd ready (%d event loops)", nloops);

	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0) continue;
		if (sig == SIGUSR1) {
			objects_dump();
			continue;
		}
		if (sig == SIGHUP) {
			char rerr[512] = "";
			struct smbd_config *nc = build_config(&o, rerr, sizeof(rerr));
			if (!nc) {
				log_error("reload failed, keeping the old configuration: %s", rerr);
				continue;
			}
			log_current_level = o.log_level >= 0 ? o.log_level : nc->log_level;
			smb_mutex_lock(&g_server.config_lock);
			struct smbd_config *old = g_server.cfg;
			g_server.cfg = nc;
			smb_mutex_unlock(&g_server.config_lock);
			config_put(old);   /* connections keep their own snapshot reference */
			log_info("configuration reloaded; new connections use it");
			continue;
		}
		log_info("signal %d: shutting down", sig);
		break;
	}
	loops_stop();
	durable_shutdown();        /* after the loops: every disconnect is done */
	notify_watch_shutdown();   /* every watch went with the connections */
	for (int i = 0; i < nl; i++) close(lfds[i]);
	config_put(g_server.cfg);
	return 0;
}
