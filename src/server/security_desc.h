/* Security descriptors of files (security_desc.c).
 *
 * A file's SD is what a client last stored with SET_INFO (kept whole in the
 * xattr user.smbkit.sd), or else one derived from the POSIX owner, group and
 * mode (S-1-22-1-<uid>, S-1-22-2-<gid>, Everyone).  Permissions are still
 * enforced by POSIX only: a stored DACL is reported back, not applied. */
#ifndef SMBKIT_SERVER_SECURITY_DESC_H
#define SMBKIT_SERVER_SECURITY_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct smbd_open;

/* Appends the open file's complete SD (owner, group and DACL) to w. */
uint32_t smbd_sd_get(const struct smbd_open *o, struct wbuf *w);
/* Replaces the parts of the SD that secinfo names with those of sd. */
uint32_t smbd_sd_set(const struct smbd_open *o, const uint8_t *sd, size_t len, uint32_t secinfo);

#endif
