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

#endif
