/* Definitions that smbkitd's main.c normally provides, so harnesses can link
 * the server library without main(), and one-time process setup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static volatile uint8_t inside_sink;

uint8_t *fuzz_payload_copy(const uint8_t *data, size_t size, size_t *n)
{
	if (size < 1) return NULL;
	*n = size - 1;
	uint8_t *m = malloc(*n ? *n : 1);
	if (m) memcpy(m, data + 1, *n);
	return m;
}

void fuzz_check_inside(const uint8_t *base, size_t size, const void *ptr, size_t len, const char *what)
{
	const uint8_t *p = ptr;
	if (!p) {
		if (len) {
			fprintf(stderr, "fuzz: %s: NULL with length %zu\n", what, len);
			abort();
		}
		return;
	}
	if (p < base || p > base + size || len > (size_t)(base + size - p)) {
		fprintf(stderr, "fuzz: %s outside the buffer\n", what);
		abort();
	}
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++) acc ^= p[i];
	inside_sink = acc;
}
