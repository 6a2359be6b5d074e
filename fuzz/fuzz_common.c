/* Definitions that smbkitd's main.c normally provides, so harnesses can link
 * the server library without main(), and one-time process setup. */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "fuzz_common.h"
#include "server/server.h"

struct smbd_server g_server;

struct smbd_config *server_config_get(void)
{
	smb_mutex_lock(&g_server.config_lock);
	struct smbd_config *c = g_server.cfg;
	config_get(c);
	smb_mutex_unlock(&g_server.config_lock);
	return c;
}

void fuzz_init_common(void)
{
	static int done;
	if (done) return;
	done = 1;
	log_init("fuzz");
	/* Logging every malformed request would make the fuzzer I/O bound;
	 * SMBKIT_FUZZ_LOG=debug (or info, trace) brings it back for triage. */
	const char *lvl = getenv("SMBKIT_FUZZ_LOG");
	int parsed = lvl ? log_level_parse(lvl) : -1;
	log_current_level = parsed >= 0 ? parsed : -1;
	if (crypto_init() != 0) {
		fprintf(stderr, "fuzz: OpenSSL providers could not be loaded\n");
		abort();
	}
}
