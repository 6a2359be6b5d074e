/* MS-FSCC information classes: encoders for QUERY_INFO answers, decoders
 * for SET_INFO buffers, and POSIX-derived security descriptors (MS-DTYP).
 * Pure functions over byte buffers; see fileinfo.h. */
#include "wire/fileinfo.h"

#include <ctype.h>
#include <string.h>

#include "common/utf16.h"
#include "wire/ntstatus.h"
#include "wire/smb2.h"

/* ------------------------------------------------------------ size tables */

size_t fileinfo_min_size(uint8_t c)
{
	switch (c) {
	case FSCC_FILE_BASIC_INFORMATION: return 40;
	case FSCC_FILE_STANDARD_INFORMATION: return 24;   /* 22 bytes + 2 padding */
	case FSCC_FILE_INTERNAL_INFORMATION: return 8;
	case FSCC_FILE_EA_INFORMATION: return 4;
	case FSCC_FILE_ACCESS_INFORMATION: return 4;
	case FSCC_FILE_POSITION_INFORMATION: return 8;
	case FSCC_FILE_MODE_INFORMATION: return 4;
	case FSCC_FILE_ALIGNMENT_INFORMATION: return 4;
	/* Name classes: ULONG length + WCHAR[1], padded to 4. */
	case FSCC_FILE_NAME_INFORMATION:
	case FSCC_FILE_ALTERNATE_NAME_INFORMATION:
	case FSCC_FILE_NORMALIZED_NAME_INFORMATION: return 8;
	/* FILE_ALL_INFORMATION is 100 fixed bytes + WCHAR[1], padded to 8. */
	case FSCC_FILE_ALL_INFORMATION: return 104;
	/* FILE_STREAM_INFORMATION: 24 fixed bytes + WCHAR[1], padded to 8. */
	case FSCC_FILE_STREAM_INFORMATION: return 32;
	case FSCC_FILE_COMPRESSION_INFORMATION: return 16;
	case FSCC_FILE_NETWORK_OPEN_INFORMATION: return 56;
	case FSCC_FILE_ATTRIBUTE_TAG_INFORMATION: return 8;
	case FSCC_FILE_FULL_EA_INFORMATION: return 0;
	default: return 0;
	}
}

bool fileinfo_is_variable(uint8_t c)
{
	switch (c) {
	case FSCC_FILE_NAME_INFORMATION:
	case FSCC_FILE_ALTERNATE_NAME_INFORMATION:
	case FSCC_FILE_NORMALIZED_NAME_INFORMATION:
	case FSCC_FILE_ALL_INFORMATION:
	case FSCC_FILE_STREAM_INFORMATION:
	case FSCC_FILE_FULL_EA_INFORMATION:
		return true;
	default:
		return false;
	}
}

size_t fsinfo_min_size(uint8_t c)
{
	switch (c) {
	case FSCC_FS_VOLUME_INFORMATION: return 24;    /* 18 + WCHAR[1], padded to 8 */
	case FSCC_FS_SIZE_INFORMATION: return 24;
	case FSCC_FS_DEVICE_INFORMATION: return 8;
	case FSCC_FS_ATTRIBUTE_INFORMATION: return 16; /* 12 + WCHAR[1], padded to 4 */
	case FSCC_FS_CONTROL_INFORMATION: return 48;
	case FSCC_FS_FULL_SIZE_INFORMATION: return 32;
	case FSCC_FS_OBJECTID_INFORMATION: return 64;
	case FSCC_FS_SECTOR_SIZE_INFORMATION: return 28;
	default: return 0;
	}
}

bool fsinfo_is_variable(uint8_t c)
{
	return c == FSCC_FS_VOLUME_INFORMATION || c == FSCC_FS_ATTRIBUTE_INFORMATION;
}

/* ------------------------------------------------------------ file classes */

void fileinfo_basic_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	wbuf_u64(w, s->creation_time);
	wbuf_u64(w, s->last_access_time);
	wbuf_u64(w, s->last_write_time);
	wbuf_u64(w, s->change_time);
	wbuf_u32(w, s->attributes);
	wbuf_u32(w, 0);                 /* Reserved */
}

void fileinfo_standard_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	wbuf_u64(w, s->allocation_size);
	wbuf_u64(w, s->end_of_file);
	wbuf_u32(w, s->nlink);
	wbuf_u8(w, s->delete_pending ? 1 : 0);
	wbuf_u8(w, s->is_dir ? 1 : 0);
	wbuf_u16(w, 0);                 /* Reserved */
}

