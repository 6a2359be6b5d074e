/* Test hooks for the NTLMSSP server: published test vectors (MS-NLMP 4.2.4)
 * use a fixed server challenge.  Not for production use. */
#ifndef SMBKIT_AUTH_NTLMSSP_INTERNAL_H
#define SMBKIT_AUTH_NTLMSSP_INTERNAL_H

#include <stdint.h>

struct ntlmssp_server;

/* Makes the next CHALLENGE use this server challenge instead of a random one. */
void ntlmssp_server_set_challenge(struct ntlmssp_server *s, const uint8_t challenge[8]);

#endif
