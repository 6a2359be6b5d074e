/* libFuzzer target: the security descriptor code of server/acl.h.
 *
 * Input: byte 0 picks the caller's uid (0 = root, else 1000 + byte) and
 * whether a child is a directory (bit 7); the rest is a self-relative SD
 * as a client would send it.  Every SD acl_sd_parse accepts is then run
 * through the access check, the DACL copy of SET_INFO, the query rebuild
 * and inheritance for a new file and a new directory; each SD those write
 * must parse again and lie where the parser said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "server/acl.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

static volatile uint32_t sink;

static void must_parse(const struct wbuf *w, const char *what)
{
	struct acl_sd again;
	if (w->err) return;
	if (acl_sd_parse(w->p, w->len, &again) != STATUS_SUCCESS) {
		fprintf(stderr, "fuzz: the SD written by %s does not parse\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *m = fuzz_payload_copy(data, size, &n);
	if (!m) return 0;
	uint8_t sel = data[0];

	struct acl_sd sd;
	if (acl_sd_parse(m, n, &sd) != STATUS_SUCCESS) goto out;
	fuzz_check_inside(m, n, sd.owner, sd.owner_len, "owner");
	fuzz_check_inside(m, n, sd.group, sd.group_len, "group");
	fuzz_check_inside(m, n, sd.dacl, sd.dacl_len, "DACL");

	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx;
	while (sd.dacl && acl_next_ace(sd.dacl, sd.dacl_len, &pos, &idx, &ace)) {
		fuzz_check_inside(m, n, ace.raw, ace.size, "ACE");
		fuzz_check_inside(m, n, ace.sid, ace.sid_len, "ACE SID");
	}

	uint32_t uid = (sel & 0x7f) ? 1000u + (sel & 0x7f) : 0;
	uint32_t groups[2] = { 100, 1000 };
	struct acl_token tok;
	if (acl_token_init(&tok, uid, 100, groups, 2, sel & 1, false) < 0) goto out;
	struct acl_sid fallback;
	acl_sid_make(&fallback, 22, 2, (uint32_t[]){ 1, uid });
	uint32_t g = acl_granted(&sd, &tok, fallback.b, fallback.len);
	if (!sd.dacl && g != FILE_ALL_ACCESS) abort();
	sink = g;

	/* SET_INFO's mapped DACL copy, written as a whole SD. */
	struct wbuf dacl, w;
	wbuf_init(&dacl, 0);
	wbuf_init(&w, 0);
	if (sd.dacl) acl_dacl_copy_mapped(&dacl, sd.dacl, sd.dacl_len);
	acl_sd_write(&w, sd.control, sd.owner, sd.owner_len, sd.group, sd.group_len, sd.dacl ? dacl.p : NULL,
		     dacl.len);
	must_parse(&w, "acl_sd_write");
	wbuf_free(&w);
	wbuf_free(&dacl);

	/* Inheritance for a new child, both kinds. */
	struct acl_sid owner = tok.sids[0], group = tok.sids[1];
	for (int dir = 0; dir < 2; dir++) {
		wbuf_init(&w, 0);
		acl_sd_inherit(&w, &sd, dir, &owner, &group);
		must_parse(&w, "acl_sd_inherit");
		(void)acl_sd_has_inheritable(&sd, dir);
		wbuf_free(&w);
	}
	acl_token_free(&tok);
out:
	free(m);
	return 0;
}