void fileinfo_internal_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u64(w, s->file_id); }
void fileinfo_ea_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u32(w, s->ea_size); }
void fileinfo_access_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u32(w, s->access_flags); }
void fileinfo_position_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u64(w, s->position); }
void fileinfo_mode_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u32(w, s->mode); }
void fileinfo_alignment_encode(struct wbuf *w, const struct fileinfo_stat *s) { wbuf_u32(w, s->alignment); }

int fileinfo_name_encode(struct wbuf *w, const char *name)
{
	size_t len_off = w->len;
	wbuf_u32(w, 0);                 /* FileNameLength, patched below */
	long n = utf8_to_utf16le(w, name, strlen(name));
	if (n < 0) return -1;
	wbuf_set_u32(w, len_off, (uint32_t)n);
	return 0;
}

int fileinfo_all_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	/* FILE_ALL_INFORMATION (MS-FSCC 2.4.2) is the concatenation of these
	 * classes, without padding between them. */
	fileinfo_basic_encode(w, s);
	fileinfo_standard_encode(w, s);
	fileinfo_internal_encode(w, s);
	fileinfo_ea_encode(w, s);
	fileinfo_access_encode(w, s);
	fileinfo_position_encode(w, s);
	fileinfo_mode_encode(w, s);
	fileinfo_alignment_encode(w, s);
	return fileinfo_name_encode(w, s->name ? s->name : "");
}

void fileinfo_network_open_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	wbuf_u64(w, s->creation_time);
	wbuf_u64(w, s->last_access_time);
	wbuf_u64(w, s->last_write_time);
	wbuf_u64(w, s->change_time);
	wbuf_u64(w, s->allocation_size);
	wbuf_u64(w, s->end_of_file);
	wbuf_u32(w, s->attributes);
	wbuf_u32(w, 0);                 /* Reserved */
}

void fileinfo_attribute_tag_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	wbuf_u32(w, s->attributes);
	wbuf_u32(w, 0);                 /* ReparseTag: only meaningful with REPARSE_POINT */
}

void fileinfo_stream_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	if (s->is_dir) return;
	static const char name[] = "::$DATA";
	wbuf_u32(w, 0);                                 /* NextEntryOffset: last entry */
	wbuf_u32(w, (uint32_t)(2 * (sizeof(name) - 1))); /* StreamNameLength */
	wbuf_u64(w, s->end_of_file);                     /* StreamSize */
	wbuf_u64(w, s->allocation_size);                 /* StreamAllocationSize */
	utf8_to_utf16le(w, name, sizeof(name) - 1);
}

void fileinfo_compression_encode(struct wbuf *w, const struct fileinfo_stat *s)
{
	wbuf_u64(w, s->end_of_file);    /* CompressedFileSize: uncompressed files report EOF */
	wbuf_u16(w, 0);                 /* CompressionFormat: COMPRESSION_FORMAT_NONE */
	wbuf_u8(w, 0);                  /* CompressionUnitShift */
	wbuf_u8(w, 0);                  /* ChunkShift */
	wbuf_u8(w, 0);                  /* ClusterShift */
	wbuf_zero(w, 3);                /* Reserved */
}

/* Characters allowed in a DOS 8.3 name besides letters and digits. */
static bool short_name_char_ok(unsigned char c)
{
	return isalnum(c) || (c && strchr("$%'-_@~`!(){}^#&", c) != NULL);
}

