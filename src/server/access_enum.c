/* Access-based directory enumeration: which entries of a listing the user
 * may see.  See access_enum.h. */
#include "server/access_enum.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "server/security_desc.h"
#include "server/server.h"
#include "server/vfs.h"

bool access_enum_rights_visible(bool unix_readable, uint32_t dacl_granted)
{
	/* The kernel's read permission gives all of FILE_GENERIC_READ (as in
	 * CREATE's maximal access); without it only FILE_READ_ATTRIBUTES and
	 * READ_CONTROL remain, so the entry is hidden whatever the DACL says:
	 * a stored DACL only takes rights away. */
	if (!unix_readable) return false;
	return (dacl_granted & ACCESS_ENUM_NEEDED) == ACCESS_ENUM_NEEDED;
}

/* An O_PATH fd of the entry, following a symbolic link only while it stays
 * beneath the share (what CREATE of that name would reach), or -errno. */
static int open_entry(const struct smbd_share *sh, int dirfd, const char *dir_path, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return -errno;
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISLNK(sb.st_mode)) return fd;
	close(fd);
	/* A link: resolve it again from the share root, so a target outside
	 * the share (refused by CREATE) is not reached. */
	size_t dl = strlen(dir_path), nl = strlen(name);
	char *path = malloc(dl + nl + 2);
	if (!path) return -ENOMEM;
	if (dl) {
		memcpy(path, dir_path, dl);
		path[dl++] = '/';
	}
	memcpy(path + dl, name, nl + 1);
	fd = vfs_openat_beneath(sh->root_fd, path, O_PATH, 0);
	free(path);
	return fd;
}

bool access_enum_entry_visible(const struct smbd_session *s, const struct smbd_share *sh, int dirfd,
			       const char *dir_path, const char *name)
{
	int fd = open_entry(sh, dirfd, dir_path, name);
	if (fd < 0) {
		/* Gone, a dangling link, or one leading out of the share: the
		 * user could not open it, so it is not listed. */
		log_debug("access-based enumeration: '%s' in '%s' hidden: %s", name, dir_path, strerror(-fd));
		return false;
	}
	/* Read permission under the impersonated identity (AT_EACCESS: the
	 * fsuid the request runs with), as CREATE's maximal access does. */
	bool readable = faccessat(fd, "", R_OK, AT_EACCESS | AT_EMPTY_PATH) == 0;
	bool visible = false;
	if (readable) {
		/* The entry's own DACL, without the rights MS-FSA 2.1.5.1.2.1
		 * adds from the parent directory: every entry of a listable
		 * directory would otherwise get FILE_READ_ATTRIBUTES, and the
		 * entry's own DACL is what ABE judges (smb2.acls.ACCESSBASED). */
		uint32_t granted = smbd_sd_own_access(s, fd);
		visible = access_enum_rights_visible(true, granted);
	}
	close(fd);
	return visible;
}
