/* Minimal DER (ITU-T X.690) reader and writer: just what SPNEGO needs.
 * Tags are single-byte (low-tag-number form); lengths may use the long form
 * with up to four length octets; the indefinite form (BER) is rejected.
 * Everything is bounds-checked against the enclosing buffer. */
#ifndef SMBKIT_WIRE_ASN1_H
#define SMBKIT_WIRE_ASN1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Universal and context tags used by SPNEGO (RFC 4178) and GSS-API (RFC 2743). */
#define ASN1_BOOLEAN      0x01
#define ASN1_INTEGER      0x02
#define ASN1_BIT_STRING   0x03
#define ASN1_OCTET_STRING 0x04
#define ASN1_OID          0x06
#define ASN1_ENUMERATED   0x0A
#define ASN1_GENERAL_STRING 0x1B
#define ASN1_SEQUENCE     0x30
#define ASN1_APPLICATION0 0x60 /* [APPLICATION 0] constructed: GSS-API InitialContextToken */
#define ASN1_CONTEXT(n)   (0xA0 | (n)) /* [n] constructed, explicit */

/* One element: its tag and a view of its contents (pointing into the input). */
struct asn1_elem {
	uint8_t tag;
	const uint8_t *val;
	size_t len;
};

/* Reads one TLV at the current position of b and advances past it.
 * Returns 0, or -1 (and sets b->err) if the element is malformed or does not
 * fit in the buffer. */
int asn1_read(struct rbuf *b, struct asn1_elem *e);
/* Like asn1_read but also requires the tag to be `tag`. */
int asn1_read_tag(struct rbuf *b, uint8_t tag, struct asn1_elem *e);
/* A reader over an element's contents. */
static inline struct rbuf asn1_contents(const struct asn1_elem *e) { return rbuf_make(e->val, e->len); }

/* ---- writer ----
 * Constructed elements are written with begin/end: begin writes the tag and a
 * one-byte length placeholder; end patches the real length, moving the
 * contents up when the long form needs more octets. */
size_t asn1_begin(struct wbuf *w, uint8_t tag);
void asn1_end(struct wbuf *w, size_t mark);
/* A primitive element with the given contents. */
void asn1_write(struct wbuf *w, uint8_t tag, const void *val, size_t len);
void asn1_write_enum(struct wbuf *w, uint8_t value);

#endif
