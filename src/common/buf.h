/* Bounds-checked little-endian readers and growable writers.
 *
 * Every SMB2 length, offset and count arrives from the network.  Decoders
 * therefore never index a buffer directly: they go through struct rbuf,
 * whose accessors return zero and latch `err` once anything would read past
 * the end.  A decoder checks `err` once at the end instead of after every
 * field, which keeps the wire code short and still impossible to overrun.
 *
 * struct wbuf is the matching writer: it grows on demand (malloc) and
 * latches `err` on allocation failure or on exceeding `limit`.
 */
#ifndef SMBKIT_COMMON_BUF_H
#define SMBKIT_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32); }
static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v) { put_le32(p, (uint32_t)v); put_le32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- reader ---- */
struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

static inline struct rbuf rbuf_make(const void *p, size_t len)
{
	struct rbuf b = { .p = (const uint8_t *)p, .len = len, .off = 0, .err = false };
	return b;
}
static inline bool rbuf_has(struct rbuf *b, size_t n)
{
	if (b->err || n > b->len - b->off) {
		b->err = true;
		return false;
	}
	return true;
}
static inline size_t rbuf_left(const struct rbuf *b) { return b->err ? 0 : b->len - b->off; }
static inline uint8_t rbuf_u8(struct rbuf *b) { return rbuf_has(b, 1) ? b->p[b->off++] : 0; }
static inline uint16_t rbuf_u16(struct rbuf *b)
{
	if (!rbuf_has(b, 2)) return 0;
	uint16_t v = get_le16(b->p + b->off); b->off += 2; return v;
}
static inline uint32_t rbuf_u32(struct rbuf *b)
{
	if (!rbuf_has(b, 4)) return 0;
	uint32_t v = get_le32(b->p + b->off); b->off += 4; return v;
}
static inline uint64_t rbuf_u64(struct rbuf *b)
{
	if (!rbuf_has(b, 8)) return 0;
	uint64_t v = get_le64(b->p + b->off); b->off += 8; return v;
}
/* Returns a pointer to n bytes inside the buffer (no copy), or NULL. */
static inline const uint8_t *rbuf_ptr(struct rbuf *b, size_t n)
{
	if (!rbuf_has(b, n)) return NULL;
	if (!b->p) return NULL;   /* empty buffer (only n == 0 gets here): no arithmetic on NULL */
	const uint8_t *q = b->p + b->off; b->off += n; return q;
}
static inline void rbuf_copy(struct rbuf *b, void *dst, size_t n)
{
	const uint8_t *q = rbuf_ptr(b, n);
	if (q) memcpy(dst, q, n); else memset(dst, 0, n);
}
static inline void rbuf_skip(struct rbuf *b, size_t n) { (void)rbuf_ptr(b, n); }
static inline void rbuf_seek(struct rbuf *b, size_t off)
{
	if (off > b->len) b->err = true; else b->off = off;
}

/* Checks that [off, off+len) lies inside a message of msg_len bytes, without
 * overflow.  Used for every (offset, length) pair a client sends. */
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t msg_len)
{
	return off <= msg_len && len <= msg_len - off;
}

/* ---- writer ---- */
struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t limit; /* 0 = no limit */
	bool err;
};

void wbuf_init(struct wbuf *w, size_t initial_cap);
void wbuf_free(struct wbuf *w);
/* Makes room for n more bytes; returns pointer to them (zeroed) or NULL. */
uint8_t *wbuf_reserve(struct wbuf *w, size_t n);
void wbuf_u8(struct wbuf *w, uint8_t v);
void wbuf_u16(struct wbuf *w, uint16_t v);
void wbuf_u32(struct wbuf *w, uint32_t v);
void wbuf_u64(struct wbuf *w, uint64_t v);
void wbuf_bytes(struct wbuf *w, const void *p, size_t n);
void wbuf_zero(struct wbuf *w, size_t n);
/* Pads with zeros until (len - base) is a multiple of a (a power of two). */
void wbuf_align(struct wbuf *w, size_t base, size_t a);
/* Patches a value written earlier at absolute offset off. */
void wbuf_set_u16(struct wbuf *w, size_t off, uint16_t v);
void wbuf_set_u32(struct wbuf *w, size_t off, uint32_t v);
/* Detaches the buffer; caller owns the returned memory. */
uint8_t *wbuf_steal(struct wbuf *w, size_t *len);

#endif