void fileinfo_short_name(const char *name, char out[13])
{
	const char *dot = strrchr(name, '.');
	size_t base_len = dot ? (size_t)(dot - name) : strlen(name);
	size_t ext_len = dot ? strlen(dot + 1) : 0;
	bool valid = base_len >= 1 && base_len <= 8 && ext_len <= 3 && (!dot || ext_len > 0);
	for (size_t i = 0; valid && name[i]; i++) {
		if (name + i == dot) continue;
		if (!short_name_char_ok((unsigned char)name[i])) valid = false;
	}
	size_t o = 0;
	if (valid) {
		for (size_t i = 0; name[i]; i++) out[o++] = (char)toupper((unsigned char)name[i]);
		out[o] = 0;
		return;
	}
	/* Mangle: up to 6 valid characters of the base, "~", a digit derived from
	 * a hash of the whole name (stable across queries), then up to three
	 * valid characters of the extension. */
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
	for (size_t i = 0; i < base_len && o < 6; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x80 && short_name_char_ok(c) && c != '~') out[o++] = (char)toupper(c);
	}
	if (o == 0) {
		/* Nothing usable (e.g. all non-ASCII): hex digits of the hash. */
		static const char hex[] = "0123456789ABCDEF";
		for (int i = 0; i < 4; i++) out[o++] = hex[(h >> (4 * i)) & 15];
	}
	out[o++] = '~';
	out[o++] = (char)('1' + h % 9);
	if (dot && ext_len) {
		size_t eo = 0;
		size_t dot_at = o;
		out[o++] = '.';
		for (const char *p = dot + 1; *p && eo < 3; p++) {
			unsigned char c = (unsigned char)*p;
			if (c < 0x80 && short_name_char_ok(c)) { out[o++] = (char)toupper(c); eo++; }
		}
		if (eo == 0) o = dot_at;
	}
	out[o] = 0;
}

/* -------------------------------------------------------------- fs classes */

int fsinfo_volume_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	const char *label = f->volume_label ? f->volume_label : "";
	wbuf_u64(w, f->volume_creation_time);
	wbuf_u32(w, f->volume_serial);
	size_t len_off = w->len;
	wbuf_u32(w, 0);                 /* VolumeLabelLength, patched below */
	wbuf_u8(w, 0);                  /* SupportsObjects: no object ids */
	wbuf_u8(w, 0);                  /* Reserved */
	long n = utf8_to_utf16le(w, label, strlen(label));
	if (n < 0) return -1;
	wbuf_set_u32(w, len_off, (uint32_t)n);
	return 0;
}

void fsinfo_size_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	wbuf_u64(w, f->total_units);
	wbuf_u64(w, f->caller_avail_units);
	wbuf_u32(w, f->sectors_per_unit);
	wbuf_u32(w, f->bytes_per_sector);
}

void fsinfo_device_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	wbuf_u32(w, FILE_DEVICE_DISK);
	wbuf_u32(w, 0);                 /* Characteristics: plain fixed disk */
}

int fsinfo_attribute_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	const char *name = f->fs_name ? f->fs_name : "NTFS";
	wbuf_u32(w, f->fs_attributes);
	wbuf_u32(w, f->max_component_len);
	size_t len_off = w->len;
	wbuf_u32(w, 0);
	long n = utf8_to_utf16le(w, name, strlen(name));
	if (n < 0) return -1;
	wbuf_set_u32(w, len_off, (uint32_t)n);
	return 0;
}

void fsinfo_control_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	/* Quotas are not tracked: report them disabled, thresholds "no limit"
	 * (MS-FSCC 2.5.2: -1 means no threshold/limit). */
	wbuf_u64(w, 0);                 /* FreeSpaceStartFiltering */
	wbuf_u64(w, 0);                 /* FreeSpaceThreshold */
	wbuf_u64(w, 0);                 /* FreeSpaceStopFiltering */
	wbuf_u64(w, UINT64_MAX);        /* DefaultQuotaThreshold */
	wbuf_u64(w, UINT64_MAX);        /* DefaultQuotaLimit */
	wbuf_u32(w, 0);                 /* FileSystemControlFlags */
	wbuf_u32(w, 0);                 /* Padding */
}

void fsinfo_full_size_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	wbuf_u64(w, f->total_units);
	wbuf_u64(w, f->caller_avail_units);
	wbuf_u64(w, f->actual_avail_units);
	wbuf_u32(w, f->sectors_per_unit);
	wbuf_u32(w, f->bytes_per_sector);
}

void fsinfo_objectid_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	wbuf_bytes(w, f->object_id, 16);
	wbuf_zero(w, 48);               /* ExtendedInfo */
}

void fsinfo_sector_size_encode(struct wbuf *w, const struct fsinfo_stat *f)
{
	uint32_t bps = f->bytes_per_sector ? f->bytes_per_sector : 512;
	wbuf_u32(w, bps);               /* LogicalBytesPerSector */
	wbuf_u32(w, bps);               /* PhysicalBytesPerSectorForAtomicity */
	wbuf_u32(w, bps);               /* PhysicalBytesPerSectorForPerformance */
	wbuf_u32(w, bps);               /* FileSystemEffectivePhysicalBytesPerSectorForAtomicity */
	/* SSINFO_FLAGS_ALIGNED_DEVICE | SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE */
	wbuf_u32(w, 0x00000003u);
	wbuf_u32(w, 0);                 /* ByteOffsetForSectorAlignment */
	wbuf_u32(w, 0);                 /* ByteOffsetForPartitionAlignment */
}

