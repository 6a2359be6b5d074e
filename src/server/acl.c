/* Windows security descriptors as data: parse, check, build, inherit.
 * See acl.h. */
#include "server/acl.h"

#include <stdlib.h>
#include <string.h>

#include "wire/ntstatus.h"
#include "wire/smb2.h"

/* ------------------------------------------------------------ SIDs */

size_t acl_sid_check(const uint8_t *p, size_t len)
{
	/* MS-DTYP 2.4.2.2: Revision 1, at most 15 sub-authorities. */
	struct rbuf b = rbuf_make(p, len);
	uint8_t rev = rbuf_u8(&b);
	uint8_t nsub = rbuf_u8(&b);
	rbuf_skip(&b, 6 + 4u * nsub);
	if (b.err || rev != 1 || nsub > ACL_SID_MAX_SUBAUTH) return 0;
	return 8 + 4u * nsub;
}

void acl_sid_make(struct acl_sid *s, uint8_t authority, unsigned nsub, const uint32_t *sub)
{
	memset(s, 0, sizeof(*s));
	if (nsub > ACL_SID_MAX_SUBAUTH) nsub = ACL_SID_MAX_SUBAUTH;
	s->b[0] = 1;
	s->b[1] = (uint8_t)nsub;
	s->b[7] = authority;          /* 48-bit big-endian IdentifierAuthority */
	for (unsigned i = 0; i < nsub; i++) put_le32(s->b + 8 + 4 * i, sub[i]);
	s->len = (uint8_t)(8 + 4 * nsub);
}

bool acl_sid_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return a && b && alen == blen && !memcmp(a, b, alen);
}

/* S-1-3-0 CREATOR OWNER, S-1-3-1 CREATOR GROUP, S-1-3-4 OWNER RIGHTS. */
static bool sid_is(const uint8_t *sid, size_t len, uint8_t authority, uint32_t rid)
{
	static const uint8_t zero5[5] = { 0 };
	return sid && len == 12 && sid[1] == 1 && !memcmp(sid + 2, zero5, 5) && sid[7] == authority &&
	       get_le32(sid + 8) == rid;
}
#define SID_IS_CREATOR_OWNER(s, l) sid_is(s, l, 3, 0)
#define SID_IS_CREATOR_GROUP(s, l) sid_is(s, l, 3, 1)
#define SID_IS_OWNER_RIGHTS(s, l)  sid_is(s, l, 3, 4)

/* ------------------------------------------------------------ parsing */

static bool ace_type_is_object(uint8_t t)
{
	/* MS-DTYP 2.4.4.1: the *_OBJECT_ACE types carry Flags and optional
	 * GUIDs between Mask and SID. */
	return t == 0x05 || t == 0x06 || t == 0x07 || t == 0x08 || t == 0x0B || t == 0x0C || t == 0x0F || t == 0x10;
}

static bool ace_type_has_sid(uint8_t t)
{
	return t <= 0x03 || (t >= 0x09 && t <= 0x0A) || t == 0x0D || t == 0x0E || (t >= 0x11 && t <= 0x13) ||
	       ace_type_is_object(t);
}

/* Reads the ACE at acl[pos] (inside acl_len): header, mask, and SID where
 * the type has one.  Returns false if it does not fit. */
static bool ace_read(const uint8_t *acl, size_t acl_len, size_t pos, struct acl_ace *ace)
{
	memset(ace, 0, sizeof(*ace));
	struct rbuf h = rbuf_make(acl, acl_len);
	rbuf_seek(&h, pos);
	ace->type = rbuf_u8(&h);
	ace->flags = rbuf_u8(&h);
	ace->size = rbuf_u16(&h);
	if (h.err || ace->size < 4 || !range_ok(pos, ace->size, acl_len)) return false;
	ace->raw = acl + pos;
	if (!ace_type_has_sid(ace->type)) return true;
	/* Everything below stays inside this ACE's own AceSize. */
	struct rbuf b = rbuf_make(acl + pos, ace->size);
	rbuf_skip(&b, 4);
	ace->mask = rbuf_u32(&b);
	if (ace_type_is_object(ace->type)) {
		uint32_t oflags = rbuf_u32(&b);
		if (oflags & 1) rbuf_skip(&b, 16);    /* ObjectType */
		if (oflags & 2) rbuf_skip(&b, 16);    /* InheritedObjectType */
	}
	if (b.err) return false;
	size_t sid_len = acl_sid_check(b.p + b.off, rbuf_left(&b));
	if (!sid_len) return false;
	ace->sid = b.p + b.off;
	ace->sid_len = sid_len;
	return true;
}

