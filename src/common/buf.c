#include "common/buf.h"

#include <stdlib.h>

void wbuf_init(struct wbuf *w, size_t initial_cap)
{
	memset(w, 0, sizeof(*w));
	if (initial_cap) {
		w->p = malloc(initial_cap);
		if (!w->p) w->err = true; else w->cap = initial_cap;
	}
}

void wbuf_free(struct wbuf *w)
{
	free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
}

uint8_t *wbuf_reserve(struct wbuf *w, size_t n)
{
	if (w->err) return NULL;
	if (n == 0) return w->p ? w->p + w->len : NULL;   /* nothing to reserve; w->p may be NULL */
	if (n > SIZE_MAX / 2 - w->len || (w->limit && w->len + n > w->limit)) {
		w->err = true;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t ncap = w->cap ? w->cap : 256;
		while (ncap < w->len + n) ncap *= 2;
		uint8_t *np = realloc(w->p, ncap);
		if (!np) {
			w->err = true;
			return NULL;
		}
		w->p = np;
		w->cap = ncap;
	}
	uint8_t *q = w->p + w->len;
	memset(q, 0, n);
	w->len += n;
	return q;
}

void wbuf_u8(struct wbuf *w, uint8_t v) { uint8_t *q = wbuf_reserve(w, 1); if (q) *q = v; }
void wbuf_u16(struct wbuf *w, uint16_t v) { uint8_t *q = wbuf_reserve(w, 2); if (q) put_le16(q, v); }
void wbuf_u32(struct wbuf *w, uint32_t v) { uint8_t *q = wbuf_reserve(w, 4); if (q) put_le32(q, v); }
void wbuf_u64(struct wbuf *w, uint64_t v) { uint8_t *q = wbuf_reserve(w, 8); if (q) put_le64(q, v); }
void wbuf_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (!n) return;
	uint8_t *q = wbuf_reserve(w, n);
	if (q) memcpy(q, p, n);
}
void wbuf_zero(struct wbuf *w, size_t n) { (void)wbuf_reserve(w, n); }
void wbuf_align(struct wbuf *w, size_t base, size_t a)
{
	if (w->err || w->len < base) return;
	size_t rel = w->len - base;
	size_t pad = (a - (rel & (a - 1))) & (a - 1);
	wbuf_zero(w, pad);
}
void wbuf_set_u16(struct wbuf *w, size_t off, uint16_t v) { if (!w->err && off + 2 <= w->len) put_le16(w->p + off, v); }
void wbuf_set_u32(struct wbuf *w, size_t off, uint32_t v) { if (!w->err && off + 4 <= w->len) put_le32(w->p + off, v); }
uint8_t *wbuf_steal(struct wbuf *w, size_t *len)
{
	uint8_t *p = w->p;
	if (len) *len = w->len;
	w->p = NULL;
	w->len = w->cap = 0;
	return p;
}