/* ---------------------------------------------------------------- decoders */

uint32_t fileinfo_basic_decode(const uint8_t *p, size_t len, struct fileinfo_basic_set *out)
{
	/* MS-FSA 2.1.5.14.2: InputBufferLength < sizeof(FILE_BASIC_INFORMATION)
	 * (40) fails with STATUS_INFO_LENGTH_MISMATCH. */
	if (len < 40) return STATUS_INFO_LENGTH_MISMATCH;
	struct rbuf b = rbuf_make(p, len);
	out->creation_time = rbuf_u64(&b);
	out->last_access_time = rbuf_u64(&b);
	out->last_write_time = rbuf_u64(&b);
	out->change_time = rbuf_u64(&b);
	out->attributes = rbuf_u32(&b);
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

uint32_t fileinfo_rename_decode(const uint8_t *p, size_t len, struct fileinfo_rename_set *out)
{
	/* sizeof(FILE_RENAME_INFORMATION_TYPE_2) is 24: 20 fixed bytes plus
	 * WCHAR[1] rounded up to 8 (MS-FSA 2.1.5.14.11). */
	if (len < 24) return STATUS_INFO_LENGTH_MISMATCH;
	struct rbuf b = rbuf_make(p, len);
	out->replace_if_exists = rbuf_u8(&b) != 0;
	rbuf_skip(&b, 7);               /* Reserved */
	out->root_directory = rbuf_u64(&b);
	out->name_len = rbuf_u32(&b);
	/* The name must lie inside the buffer and be whole UTF-16 units. */
	if (b.err || (out->name_len & 1) || out->name_len > rbuf_left(&b))
		return STATUS_INVALID_PARAMETER;
	out->name = rbuf_ptr(&b, out->name_len);
	return b.err ? STATUS_INVALID_PARAMETER : STATUS_SUCCESS;
}

uint32_t fileinfo_u8_decode(const uint8_t *p, size_t len, uint8_t *out)
{
	if (len < 1) return STATUS_INFO_LENGTH_MISMATCH;
	*out = p[0];
	return STATUS_SUCCESS;
}

uint32_t fileinfo_u32_decode(const uint8_t *p, size_t len, uint32_t *out)
{
	if (len < 4) return STATUS_INFO_LENGTH_MISMATCH;
	*out = get_le32(p);
	return STATUS_SUCCESS;
}

uint32_t fileinfo_u64_decode(const uint8_t *p, size_t len, uint64_t *out)
{
	if (len < 8) return STATUS_INFO_LENGTH_MISMATCH;
	*out = get_le64(p);
	return STATUS_SUCCESS;
}

/* ------------------------------------------------------ security descriptor */

#define ACCESS_ALLOWED_ACE_TYPE 0x00
#define OBJECT_INHERIT_ACE    0x01
#define CONTAINER_INHERIT_ACE 0x02

/* A SID with one or two sub-authorities (MS-DTYP 2.4.2.2). */
struct sid {
	uint8_t authority;      /* low byte of the 48-bit IdentifierAuthority */
	uint8_t nsub;
	uint32_t sub[2];
};

static size_t sid_size(const struct sid *s) { return 8 + 4u * s->nsub; }

static void sid_encode(struct wbuf *w, const struct sid *s)
{
	wbuf_u8(w, 1);                  /* Revision */
	wbuf_u8(w, s->nsub);
	uint8_t auth[6] = { 0, 0, 0, 0, 0, s->authority };  /* big-endian */
	wbuf_bytes(w, auth, 6);
	for (unsigned i = 0; i < s->nsub; i++) wbuf_u32(w, s->sub[i]);
}

/* Maps three rwx bits to a Windows access mask. */
static uint32_t rwx_to_mask(unsigned rwx, bool is_dir)
{
	uint32_t m = 0;
	if (rwx & 4) m |= FILE_GENERIC_READ;
	if (rwx & 2) m |= FILE_GENERIC_WRITE | (is_dir ? FILE_DELETE_CHILD : 0);
	if (rwx & 1) m |= FILE_GENERIC_EXECUTE;
	return m;
}

static void ace_encode(struct wbuf *w, const struct sid *s, uint32_t mask, uint8_t flags)
{
	wbuf_u8(w, ACCESS_ALLOWED_ACE_TYPE);
	wbuf_u8(w, flags);
	wbuf_u16(w, (uint16_t)(8 + sid_size(s)));
	wbuf_u32(w, mask);
	sid_encode(w, s);
}

void security_desc_encode(struct wbuf *w, const struct posix_sd_input *in, uint32_t secinfo)
{
	const struct sid owner = { .authority = 22, .nsub = 2, .sub = { 1, in->uid } };
	const struct sid group = { .authority = 22, .nsub = 2, .sub = { 2, in->gid } };
	const struct sid everyone = { .authority = 1, .nsub = 1, .sub = { 0, 0 } };

	size_t base = w->len;
	uint16_t control = SE_SELF_RELATIVE;
	if (secinfo & DACL_SECURITY_INFORMATION) control |= SE_DACL_PRESENT;
	wbuf_u8(w, 1);                  /* Revision */
	wbuf_u8(w, 0);                  /* Sbz1 */
	wbuf_u16(w, control);
	wbuf_u32(w, 0);                 /* OffsetOwner, patched */
	wbuf_u32(w, 0);                 /* OffsetGroup, patched */
	wbuf_u32(w, 0);                 /* OffsetSacl: none */
	wbuf_u32(w, 0);                 /* OffsetDacl, patched */

	if (secinfo & OWNER_SECURITY_INFORMATION) {
		wbuf_set_u32(w, base + 4, (uint32_t)(w->len - base));
		sid_encode(w, &owner);
	}
	if (secinfo & GROUP_SECURITY_INFORMATION) {
		wbuf_set_u32(w, base + 8, (uint32_t)(w->len - base));
		sid_encode(w, &group);
	}
	if (secinfo & DACL_SECURITY_INFORMATION) {
		wbuf_set_u32(w, base + 16, (uint32_t)(w->len - base));
		/* The owner may always read and change the security and attributes
		 * (POSIX lets the owner chmod); the rest follows the mode bits. */
		uint32_t owner_mask = rwx_to_mask((in->mode >> 6) & 7, in->is_dir) |
		                      READ_CONTROL | WRITE_DAC | WRITE_OWNER |
		                      FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES;
		if ((in->mode >> 6) & 2) owner_mask |= DELETE;
		uint32_t group_mask = rwx_to_mask((in->mode >> 3) & 7, in->is_dir);
		uint32_t other_mask = rwx_to_mask(in->mode & 7, in->is_dir);
		struct { const struct sid *sid; uint32_t mask; } aces[3] = {
			{ &owner, owner_mask }, { &group, group_mask }, { &everyone, other_mask },
		};
		uint8_t flags = in->is_dir ? (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE) : 0;
		size_t acl_off = w->len;
		wbuf_u8(w, 2);              /* AclRevision: ACL_REVISION */
		wbuf_u8(w, 0);              /* Sbz1 */
		wbuf_u16(w, 0);             /* AclSize, patched */
		wbuf_u16(w, 0);             /* AceCount, patched */
		wbuf_u16(w, 0);             /* Sbz2 */
		uint16_t count = 0;
		for (unsigned i = 0; i < 3; i++) {
			if (!aces[i].mask) continue;
			ace_encode(w, aces[i].sid, aces[i].mask, flags);
			count++;
		}
		wbuf_set_u16(w, acl_off + 2, (uint16_t)(w->len - acl_off));
		wbuf_set_u16(w, acl_off + 4, count);
	}
}

/* ------------------------------------------------------------ streams */

int fileinfo_streams_encode(struct wbuf *w, const struct fileinfo_stream *s, size_t n)
{
	size_t prev = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		if (prev != (size_t)-1) {
			/* 2.4.43: each entry starts 8-byte aligned. */
			size_t pad = (8 - ((w->len - prev) & 7)) & 7;
			wbuf_zero(w, pad);
			if (!w->err) put_le32(w->p + prev, (uint32_t)(w->len - prev));
		}
		prev = w->len;
		wbuf_u32(w, 0);                  /* NextEntryOffset, patched above */
		size_t len_off = w->len;
		wbuf_u32(w, 0);                  /* StreamNameLength */
		wbuf_u64(w, s[i].size);
		wbuf_u64(w, s[i].alloc);
		size_t name_start = w->len;
		if (utf8_to_utf16le(w, s[i].name, strlen(s[i].name)) < 0) return -1;
		if (!w->err) put_le32(w->p + len_off, (uint32_t)(w->len - name_start));
	}
	return 0;
}