/* MS-DTYP 2.4.5: AclRevision 2 or 4, AclSize covers the header and every
 * ACE, AceCount ACEs each inside AclSize. */
static bool acl_check(const uint8_t *p, size_t len, uint32_t off, size_t *acl_size_out)
{
	struct rbuf b = rbuf_make(p, len);
	rbuf_seek(&b, off);
	uint8_t rev = rbuf_u8(&b);
	rbuf_u8(&b);
	uint16_t acl_size = rbuf_u16(&b);
	uint16_t count = rbuf_u16(&b);
	rbuf_u16(&b);
	if (b.err || (rev != 2 && rev != 4) || acl_size < 8 || !range_ok(off, acl_size, len)) return false;
	const uint8_t *acl = p + off;
	size_t pos = 8;
	for (unsigned i = 0; i < count; i++) {
		struct acl_ace ace;
		if (!ace_read(acl, acl_size, pos, &ace)) return false;
		pos += ace.size;
	}
	*acl_size_out = acl_size;
	return true;
}

uint32_t acl_sd_parse(const uint8_t *p, size_t len, struct acl_sd *out)
{
	memset(out, 0, sizeof(*out));
	struct rbuf b = rbuf_make(p, len);
	uint8_t rev = rbuf_u8(&b);
	rbuf_u8(&b);                               /* Sbz1 (RM control) */
	uint16_t control = rbuf_u16(&b);
	uint32_t off_owner = rbuf_u32(&b), off_group = rbuf_u32(&b);
	uint32_t off_sacl = rbuf_u32(&b), off_dacl = rbuf_u32(&b);
	/* 2.4.6: Revision 1; only the self-relative form travels on the wire. */
	if (b.err || rev != 1 || !(control & SE_SELF_RELATIVE)) return STATUS_INVALID_PARAMETER;
	out->control = control;
	if (off_owner) {
		if (off_owner > len || !(out->owner_len = acl_sid_check(p + off_owner, len - off_owner)))
			return STATUS_INVALID_PARAMETER;
		out->owner = p + off_owner;
	}
	if (off_group) {
		if (off_group > len || !(out->group_len = acl_sid_check(p + off_group, len - off_group)))
			return STATUS_INVALID_PARAMETER;
		out->group = p + off_group;
	}
	size_t sz;
	/* An offset is only meaningful with its PRESENT bit, but a bad SACL
	 * or DACL is refused either way (as Windows validates the buffer). */
	if (off_sacl && !acl_check(p, len, off_sacl, &sz)) return STATUS_INVALID_PARAMETER;
	if (off_dacl) {
		if (!acl_check(p, len, off_dacl, &sz)) return STATUS_INVALID_PARAMETER;
		if (control & SE_DACL_PRESENT) {
			out->dacl = p + off_dacl;
			out->dacl_len = sz;
		}
	}
	return STATUS_SUCCESS;
}

bool acl_next_ace(const uint8_t *acl, size_t acl_len, size_t *pos, unsigned *index, struct acl_ace *ace)
{
	if (!acl || acl_len < 8) return false;
	if (*pos == 0) {
		*pos = 8;
		*index = 0;
	}
	if (*index >= get_le16(acl + 4)) return false;
	if (!ace_read(acl, acl_len, *pos, ace)) return false;
	*pos += ace->size;
	(*index)++;
	return true;
}

uint32_t acl_map_generic(uint32_t m)
{
	if (m & GENERIC_READ) m |= FILE_GENERIC_READ;
	if (m & GENERIC_WRITE) m |= FILE_GENERIC_WRITE;
	if (m & GENERIC_EXECUTE) m |= FILE_GENERIC_EXECUTE;
	if (m & GENERIC_ALL) m |= FILE_ALL_ACCESS;
	return m & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL | MAXIMUM_ALLOWED);
}

/* ------------------------------------------------------------ tokens */

