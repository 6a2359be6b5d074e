/* libFuzzer target: SPNEGO token parsing (RFC 4178) and the DER reader
 * under it.  Byte 0 chooses: even = spnego_decode on the rest; odd = a
 * recursive walk of the rest as DER with asn1_read. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/asn1.h"
#include "wire/spnego.h"

/* Walks constructed elements down to a bounded depth. */
static void walk(const uint8_t *base, size_t size, struct rbuf *b, int depth)
{
	while (rbuf_left(b) > 0) {
		struct asn1_elem e;
		if (asn1_read(b, &e) != 0) return;
		fuzz_check_inside(base, size, e.val, e.len, "DER value");
		if ((e.tag & 0x20) && depth < 16) {
			struct rbuf in = asn1_contents(&e);
			walk(base, size, &in, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *m = fuzz_payload_copy(data, size, &n);
	if (!m) return 0;
	if (data[0] & 1) {
		struct rbuf b = rbuf_make(m, n);
		walk(m, n, &b, 0);
	} else {
		struct spnego_token t;
		if (spnego_decode(m, n, &t) == 0) {
			if (t.nmechs > 8) abort();
			fuzz_check_inside(m, n, t.mech_token, t.mech_token_len, "mechToken");
			fuzz_check_inside(m, n, t.mic, t.mic_len, "mechListMIC");
			/* Echo the token back the way the server answers. */
			struct wbuf w;
			wbuf_init(&w, 0);
			spnego_encode_resp(&w, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP, t.mech_token,
					   t.mech_token_len);
			if (!w.err) {
				struct spnego_token again;
				if (spnego_decode(w.p, w.len, &again) != 0) abort();
			}
			wbuf_free(&w);
		}
	}
	free(m);
	return 0;
}
