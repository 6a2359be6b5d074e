/* Directory snapshot for QUERY_DIRECTORY and the MS-FSA wildcard matcher. */
#include "server/dir_enum.h"

#include "common/utf16.h"
#include "server/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wctype.h>

void dir_enum_free(struct smbd_dir_enum *d)
{
	if (!d) return;
	if (d->dir) closedir(d->dir);
	free(d->pending);
	free(d->pattern);
	free(d);
}

int dir_enum_start(struct smbd_dir_enum *d, int dirfd)
{
	if (d->dir) closedir(d->dir);
	d->dir = NULL;
	free(d->pending);
	d->pending = NULL;
	d->dots = 0;
	/* A fresh descriptor: the open's own fd position stays untouched and
	 * a restart sees the directory as it is now. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -errno;
	d->dir = fdopendir(fd);
	if (!d->dir) {
		int e = errno;
		close(fd);
		return -e;
	}
	return 0;
}

const char *dir_enum_peek(struct smbd_dir_enum *d)
{
	if (d->pending) return d->pending;
	if (d->dots < 2) {
		/* Windows lists "." and ".." first, for the share root too. */
		d->pending = strdup(d->dots == 0 ? "." : "..");
		if (d->pending) d->dots++;
		return d->pending;
	}
	if (!d->dir) return NULL;
	struct dirent *de;
	while ((de = readdir(d->dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
		/* The stream store (vfs.h) is not part of the share's namespace. */
		if (!strcmp(de->d_name, VFS_STREAM_DIR)) continue;
		d->pending = strdup(de->d_name);
		return d->pending;
	}
	return NULL;
}

void dir_enum_advance(struct smbd_dir_enum *d)
{
	free(d->pending);
	d->pending = NULL;
}

/* Decodes UTF-8 into upper-cased code points; invalid bytes pass through
 * as themselves so that no name is unmatchable.  Returns the count. */
static size_t to_codepoints(const char *s, uint32_t *out, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (*p && n < max) {
		uint32_t c = *p;
		size_t len = 1;
		if (c >= 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
			c = ((c & 7u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
			len = 4;
		} else if (c >= 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
			c = ((c & 0xFu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
			len = 3;
		} else if (c >= 0xC0 && (p[1] & 0xC0) == 0x80) {
			c = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
			len = 2;
		}
		out[n++] = unicode_upper(c);
		p += len;
	}
	return n;
}

bool wildcard_is_literal(const char *p)
{
	return strpbrk(p, "*?<>\"") == NULL;
}

/* The matcher simulates the expression as a nondeterministic automaton:
 * state i means "pattern[0..i) has matched the name so far".  That keeps
 * the cost at O(pattern * name) for any pattern, where naive backtracking
 * over several '*' is exponential. */
#define WC_MAX 1024

static void closure(const uint32_t *pat, size_t pn, const uint32_t *name, size_t nn, size_t k,
		    size_t last_dot, uint8_t *st)
{
	/* Epsilon moves at name position k, in pattern order so that chains
	 * ("**", ">>") propagate in one pass. */
	for (size_t i = 0; i < pn; i++) {
		if (!st[i]) continue;
		uint32_t c = pat[i];
		bool at_end = k == nn;
		if (c == '*') st[i + 1] = 1;
		else if (c == '<') st[i + 1] = 1;
		else if (c == '>' && (at_end || name[k] == '.')) st[i + 1] = 1;
		else if (c == '"' && at_end) st[i + 1] = 1;
	}
	(void)last_dot;
}

bool wildcard_match(const char *pattern, const char *name)
{
	if (!strcmp(pattern, "*")) return true;
	size_t plen = strlen(pattern), nlen = strlen(name);
	if (plen > WC_MAX || nlen > WC_MAX) return false;
	uint32_t pat[WC_MAX], nm[WC_MAX];
	size_t pn = to_codepoints(pattern, pat, WC_MAX);
	size_t nn = to_codepoints(name, nm, WC_MAX);
	size_t last_dot = (size_t)-1;
	for (size_t k = 0; k < nn; k++)
		if (nm[k] == '.') last_dot = k;
	uint8_t cur[WC_MAX + 1], nxt[WC_MAX + 1];
	memset(cur, 0, pn + 1);
	cur[0] = 1;
	closure(pat, pn, nm, nn, 0, last_dot, cur);
	for (size_t k = 0; k < nn; k++) {
		memset(nxt, 0, pn + 1);
		uint32_t ch = nm[k];
		bool any = false;
		for (size_t i = 0; i < pn; i++) {
			if (!cur[i]) continue;
			uint32_t c = pat[i];
			switch (c) {
			case '*':
				nxt[i] = 1;
				break;
			case '<':
				/* DOS_STAR: any characters up to and including the
				 * last '.' of the name, none after it. */
				if (last_dot == (size_t)-1 || k < last_dot) nxt[i] = 1;
				else if (k == last_dot) nxt[i + 1] = 1;
				break;
			case '?':
				nxt[i + 1] = 1;
				break;
			case '>':
				/* DOS_QM: any one character but '.'; at '.' or the end
				 * it matches nothing (handled in closure). */
				if (ch != '.') nxt[i + 1] = 1;
				break;
			case '"':
				/* DOS_DOT: a '.' (or nothing at the end of the name). */
				if (ch == '.') nxt[i + 1] = 1;
				break;
			default:
				if (c == ch) nxt[i + 1] = 1;
				break;
			}
		}
		closure(pat, pn, nm, nn, k + 1, last_dot, nxt);
		for (size_t i = 0; i <= pn; i++)
			if (nxt[i]) any = true;
		if (!any) return false;
		memcpy(cur, nxt, pn + 1);
	}
	return cur[pn] != 0;
}
