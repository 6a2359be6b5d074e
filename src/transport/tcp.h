/* TCP transport: direct TCP with the 4-byte length prefix (MS-SMB2 2.1).
 * Shared by server and client.  SMB Direct will be a second implementation
 * of the same framing contract. */
#ifndef SMBKIT_TRANSPORT_TCP_H
#define SMBKIT_TRANSPORT_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Largest SMB2 message (including compound chains) we accept: 8 MiB of
 * payload plus headers.  The 4-byte prefix allows 24 bits (16 MiB). */
#define TCP_MAX_MESSAGE (8u * 1024 * 1024 + 64 * 1024)

/* Parses "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT"/"PORT" (all addresses).
 * Returns 0 and fills ss/len, or -1. */
int tcp_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* Creates a non-blocking listening socket.  Returns fd or -errno. */
int tcp_listen(const struct sockaddr_storage *ss, socklen_t len);
/* Formats an address as "addr:port" / "[addr]:port". */
void tcp_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen);

/* Frame parsing: given buffered bytes, returns the length of the complete
 * message at the start (after the 4-byte prefix) in *msg_len and 1, 0 if more
 * bytes are needed, -1 if the frame is invalid (not a session message, or too
 * large): the connection must be dropped. */
int tcp_frame_parse(const uint8_t *buf, size_t len, size_t *msg_len);
/* Writes the 4-byte prefix for a message of len bytes. */
void tcp_frame_header(uint8_t out[4], size_t len);

#endif