/* ------------------------------------------------------------ EAs */

uint32_t fileinfo_full_ea_decode(const uint8_t *p, size_t len, struct fileinfo_ea *out, size_t max, size_t *n)
{
	*n = 0;
	size_t off = 0;
	while (off < len) {
		/* Fixed part: NextEntryOffset(4) Flags(1) EaNameLength(1)
		 * EaValueLength(2), then the name, its NUL, the value. */
		if (len - off < 8) return STATUS_EA_LIST_INCONSISTENT;
		const uint8_t *e = p + off;
		uint32_t next = get_le32(e);
		uint8_t nlen = e[5];
		uint16_t vlen = get_le16(e + 6);
		size_t need = 8 + (size_t)nlen + 1 + vlen;
		if (need > len - off) return STATUS_EA_LIST_INCONSISTENT;
		if (e[8 + nlen] != 0) return STATUS_EA_LIST_INCONSISTENT;
		if (next != 0 && (next < need || next > len - off || (next & 3))) return STATUS_EA_LIST_INCONSISTENT;
		if (*n >= max) return STATUS_EA_LIST_INCONSISTENT;
		if (out) {
			out[*n].flags = e[4];
			out[*n].name = (const char *)e + 8;
			out[*n].name_len = nlen;
			out[*n].value = e + 9 + nlen;
			out[*n].value_len = vlen;
		}
		(*n)++;
		if (next == 0) break;
		off += next;
	}
	return STATUS_SUCCESS;
}

