/* libFuzzer target: the SET_INFO input-buffer decoders of wire/fileinfo.h
 * (MS-FSCC 2.4), the EA list parsers and the security descriptor parser.
 * Byte 0 picks the decoder, the rest is the input buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "server/acl.h"
#include "wire/fileinfo.h"
#include "wire/ntstatus.h"

#define MAX_EAS 64

static void run_eas(const uint8_t *m, size_t n, bool full)
{
	struct fileinfo_ea eas[MAX_EAS];
	size_t count = 0, count_only = 0;
	uint32_t st = full ? fileinfo_full_ea_decode(m, n, eas, MAX_EAS, &count)
			   : fileinfo_get_ea_decode(m, n, eas, MAX_EAS, &count);
	/* Counting (out NULL) must agree with decoding. */
	uint32_t st2 = full ? fileinfo_full_ea_decode(m, n, NULL, MAX_EAS, &count_only)
			    : fileinfo_get_ea_decode(m, n, NULL, MAX_EAS, &count_only);
	if (st != st2 || (st == STATUS_SUCCESS && count != count_only)) {
		fprintf(stderr, "fuzz: EA decode and count disagree: 0x%x/%zu vs 0x%x/%zu\n", st, count, st2,
			count_only);
		abort();
	}
	if (st != STATUS_SUCCESS) return;
	if (count > MAX_EAS) abort();
	for (size_t i = 0; i < count; i++) {
		fuzz_check_inside(m, n, eas[i].name, eas[i].name_len, "EA name");
		if (full) fuzz_check_inside(m, n, eas[i].value, eas[i].value_len, "EA value");
	}
	if (full) {
		struct wbuf w;
		wbuf_init(&w, 0);
		size_t wrote = fileinfo_full_ea_encode(&w, eas, count, 65536);
		if (!w.err && wrote == count && count) {
			size_t back = 0;
			if (fileinfo_full_ea_decode(w.p, w.len, NULL, MAX_EAS, &back) != STATUS_SUCCESS || back != count) {
				fprintf(stderr, "fuzz: EA list does not round-trip\n");
				abort();
			}
		}
		for (size_t i = 0; i < count; i++) (void)fileinfo_full_ea_entry_size(&eas[i]);
		wbuf_free(&w);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *m = fuzz_payload_copy(data, size, &n);
	if (!m) return 0;
	switch (data[0] % 9) {
	case 0: {
		struct fileinfo_basic_set b;
		(void)fileinfo_basic_decode(m, n, &b);
		break;
	}
	case 1: {
		struct fileinfo_rename_set r;
		if (fileinfo_rename_decode(m, n, &r) == STATUS_SUCCESS)
			fuzz_check_inside(m, n, r.name, r.name_len, "rename name");
		break;
	}
	case 2: {
		uint8_t v8;
		uint32_t v32;
		uint64_t v64;
		(void)fileinfo_u8_decode(m, n, &v8);
		(void)fileinfo_u32_decode(m, n, &v32);
		(void)fileinfo_u64_decode(m, n, &v64);
		break;
	}
	case 3:
		run_eas(m, n, true);
		break;
	case 4:
		run_eas(m, n, false);
		break;
	case 5:
	case 6: {
		/* A client's security descriptor (SET_INFO, the SecD create
		 * context): parsed by acl_sd_parse; rebuilding it from its parts
		 * must give one that parses again.  fuzz_sd goes further. */
		struct acl_sd sd;
		if (acl_sd_parse(m, n, &sd) == STATUS_SUCCESS) {
			fuzz_check_inside(m, n, sd.owner, sd.owner_len, "SD owner");
			fuzz_check_inside(m, n, sd.group, sd.group_len, "SD group");
			fuzz_check_inside(m, n, sd.dacl, sd.dacl_len, "SD DACL");
			struct wbuf w;
			wbuf_init(&w, 0);
			acl_sd_write(&w, sd.control, sd.owner, sd.owner_len, sd.group, sd.group_len, sd.dacl,
				     sd.dacl_len);
			struct acl_sd again;
			if (!w.err && acl_sd_parse(w.p, w.len, &again) != STATUS_SUCCESS) {
				fprintf(stderr, "fuzz: rebuilt security descriptor does not parse\n");
				abort();
			}
			wbuf_free(&w);
		}
		break;
	}
	case 7: {
		/* Classes with a size table: must not crash on any value. */
		uint8_t cls = n ? m[0] : 0;
		(void)fileinfo_min_size(cls);
		(void)fsinfo_min_size(cls);
		(void)fileinfo_is_variable(cls);
		(void)fsinfo_is_variable(cls);
		break;
	}
	case 8: {
		/* Short-name generation on an arbitrary (NUL-terminated) name. */
		char *name = malloc(n + 1);
		if (name) {
			memcpy(name, m, n);
			name[n] = 0;
			char out[13];
			fileinfo_short_name(name, out);
			if (memchr(out, 0, sizeof(out)) == NULL) abort();
			free(name);
		}
		break;
	}
	}
	free(m);
	return 0;
}
