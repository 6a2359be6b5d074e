/* Windows security descriptors as data (acl.c): parsing, building, the
 * access check and inheritance.  Pure functions over byte buffers, no I/O,
 * so the fuzzer (fuzz/fuzz_sd.c) and the unit tests drive them directly;
 * security_desc.c stores the results in xattrs and applies them at CREATE.
 *
 * Formats (MS-DTYP): SID 2.4.2.2, ACE 2.4.4, ACL 2.4.5, self-relative
 * SECURITY_DESCRIPTOR 2.4.6.  Every offset, size and count in an SD comes
 * from the network (SET_INFO, the SecD create context) or from an xattr a
 * local user may have written, so acl_sd_parse checks all of them before any
 * other function here looks at the bytes. */
#ifndef SMBKIT_SERVER_ACL_H
#define SMBKIT_SERVER_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "wire/fileinfo.h"   /* SE_* control bits */

/* ACE types and flags (MS-DTYP 2.4.4.1). */
#define ACE_TYPE_ACCESS_ALLOWED          0x00
#define ACE_TYPE_ACCESS_DENIED           0x01
#define ACE_TYPE_ACCESS_ALLOWED_OBJECT   0x05
#define ACE_TYPE_ACCESS_DENIED_OBJECT    0x06
#define ACE_TYPE_ACCESS_DENIED_CALLBACK  0x0A
#define ACE_TYPE_ACCESS_DENIED_CALLBACK_OBJECT 0x0C
#define ACE_FLAG_OBJECT_INHERIT       0x01
#define ACE_FLAG_CONTAINER_INHERIT    0x02
#define ACE_FLAG_NO_PROPAGATE_INHERIT 0x04
#define ACE_FLAG_INHERIT_ONLY         0x08
#define ACE_FLAG_INHERITED            0x10
#define ACE_FLAGS_INHERITANCE (ACE_FLAG_OBJECT_INHERIT | ACE_FLAG_CONTAINER_INHERIT | \
			       ACE_FLAG_NO_PROPAGATE_INHERIT | ACE_FLAG_INHERIT_ONLY)

#define ACL_SID_MAX_SUBAUTH 15
#define ACL_SID_MAX_LEN (8 + 4 * ACL_SID_MAX_SUBAUTH)

/* A SID as bytes (its wire form), small enough to keep by value. */
struct acl_sid {
	uint8_t len;
	uint8_t b[ACL_SID_MAX_LEN];
};

/* A parsed self-relative SD.  Pointers point into the parsed buffer; NULL
 * means the part is absent.  A DACL that is present with no ACL (a "NULL
 * DACL") and an absent DACL both grant everything (MS-DTYP 2.5.3.2). */
struct acl_sd {
	uint16_t control;
	const uint8_t *owner, *group;
	size_t owner_len, group_len;
	const uint8_t *dacl;          /* the whole ACL, header included */
	size_t dacl_len;              /* its AclSize */
};

/* One ACE, read from a validated ACL. */
struct acl_ace {
	uint8_t type, flags;
	uint16_t size;
	uint32_t mask;                /* 0 for ACE types without a mask */
	const uint8_t *sid;           /* NULL for ACE types not understood */
	size_t sid_len;
	const uint8_t *raw;           /* the whole ACE, header included */
};

/* Validates and splits a self-relative SD.  Returns STATUS_SUCCESS or
 * STATUS_INVALID_PARAMETER (what smbkitd answers for a malformed SD).  The
 * SACL is validated but not kept: smbkitd never stores one. */
uint32_t acl_sd_parse(const uint8_t *p, size_t len, struct acl_sd *out);

/* Validates one SID at p (at most len bytes); returns its length or 0. */
size_t acl_sid_check(const uint8_t *p, size_t len);

/* Walks the ACEs of a DACL that acl_sd_parse accepted: *pos starts at 0;
 * returns false after the last one. */
bool acl_next_ace(const uint8_t *acl, size_t acl_len, size_t *pos, unsigned *index, struct acl_ace *ace);

/* GENERIC_READ/WRITE/EXECUTE/ALL to the file-specific rights (MS-DTYP
 * 2.4.3, MS-SMB2 2.2.13.1.1); MAXIMUM_ALLOWED is dropped. */
uint32_t acl_map_generic(uint32_t mask);

/* Well-known SIDs (MS-DTYP 2.4.2.4). */
void acl_sid_make(struct acl_sid *s, uint8_t authority, unsigned nsub, const uint32_t *sub);
bool acl_sid_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Who is asking: the user's SID first, then the primary group, then the
 * other groups and well-known SIDs. */
struct acl_token {
	struct acl_sid *sids;
	size_t n;
	bool can_set_any_owner;       /* SeRestorePrivilege: root */
};
bool acl_token_has(const struct acl_token *t, const uint8_t *sid, size_t sid_len);
/* Builds the token of a Unix identity: S-1-22-1-uid, S-1-22-2-gid for the
 * primary and every supplementary group, Everyone, and Authenticated Users
 * (unless guest/anonymous) or Anonymous.  Returns -1 on allocation failure. */
int acl_token_init(struct acl_token *t, uint32_t uid, uint32_t gid, const uint32_t *groups, size_t ngroups,
		   bool authenticated, bool anonymous);
void acl_token_free(struct acl_token *t);

/* The access mask the SD grants the token (MS-DTYP 2.5.3.2 with
 * MAXIMUM_ALLOWED semantics: per right, the first ACE that names it
 * decides; the owner gets READ_CONTROL|WRITE_DAC unless an OWNER RIGHTS
 * ACE is present).  Checking DesiredAccess against this mask is the same as
 * the normal algorithm.  fallback_owner is used when the SD has no owner. */
uint32_t acl_granted(const struct acl_sd *sd, const struct acl_token *t, const uint8_t *fallback_owner,
		     size_t fallback_owner_len);

/* Writes a self-relative SD made of the given parts (any may be absent).
 * control keeps only the DACL bits PRESENT/AUTO_INHERITED/PROTECTED;
 * SE_DACL_PRESENT with dacl == NULL writes a NULL DACL. */
void acl_sd_write(struct wbuf *w, uint16_t control, const uint8_t *owner, size_t owner_len, const uint8_t *group,
		  size_t group_len, const uint8_t *dacl, size_t dacl_len);

/* Copies a validated DACL with every ACE mask passed through
 * acl_map_generic (Windows stores mapped rights: smb2.acls.GENERIC). */
void acl_dacl_copy_mapped(struct wbuf *w, const uint8_t *dacl, size_t dacl_len);

/* The SD a new file or directory gets from its parent's SD (MS-DTYP
 * 2.5.3.4 CreateSecurityDescriptor, ComputeInheritedACLFromParent): owner
 * and group are the creator's; CREATOR OWNER / CREATOR GROUP ACEs become the
 * creator's SIDs; with nothing to inherit, the default DACL (owner and
 * SYSTEM full control).  Written to w as a self-relative SD. */
void acl_sd_inherit(struct wbuf *w, const struct acl_sd *parent, bool is_dir, const struct acl_sid *owner,
		    const struct acl_sid *group);

/* Does the parent SD have any ACE a new child of this kind inherits? */
bool acl_sd_has_inheritable(const struct acl_sd *parent, bool is_dir);

#endif
