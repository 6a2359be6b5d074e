/* UTF-16LE <-> UTF-8 conversion and Windows-style case folding.
 * SMB2 carries every name as UTF-16LE; the POSIX side uses UTF-8. */
#ifndef SMBKIT_COMMON_UTF16_H
#define SMBKIT_COMMON_UTF16_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Converts `bytes` bytes of UTF-16LE to a NUL-terminated malloc'd UTF-8
 * string.  Returns NULL on odd length, unpaired surrogates, embedded NUL or
 * allocation failure.  *out_len (optional) receives strlen of the result. */
char *utf16le_to_utf8(const uint8_t *p, size_t bytes, size_t *out_len);
/* Appends the UTF-16LE form of a UTF-8 string (no terminator) to w.
 * Returns the number of bytes appended, or -1 on invalid UTF-8. */
long utf8_to_utf16le(struct wbuf *w, const char *s, size_t len);
/* Size in bytes of the UTF-16LE form, or -1 on invalid UTF-8. */
long utf8_utf16_size(const char *s, size_t len);
/* Compares two UTF-8 strings the way Windows compares names: case-insensitive
 * by simple upper-casing of each code point.  Returns 0 when equal. */
int utf8_casecmp(const char *a, const char *b);
/* The simple upper-case mapping of one code point, from Unicode's tables
 * whatever the process locale (utf8_casecmp, wildcards, NTLM user names). */
uint32_t unicode_upper(uint32_t cp);
/* A hash of the case-folded form: strings utf8_casecmp calls equal have
 * equal hashes (for case-insensitive name tables). */
uint64_t utf8_casehash(const char *s);

#endif