bool acl_token_has(const struct acl_token *t, const uint8_t *sid, size_t sid_len)
{
	for (size_t i = 0; i < t->n; i++)
		if (acl_sid_eq(t->sids[i].b, t->sids[i].len, sid, sid_len)) return true;
	return false;
}

int acl_token_init(struct acl_token *t, uint32_t uid, uint32_t gid, const uint32_t *groups, size_t ngroups,
		   bool authenticated, bool anonymous)
{
	memset(t, 0, sizeof(*t));
	t->sids = calloc(ngroups + 5, sizeof(*t->sids));
	if (!t->sids) return -1;
	/* The Unix User / Unix Group authorities (S-1-22-1/2), as in the SDs
	 * security_desc_encode derives from the POSIX owner and group. */
	acl_sid_make(&t->sids[t->n++], 22, 2, (uint32_t[]){ 1, uid });
	acl_sid_make(&t->sids[t->n++], 22, 2, (uint32_t[]){ 2, gid });
	for (size_t i = 0; i < ngroups; i++) {
		if (groups[i] == gid) continue;
		acl_sid_make(&t->sids[t->n++], 22, 2, (uint32_t[]){ 2, groups[i] });
	}
	acl_sid_make(&t->sids[t->n++], 1, 1, (uint32_t[]){ 0 });            /* Everyone */
	if (anonymous) acl_sid_make(&t->sids[t->n++], 5, 1, (uint32_t[]){ 7 }); /* ANONYMOUS LOGON */
	else if (authenticated) acl_sid_make(&t->sids[t->n++], 5, 1, (uint32_t[]){ 11 }); /* Authenticated Users */
	t->can_set_any_owner = uid == 0;
	return 0;
}

void acl_token_free(struct acl_token *t)
{
	free(t->sids);
	t->sids = NULL;
	t->n = 0;
}

/* ------------------------------------------------------------ access check */

uint32_t acl_granted(const struct acl_sd *sd, const struct acl_token *t, const uint8_t *fallback_owner,
		     size_t fallback_owner_len)
{
	/* No DACL, or a NULL DACL: everything (MS-DTYP 2.5.3.2). */
	if (!sd->dacl) return FILE_ALL_ACCESS;
	const uint8_t *owner = sd->owner ? sd->owner : fallback_owner;
	size_t owner_len = sd->owner ? sd->owner_len : fallback_owner_len;
	bool is_owner = owner && acl_token_has(t, owner, owner_len);

	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx;
	bool owner_rights_ace = false;
	while (acl_next_ace(sd->dacl, sd->dacl_len, &pos, &idx, &ace))
		if (!(ace.flags & ACE_FLAG_INHERIT_ONLY) && SID_IS_OWNER_RIGHTS(ace.sid, ace.sid_len))
			owner_rights_ace = true;

	uint32_t granted = 0, denied = 0;
	/* The owner may always read and rewrite the DACL, unless the DACL
	 * says what the owner gets through an OWNER RIGHTS ACE. */
	if (is_owner && !owner_rights_ace) granted = READ_CONTROL | WRITE_DAC;
	pos = 0;
	while (acl_next_ace(sd->dacl, sd->dacl_len, &pos, &idx, &ace)) {
		if (ace.flags & ACE_FLAG_INHERIT_ONLY || !ace.sid) continue;
		bool applies = acl_token_has(t, ace.sid, ace.sid_len) ||
			       (is_owner && SID_IS_OWNER_RIGHTS(ace.sid, ace.sid_len));
		if (!applies) continue;
		uint32_t mask = acl_map_generic(ace.mask);
		bool object_type = ace_type_is_object(ace.type) && ace.size >= 12 && (get_le32(ace.raw + 8) & 1);
		switch (ace.type) {
		case ACE_TYPE_ACCESS_ALLOWED:
			granted |= mask & ~denied;
			break;
		case ACE_TYPE_ACCESS_ALLOWED_OBJECT:
			/* Without an ObjectType it applies to the whole object. */
			if (!object_type) granted |= mask & ~denied;
			break;
		case ACE_TYPE_ACCESS_DENIED:
		case ACE_TYPE_ACCESS_DENIED_OBJECT:
		case ACE_TYPE_ACCESS_DENIED_CALLBACK:
		case ACE_TYPE_ACCESS_DENIED_CALLBACK_OBJECT:
			/* Conditional (callback) and object-specific denials are
			 * not evaluated: they are taken as applying, which can
			 * only deny more, never grant more. */
			denied |= mask & ~granted;
			break;
		default:
			/* Callback allows are not evaluated: they grant nothing. */
			break;
		}
	}
	return granted;
}

