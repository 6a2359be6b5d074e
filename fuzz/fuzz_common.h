/* Shared bits of the fuzz harnesses. */
#ifndef SMBKIT_FUZZ_COMMON_H
#define SMBKIT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Silences the server's log (errors only unless SMBKIT_FUZZ_LOG=debug...),
 * loads the OpenSSL providers once. */
void fuzz_init_common(void);

/* Harnesses whose byte 0 selects what to run: the rest of the input, copied
 * into a buffer of exactly its size (so ASan sees any read past its end),
 * length in *n.  NULL when the input is empty or memory runs out; the
 * caller frees it. */
uint8_t *fuzz_payload_copy(const uint8_t *data, size_t size, size_t *n);

/* Aborts unless [ptr, ptr+len) lies inside [base, base+size) (a NULL ptr
 * must come with length 0), and reads every byte of it so ASan checks the
 * range too.  what names the field in the message. */
void fuzz_check_inside(const uint8_t *base, size_t size, const void *ptr, size_t len, const char *what);

#endif
