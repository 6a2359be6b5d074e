#include "common/utf16.h"

#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <pthread.h>
#include <wctype.h>

/* Decodes one UTF-8 code point; returns bytes used or 0 on error. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (n == 0) return 0;
	unsigned char c = s[0];
	if (c < 0x80) { *cp = c; return 1; }
	size_t len;
	uint32_t v, min;
	if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; min = 0x80; }
	else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; min = 0x800; }
	else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; min = 0x10000; }
	else return 0;
	if (n < len) return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
	*cp = v;
	return len;
}

char *utf16le_to_utf8(const uint8_t *p, size_t bytes, size_t *out_len)
{
	if (bytes & 1) return NULL;
	size_t n = bytes / 2;
	char *out = malloc(n * 3 + 1);
	if (!out) return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = get_le16(p + 2 * i);
		if (c >= 0xD800 && c <= 0xDBFF) {
			if (i + 1 >= n) goto bad;
			uint32_t lo = get_le16(p + 2 * (i + 1));
			if (lo < 0xDC00 || lo > 0xDFFF) goto bad;
			c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			i++;
		} else if (c >= 0xDC00 && c <= 0xDFFF) {
			goto bad;
		} else if (c == 0) {
			goto bad;
		}
		if (c < 0x80) out[o++] = (char)c;
		else if (c < 0x800) { out[o++] = (char)(0xC0 | (c >> 6)); out[o++] = (char)(0x80 | (c & 0x3F)); }
		else if (c < 0x10000) {
			out[o++] = (char)(0xE0 | (c >> 12)); out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			out[o++] = (char)(0xF0 | (c >> 18)); out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F)); out[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	out[o] = 0;
	if (out_len) *out_len = o;
	return out;
bad:
	free(out);
	return NULL;
}

long utf8_utf16_size(const char *s, size_t len)
{
	long total = 0;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (!k) return -1;
		total += cp >= 0x10000 ? 4 : 2;
		i += k;
	}
	return total;
}

long utf8_to_utf16le(struct wbuf *w, const char *s, size_t len)
{
	long total = utf8_utf16_size(s, len);
	if (total < 0) return -1;
	uint8_t *q = wbuf_reserve(w, (size_t)total);
	if (!q) return -1;
	size_t i = 0;
	while (i < len) {
		uint32_t cp = 0;   /* validated by utf8_utf16_size above */
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_le16(q, (uint16_t)(0xD800 + (cp >> 10)));
			put_le16(q + 2, (uint16_t)(0xDC00 + (cp & 0x3FF)));
			q += 4;
		} else {
			put_le16(q, (uint16_t)cp);
			q += 2;
		}
		i += k;
	}
	return total;
}

/* Upper-casing by code point needs Unicode character tables: the process
 * may run in the "C" locale, whose towupper() only knows ASCII, so the
 * built-in C.UTF-8 locale (glibc 2.35+) is used explicitly, whatever the
 * process locale is.  Without it (a minimal libc), ASCII folding remains. */
static locale_t fold_locale;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void)
{
	fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

uint32_t unicode_upper(uint32_t cp)
{
	if (cp < 0x80) return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
	pthread_once(&fold_once, fold_init);
	return fold_locale ? (uint32_t)towupper_l((wint_t)cp, fold_locale) : cp;
}

int utf8_casecmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0, j = 0;
	while (i < la && j < lb) {
		uint32_t ca, cb;
		size_t ka = utf8_decode((const unsigned char *)a + i, la - i, &ca);
		size_t kb = utf8_decode((const unsigned char *)b + j, lb - j, &cb);
		if (!ka || !kb) return strcmp(a + i, b + j);
		ca = unicode_upper(ca);
		cb = unicode_upper(cb);
		if (ca != cb) return ca < cb ? -1 : 1;
		i += ka;
		j += kb;
	}
	return (i < la) - (j < lb);
}

uint64_t utf8_casehash(const char *s)
{
	/* FNV-1a over the upper-cased code points, exactly the units
	 * utf8_casecmp compares; from the first byte that is not valid UTF-8
	 * on, utf8_casecmp compares raw bytes, and so does this. */
	uint64_t h = 0xcbf29ce484222325ull;
	size_t len = strlen(s), i = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (!k) {
			for (; i < len; i++) h = (h ^ (unsigned char)s[i] ^ 0x100u) * 0x100000001b3ull;
			break;
		}
		h = (h ^ unicode_upper(cp)) * 0x100000001b3ull;
		i += k;
	}
	return h;
}
