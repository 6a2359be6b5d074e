/* Small helpers shared by the unit tests. */
#ifndef SMBKIT_TESTS_UNIT_TEST_UTIL_H
#define SMBKIT_TESTS_UNIT_TEST_UTIL_H

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes a hex string (whitespace ignored) into a malloc'd buffer. */
static inline uint8_t *hex_decode(const char *hex, size_t *out_len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);
	size_t o = 0;
	int hi = -1;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)hex[i];
		if (isspace(c)) continue;
		int v = isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10);
		if (hi < 0) {
			hi = v;
		} else {
			out[o++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	*out_len = o;
	return out;
}

/* Decodes exactly n bytes of hex into a fixed buffer. */
static inline void hex_fixed(const char *hex, uint8_t *dst, size_t n)
{
	size_t len;
	uint8_t *p = hex_decode(hex, &len);
	memset(dst, 0, n);
	memcpy(dst, p, len < n ? len : n);
	free(p);
}

#endif
