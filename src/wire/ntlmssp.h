/* NTLMSSP messages (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE, and
 * the AV_PAIR lists of target information (2.2.2.1).  Pure decode/encode over
 * byte buffers: every (length, offset) field is checked against the message.
 * Decoded strings and blobs point into the input; nothing is allocated. */
#ifndef SMBKIT_WIRE_NTLMSSP_H
#define SMBKIT_WIRE_NTLMSSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Message types (2.2.1) */
#define NTLMSSP_NEGOTIATE    1u
#define NTLMSSP_CHALLENGE    2u
#define NTLMSSP_AUTHENTICATE 3u

/* NegotiateFlags (2.2.2.5) */
#define NTLMSSP_NEGOTIATE_UNICODE                  0x00000001u
#define NTLMSSP_NEGOTIATE_OEM                      0x00000002u
#define NTLMSSP_REQUEST_TARGET                     0x00000004u
#define NTLMSSP_NEGOTIATE_SIGN                     0x00000010u
#define NTLMSSP_NEGOTIATE_SEAL                     0x00000020u
#define NTLMSSP_NEGOTIATE_DATAGRAM                 0x00000040u
#define NTLMSSP_NEGOTIATE_LM_KEY                   0x00000080u
#define NTLMSSP_NEGOTIATE_NTLM                     0x00000200u
#define NTLMSSP_NEGOTIATE_ANONYMOUS                0x00000800u
#define NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED      0x00001000u
#define NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED 0x00002000u
#define NTLMSSP_NEGOTIATE_ALWAYS_SIGN              0x00008000u
#define NTLMSSP_TARGET_TYPE_DOMAIN                 0x00010000u
#define NTLMSSP_TARGET_TYPE_SERVER                 0x00020000u
#define NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLMSSP_NEGOTIATE_IDENTIFY                 0x00100000u
#define NTLMSSP_REQUEST_NON_NT_SESSION_KEY         0x00400000u
#define NTLMSSP_NEGOTIATE_TARGET_INFO              0x00800000u
#define NTLMSSP_NEGOTIATE_VERSION                  0x02000000u
#define NTLMSSP_NEGOTIATE_128                      0x20000000u
#define NTLMSSP_NEGOTIATE_KEY_EXCH                 0x40000000u
#define NTLMSSP_NEGOTIATE_56                       0x80000000u

/* AvId values (2.2.2.1) */
#define MSV_AV_EOL               0
#define MSV_AV_NB_COMPUTER_NAME  1
#define MSV_AV_NB_DOMAIN_NAME    2
#define MSV_AV_DNS_COMPUTER_NAME 3
#define MSV_AV_DNS_DOMAIN_NAME   4
#define MSV_AV_DNS_TREE_NAME     5
#define MSV_AV_FLAGS             6
#define MSV_AV_TIMESTAMP         7
#define MSV_AV_SINGLE_HOST       8
#define MSV_AV_TARGET_NAME       9
#define MSV_AV_CHANNEL_BINDINGS  10
/* MsvAvFlags bits */
#define MSV_AV_FLAG_CONSTRAINED  0x1u
#define MSV_AV_FLAG_MIC_PRESENT  0x2u
#define MSV_AV_FLAG_UNTRUSTED_SPN 0x4u

/* Fixed part sizes and the MIC position in AUTHENTICATE (2.2.1.3). */
#define NTLMSSP_NEGOTIATE_FIXED    32
#define NTLMSSP_CHALLENGE_FIXED    48
#define NTLMSSP_AUTH_FIXED         64
#define NTLMSSP_VERSION_LEN        8
#define NTLMSSP_AUTH_MIC_OFFSET    72
#define NTLMSSP_MIC_LEN            16
/* NTLMv2 client challenge blob (2.2.2.7): fixed header before the AV pairs. */
#define NTLMV2_BLOB_FIXED          28

struct ntlmssp_blob {
	const uint8_t *p;
	size_t len;
};

struct ntlmssp_negotiate_msg {
	uint32_t flags;
	struct ntlmssp_blob domain;      /* OEM, if OEM_DOMAIN_SUPPLIED */
	struct ntlmssp_blob workstation; /* OEM, if OEM_WORKSTATION_SUPPLIED */
	bool has_version;
	uint8_t version[8];
};

struct ntlmssp_challenge_msg {
	uint32_t flags;
	uint8_t server_challenge[8];
	struct ntlmssp_blob target_name;
	struct ntlmssp_blob target_info; /* AV pairs */
	bool has_version;
	uint8_t version[8];
};

struct ntlmssp_authenticate_msg {
	uint32_t flags;
	struct ntlmssp_blob lm_response;
	struct ntlmssp_blob nt_response;
	struct ntlmssp_blob domain;
	struct ntlmssp_blob user;
	struct ntlmssp_blob workstation;
	struct ntlmssp_blob encrypted_session_key;
	bool has_version;
	uint8_t version[8];
	/* The MIC field exists when the payload starts at or after offset 88;
	 * whether it is meaningful is said by MsvAvFlags in the NT response. */
	bool has_mic_field;
	const uint8_t *mic;
};

/* Returns the MessageType of a message starting with "NTLMSSP\0", or 0. */
uint32_t ntlmssp_message_type(const uint8_t *msg, size_t len);

/* Decoders: 0 on success, -1 if malformed (wrong signature/type, a field
 * outside the message, a fixed part that does not fit). */
int ntlmssp_decode_negotiate(const uint8_t *msg, size_t len, struct ntlmssp_negotiate_msg *out);
int ntlmssp_decode_challenge(const uint8_t *msg, size_t len, struct ntlmssp_challenge_msg *out);
int ntlmssp_decode_authenticate(const uint8_t *msg, size_t len, struct ntlmssp_authenticate_msg *out);

/* Encoders append one message to w (offsets are relative to its start).
 * The Version field is written when has_version is set. */
void ntlmssp_encode_negotiate(struct wbuf *w, const struct ntlmssp_negotiate_msg *m);
void ntlmssp_encode_challenge(struct wbuf *w, const struct ntlmssp_challenge_msg *m);
/* with_mic reserves a zeroed MIC field at offset 72 (and writes Version,
 * zero if !has_version, since the MIC follows it). */
void ntlmssp_encode_authenticate(struct wbuf *w, const struct ntlmssp_authenticate_msg *m, bool with_mic);

/* AV pairs.  Validates a list: every pair fits, and it ends with MsvAvEOL
 * (bytes after the EOL are allowed: NTLMv2 blobs carry padding there).
 * Returns 0 or -1. */
int ntlmssp_av_validate(const uint8_t *ti, size_t len);
/* Finds the first pair with AvId id in a list validated earlier. */
bool ntlmssp_av_find(const uint8_t *ti, size_t len, uint16_t id, struct ntlmssp_blob *val);
/* Appends one pair (use id MSV_AV_EOL with no value to end the list). */
void ntlmssp_av_add(struct wbuf *w, uint16_t id, const void *val, size_t len);
/* Appends a pair whose value is the UTF-16LE form of a UTF-8 string. */
void ntlmssp_av_add_str(struct wbuf *w, uint16_t id, const char *utf8);

#endif