/* ------------------------------------------------------------ building */

void acl_sd_write(struct wbuf *w, uint16_t control, const uint8_t *owner, size_t owner_len, const uint8_t *group,
		  size_t group_len, const uint8_t *dacl, size_t dacl_len)
{
	size_t base = w->len;
	control &= SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED;
	if (!(control & SE_DACL_PRESENT)) control = 0;
	wbuf_u8(w, 1);                            /* Revision */
	wbuf_u8(w, 0);                            /* Sbz1 */
	wbuf_u16(w, (uint16_t)(control | SE_SELF_RELATIVE));
	wbuf_zero(w, 16);                         /* offsets, patched */
	/* Windows' order: SACL, DACL, owner, group; any order is valid. */
	if ((control & SE_DACL_PRESENT) && dacl) {
		wbuf_set_u32(w, base + 16, (uint32_t)(w->len - base));
		wbuf_bytes(w, dacl, dacl_len);
	}
	if (owner) {
		wbuf_set_u32(w, base + 4, (uint32_t)(w->len - base));
		wbuf_bytes(w, owner, owner_len);
	}
	if (group) {
		wbuf_set_u32(w, base + 8, (uint32_t)(w->len - base));
		wbuf_bytes(w, group, group_len);
	}
}

static size_t acl_begin(struct wbuf *w, uint8_t revision)
{
	size_t off = w->len;
	wbuf_u8(w, revision);
	wbuf_u8(w, 0);
	wbuf_u16(w, 0);                           /* AclSize, patched */
	wbuf_u16(w, 0);                           /* AceCount, patched */
	wbuf_u16(w, 0);
	return off;
}

static void acl_end(struct wbuf *w, size_t off, unsigned count)
{
	wbuf_set_u16(w, off + 2, (uint16_t)(w->len - off));
	wbuf_set_u16(w, off + 4, (uint16_t)count);
}

static void ace_write(struct wbuf *w, uint8_t type, uint8_t flags, uint32_t mask, const uint8_t *sid, size_t sid_len)
{
	wbuf_u8(w, type);
	wbuf_u8(w, flags);
	wbuf_u16(w, (uint16_t)(8 + sid_len));
	wbuf_u32(w, mask);
	wbuf_bytes(w, sid, sid_len);
}

/* A copy of a raw ACE with new flags (and, where it has one, its mask
 * passed through acl_map_generic when map is set). */
static void ace_copy(struct wbuf *w, const struct acl_ace *ace, uint8_t flags, bool map)
{
	size_t at = w->len;
	wbuf_bytes(w, ace->raw, ace->size);
	if (w->err) return;
	w->p[at + 1] = flags;
	if (map && ace->sid) put_le32(w->p + at + 4, acl_map_generic(ace->mask));
}

void acl_dacl_copy_mapped(struct wbuf *w, const uint8_t *dacl, size_t dacl_len)
{
	size_t off = acl_begin(w, dacl[0]);
	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx, n = 0;
	while (acl_next_ace(dacl, dacl_len, &pos, &idx, &ace)) {
		ace_copy(w, &ace, ace.flags, true);
		n++;
	}
	acl_end(w, off, n);
}

/* Appends to w the ACEs a child inherits from one parent ACE (MS-DTYP
 * 2.5.3.4.2 ComputeInheritedACLFromParent); returns how many. */
