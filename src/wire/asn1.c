/* Minimal DER reader/writer, see asn1.h. */
#include "wire/asn1.h"

int asn1_read(struct rbuf *b, struct asn1_elem *e)
{
	uint8_t tag = rbuf_u8(b);
	/* Low-tag-number form only: tag number 31 means "more tag octets
	 * follow", which nothing in SPNEGO uses. */
	if (b->err || (tag & 0x1F) == 0x1F) goto bad;
	uint8_t first = rbuf_u8(b);
	if (b->err) goto bad;
	size_t len;
	if (first < 0x80) {
		len = first;
	} else {
		unsigned n = first & 0x7F;
		/* 0x80 is BER's indefinite length, not allowed in DER; more than four
		 * length octets cannot describe anything that fits a security blob. */
		if (n == 0 || n > 4) goto bad;
		len = 0;
		for (unsigned i = 0; i < n; i++) len = (len << 8) | rbuf_u8(b);
		if (b->err) goto bad;
	}
	const uint8_t *val = rbuf_ptr(b, len);
	if (!val && len) goto bad;
	if (b->err) goto bad;
	e->tag = tag;
	e->val = val ? val : b->p + b->off;
	e->len = len;
	return 0;
bad:
	b->err = true;
	e->tag = 0;
	e->val = NULL;
	e->len = 0;
	return -1;
}

int asn1_read_tag(struct rbuf *b, uint8_t tag, struct asn1_elem *e)
{
	if (asn1_read(b, e) != 0) return -1;
	if (e->tag != tag) {
		b->err = true;
		return -1;
	}
	return 0;
}

size_t asn1_begin(struct wbuf *w, uint8_t tag)
{
	wbuf_u8(w, tag);
	wbuf_u8(w, 0); /* length placeholder, fixed up by asn1_end */
	return w->len;
}

void asn1_end(struct wbuf *w, size_t mark)
{
	if (w->err || mark > w->len || mark < 1) return;
	size_t len = w->len - mark;
	if (len < 0x80) {
		w->p[mark - 1] = (uint8_t)len;
		return;
	}
	unsigned n = 0;
	for (size_t v = len; v; v >>= 8) n++;
	if (n > 4) {
		w->err = true;
		return;
	}
	/* Make room for n more length octets and shift the contents up. */
	if (!wbuf_reserve(w, n)) return;
	memmove(w->p + mark + n, w->p + mark, len);
	w->p[mark - 1] = (uint8_t)(0x80 | n);
	for (unsigned i = 0; i < n; i++) w->p[mark + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
}

void asn1_write(struct wbuf *w, uint8_t tag, const void *val, size_t len)
{
	size_t m = asn1_begin(w, tag);
	wbuf_bytes(w, val, len);
	asn1_end(w, m);
}

void asn1_write_enum(struct wbuf *w, uint8_t value)
{
	/* A one-octet ENUMERATED; values above 127 would need a leading zero. */
	uint8_t v[2] = { 0, value };
	if (value < 0x80) asn1_write(w, ASN1_ENUMERATED, v + 1, 1);
	else asn1_write(w, ASN1_ENUMERATED, v, 2);
}
