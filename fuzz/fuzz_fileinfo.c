/* libFuzzer target: the SET_INFO input-buffer decoders of wire/fileinfo.h
 * (MS-FSCC 2.4), the EA list parsers and the security descriptor checks.
 * Byte 0 picks the decoder, the rest is the input buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/fileinfo.h"
#include "wire/ntstatus.h"

static volatile uint8_t sink;

static void check_inside(const uint8_t *base, size_t size, const void *ptr, size_t len, const char *what)
{
	const uint8_t *p = ptr;
	if (!p) {
		if (len) { fprintf(stderr, "fuzz: %s: NULL with length %zu\n", what, len); abort(); }
		return;
	}
	if (p < base || p > base + size || len > (size_t)(base + size - p)) {
		fprintf(stderr, "fuzz: %s outside the buffer\n", what);
		abort();
	}
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++) acc ^= p[i];
	sink = acc;
}

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
		check_inside(m, n, eas[i].name, eas[i].name_len, "EA name");
		if (full) check_inside(m, n, eas[i].value, eas[i].value_len, "EA value");
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
	if (size < 1) return 0;
	size_t n = size - 1;
	uint8_t *m = malloc(n ? n : 1);
	if (!m) return 0;
	memcpy(m, data + 1, n);
	switch (data[0] % 9) {
	case 0: {
		struct fileinfo_basic_set b;
		(void)fileinfo_basic_decode(m, n, &b);
		break;
	}
	case 1: {
		struct fileinfo_rename_set r;
		if (fileinfo_rename_decode(m, n, &r) == STATUS_SUCCESS)
			check_inside(m, n, r.name, r.name_len, "rename name");
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
		(void)security_desc_validate(m, n);
		break;
	case 6: {
		struct sd_parts parts;
		if (security_desc_parse(m, n, &parts) == STATUS_SUCCESS) {
			check_inside(m, n, parts.owner, parts.owner_len, "SD owner");
			check_inside(m, n, parts.group, parts.group_len, "SD group");
			check_inside(m, n, parts.dacl, parts.dacl_len, "SD DACL");
			/* Rebuilding from parsed parts must give a valid SD. */
			struct wbuf w;
			wbuf_init(&w, 0);
			uint32_t secinfo = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
					   DACL_SECURITY_INFORMATION;
			security_desc_build(&w, &parts, secinfo);
			if (!w.err && security_desc_validate(w.p, w.len) != STATUS_SUCCESS) {
				fprintf(stderr, "fuzz: rebuilt security descriptor does not validate\n");
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
