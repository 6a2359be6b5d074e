/* SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41): the 52-byte header in front of an
 * encrypted SMB2 message (SMB 3.x only).
 *
 *   0  ProtocolId           0xFD 'S' 'M' 'B'
 *   4  Signature[16]        the AEAD tag
 *  20  Nonce[16]            11 bytes used by CCM, 12 by GCM, the rest zero
 *  36  OriginalMessageSize  length of the plaintext SMB2 message
 *  40  Reserved (2)
 *  42  Flags/EncryptionAlgorithm  always 0x0001 (3.0: AES-128-CCM; 3.1.1:
 *                           "Encrypted")
 *  44  SessionId
 *
 * The AEAD's additional authenticated data is the header from Nonce to the
 * end: bytes 20..51 (MS-SMB2 3.1.4.3). */
#ifndef SMBKIT_WIRE_TRANSFORM_H
#define SMBKIT_WIRE_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMB2_TRANSFORM_HDR_SIZE 52
#define SMB2_TRANSFORM_SIG_OFF 4
#define SMB2_TRANSFORM_NONCE_OFF 20
#define SMB2_TRANSFORM_AAD_OFF 20
#define SMB2_TRANSFORM_AAD_LEN 32
#define SMB2_TRANSFORM_FLAG_ENCRYPTED 0x0001

struct smb2_transform_hdr {
	uint8_t signature[16];
	uint8_t nonce[16];
	uint32_t original_size;
	uint16_t flags;
	uint64_t session_id;
};

/* Decodes and validates the transform header of a received message of len
 * bytes (MS-SMB2 3.3.5.2.1.1): ProtocolId, a message longer than the
 * header, Flags == 0x0001, and OriginalMessageSize equal to the bytes that
 * follow the header (AEAD ciphertext has the plaintext's length) and large
 * enough for an SMB2 header.  Returns STATUS_SUCCESS or
 * STATUS_INVALID_PARAMETER; the server drops the connection on failure. */
uint32_t smb2_transform_decode(const uint8_t *msg, size_t len, struct smb2_transform_hdr *h);

/* Writes the 52-byte header.  Reserved is written as zero. */
void smb2_transform_encode(uint8_t out[SMB2_TRANSFORM_HDR_SIZE], const struct smb2_transform_hdr *h);

#endif