static unsigned inherit_ace(struct wbuf *w, const struct acl_ace *ace, bool is_dir, bool auto_inherit,
			    const struct acl_sid *owner, const struct acl_sid *group)
{
	uint8_t f = ace->flags & ~ACE_FLAG_INHERITED;
	uint8_t inh = auto_inherit ? ACE_FLAG_INHERITED : 0;
	bool oi = f & ACE_FLAG_OBJECT_INHERIT, ci = f & ACE_FLAG_CONTAINER_INHERIT;
	bool np = f & ACE_FLAG_NO_PROPAGATE_INHERIT;
	bool simple = ace->type == ACE_TYPE_ACCESS_ALLOWED || ace->type == ACE_TYPE_ACCESS_DENIED;

	/* The effective ACE: CREATOR OWNER/GROUP replaced by the creator,
	 * generic rights mapped. */
	const uint8_t *sid = ace->sid;
	size_t sid_len = ace->sid_len;
	bool placeholder = false;
	if (SID_IS_CREATOR_OWNER(sid, sid_len)) { sid = owner->b; sid_len = owner->len; placeholder = true; }
	else if (SID_IS_CREATOR_GROUP(sid, sid_len)) { sid = group->b; sid_len = group->len; placeholder = true; }
	bool generic = ace->mask & (GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);

	if (!is_dir) {
		if (!oi) return 0;
		if (simple) ace_write(w, ace->type, inh, acl_map_generic(ace->mask), sid, sid_len);
		else ace_copy(w, ace, inh, true);
		return 1;
	}
	if (ci) {
		if (np) {
			/* Applies to this directory only, inherits no further. */
			if (simple) ace_write(w, ace->type, inh, acl_map_generic(ace->mask), sid, sid_len);
			else ace_copy(w, ace, inh, true);
			return 1;
		}
		if (simple && (placeholder || generic)) {
			/* Split: one ACE that applies here, one inherit-only
			 * ACE that keeps the placeholder for the grandchildren. */
			ace_write(w, ace->type, inh, acl_map_generic(ace->mask), sid, sid_len);
			ace_copy(w, ace, (uint8_t)(f | ACE_FLAG_INHERIT_ONLY | inh), false);
			return 2;
		}
		ace_copy(w, ace, (uint8_t)((f & ~ACE_FLAG_INHERIT_ONLY) | inh), false);
		return 1;
	}
	if (oi && !np) {
		/* Only passed on, through this directory, to files below. */
		ace_copy(w, ace, (uint8_t)(f | ACE_FLAG_INHERIT_ONLY | inh), false);
		return 1;
	}
	return 0;
}

bool acl_sd_has_inheritable(const struct acl_sd *parent, bool is_dir)
{
	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx;
	while (parent->dacl && acl_next_ace(parent->dacl, parent->dacl_len, &pos, &idx, &ace)) {
		if (!ace.sid) continue;
		uint8_t f = ace.flags;
		if (!is_dir && (f & ACE_FLAG_OBJECT_INHERIT)) return true;
		if (is_dir && ((f & ACE_FLAG_CONTAINER_INHERIT) ||
			       ((f & ACE_FLAG_OBJECT_INHERIT) && !(f & ACE_FLAG_NO_PROPAGATE_INHERIT))))
			return true;
	}
	return false;
}

void acl_sd_inherit(struct wbuf *w, const struct acl_sd *parent, bool is_dir, const struct acl_sid *owner,
		    const struct acl_sid *group)
{
	struct wbuf dacl;
	wbuf_init(&dacl, 128);
	bool auto_inherit = parent->control & SE_DACL_AUTO_INHERITED;
	uint16_t control = SE_DACL_PRESENT;
	size_t off = acl_begin(&dacl, 2);
	unsigned n = 0;
	struct acl_ace ace;
	size_t pos = 0;
	unsigned idx;
	while (parent->dacl && acl_next_ace(parent->dacl, parent->dacl_len, &pos, &idx, &ace)) {
		if (!ace.sid) continue;
		n += inherit_ace(&dacl, &ace, is_dir, auto_inherit, owner, group);
	}
	if (n) {
		if (auto_inherit) control |= SE_DACL_AUTO_INHERITED;
	} else {
		/* Nothing to inherit: the default DACL of a Windows token,
		 * full control for the owner and for SYSTEM (S-1-5-18). */
		struct acl_sid system;
		acl_sid_make(&system, 5, 1, (uint32_t[]){ 18 });
		ace_write(&dacl, ACE_TYPE_ACCESS_ALLOWED, 0, FILE_ALL_ACCESS, owner->b, owner->len);
		ace_write(&dacl, ACE_TYPE_ACCESS_ALLOWED, 0, FILE_ALL_ACCESS, system.b, system.len);
		n = 2;
	}
	acl_end(&dacl, off, n);
	if (dacl.err || dacl.len > 0xFFFF) {
		w->err = true;
	} else {
		acl_sd_write(w, control, owner->b, owner->len, group->b, group->len, dacl.p, dacl.len);
	}
	wbuf_free(&dacl);
}
