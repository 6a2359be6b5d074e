/* Security descriptors of files: stored blob or POSIX-derived default.
 * See security_desc.h. */
#include "server/security_desc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "server/server.h"
#include "wire/fileinfo.h"

#define SD_XATTR "user.smbkit.sd"
#define SD_MAX 65536

/* The *xattr calls refuse O_PATH descriptors; /proc/self/fd/N reaches the
 * same inode without resolving any name again. */
static ssize_t sd_xattr_read(int fd, uint8_t *buf, size_t len)
{
	ssize_t n = fgetxattr(fd, SD_XATTR, buf, len);
	if (n < 0 && errno == EBADF) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = getxattr(path, SD_XATTR, buf, len);
	}
	return n;
}

static int sd_xattr_write(int fd, const uint8_t *buf, size_t len)
{
	int r = fsetxattr(fd, SD_XATTR, buf, len, 0);
	if (r < 0 && errno == EBADF) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		r = setxattr(path, SD_XATTR, buf, len, 0);
	}
	return r;
}

uint32_t smbd_sd_get(const struct smbd_open *o, struct wbuf *w)
{
	const uint32_t all = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
			     DACL_SECURITY_INFORMATION;
	uint8_t *buf = malloc(SD_MAX);
	if (!buf) return STATUS_NO_MEMORY;
	ssize_t n = sd_xattr_read(o->fd, buf, SD_MAX);
	struct sd_parts parts;
	if (n > 0 && security_desc_parse(buf, (size_t)n, &parts) == STATUS_SUCCESS) {
		security_desc_build(w, &parts, all);
		free(buf);
		return STATUS_SUCCESS;
	}
	free(buf);
	struct stat st;
	if (fstat(o->fd, &st) < 0) return ntstatus_from_errno(errno);
	struct posix_sd_input in = { .uid = st.st_uid, .gid = st.st_gid, .mode = st.st_mode,
				     .is_dir = S_ISDIR(st.st_mode) };
	security_desc_encode(w, &in, all);
	return STATUS_SUCCESS;
}

uint32_t smbd_sd_set(const struct smbd_open *o, const uint8_t *sd, size_t len, uint32_t secinfo)
{
	struct sd_parts newp, cur;
	uint32_t status = security_desc_parse(sd, len, &newp);
	if (status) return status;
	struct wbuf curw;
	wbuf_init(&curw, 256);
	status = smbd_sd_get(o, &curw);
	if (status == STATUS_SUCCESS && !curw.err)
		status = security_desc_parse(curw.p, curw.len, &cur);
	else if (status == STATUS_SUCCESS)
		status = STATUS_NO_MEMORY;
	if (status) { wbuf_free(&curw); return status; }

	/* Take each part the client named from its SD, the rest from ours. */
	struct sd_parts merged = cur;
	if (secinfo & OWNER_SECURITY_INFORMATION) { merged.owner = newp.owner; merged.owner_len = newp.owner_len; }
	if (secinfo & GROUP_SECURITY_INFORMATION) { merged.group = newp.group; merged.group_len = newp.group_len; }
	if (secinfo & DACL_SECURITY_INFORMATION) {
		merged.dacl = newp.dacl; merged.dacl_len = newp.dacl_len;
		merged.dacl_present = newp.dacl_present;
	}
	struct wbuf out;
	wbuf_init(&out, 256);
	security_desc_build(&out, &merged, OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION |
					   DACL_SECURITY_INFORMATION);
	if (out.err) status = STATUS_NO_MEMORY;
	else if (out.len > SD_MAX) status = STATUS_INVALID_PARAMETER;
	else if (sd_xattr_write(o->fd, out.p, out.len) < 0)
		status = errno == ENOTSUP ? STATUS_NOT_SUPPORTED : ntstatus_from_errno(errno);
	wbuf_free(&out);
	wbuf_free(&curw);
	return status;
}