uint32_t fileinfo_get_ea_decode(const uint8_t *p, size_t len, struct fileinfo_ea *out, size_t max, size_t *n)
{
	*n = 0;
	size_t off = 0;
	while (off < len) {
		/* NextEntryOffset(4) EaNameLength(1) EaName + NUL. */
		if (len - off < 5) return STATUS_EA_LIST_INCONSISTENT;
		const uint8_t *e = p + off;
		uint32_t next = get_le32(e);
		uint8_t nlen = e[4];
		size_t need = 5 + (size_t)nlen + 1;
		if (need > len - off) return STATUS_EA_LIST_INCONSISTENT;
		if (e[5 + nlen] != 0) return STATUS_EA_LIST_INCONSISTENT;
		if (next != 0 && (next < need || next > len - off)) return STATUS_EA_LIST_INCONSISTENT;
		if (*n >= max) return STATUS_EA_LIST_INCONSISTENT;
		if (out) {
			memset(&out[*n], 0, sizeof(out[*n]));
			out[*n].name = (const char *)e + 5;
			out[*n].name_len = nlen;
		}
		(*n)++;
		if (next == 0) break;
		off += next;
	}
	return STATUS_SUCCESS;
}

size_t fileinfo_full_ea_entry_size(const struct fileinfo_ea *e)
{
	return 8 + (size_t)e->name_len + 1 + e->value_len;
}

size_t fileinfo_full_ea_encode(struct wbuf *w, const struct fileinfo_ea *e, size_t n, size_t max_bytes)
{
	size_t start = w->len, prev = (size_t)-1, used = 0, written = 0;
	for (size_t i = 0; i < n; i++) {
		size_t pad = prev == (size_t)-1 ? 0 : (4 - ((w->len - prev) & 3)) & 3;
		if (used + pad + fileinfo_full_ea_entry_size(&e[i]) > max_bytes) break;
		wbuf_zero(w, pad);
		if (prev != (size_t)-1 && !w->err) put_le32(w->p + prev, (uint32_t)(w->len - prev));
		prev = w->len;
		wbuf_u32(w, 0);
		wbuf_u8(w, e[i].flags);
		wbuf_u8(w, e[i].name_len);
		wbuf_u16(w, e[i].value_len);
		wbuf_bytes(w, e[i].name, e[i].name_len);
		wbuf_u8(w, 0);
		wbuf_bytes(w, e[i].value, e[i].value_len);
		used = w->len - start;
		written++;
	}
	return written;
}
