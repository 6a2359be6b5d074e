/* Directory enumeration state of an open (QUERY_DIRECTORY) and the
 * MS-FSA 2.1.4.4 wildcard matcher. */
#ifndef SMBKIT_SERVER_DIR_ENUM_H
#define SMBKIT_SERVER_DIR_ENUM_H

#include <stdbool.h>
#include <stddef.h>

struct smbd_dir_enum {
	char **names;      /* snapshot of the directory, "." and ".." first */
	size_t n;
	size_t pos;        /* next name to consider */
	char *pattern;     /* UTF-8 search pattern of this scan */
	bool returned_any; /* some entry matched since the scan (re)started */
};

/* Reads every name of the directory open as dirfd (the fd is not moved:
 * a private descriptor is used).  Returns 0 or -errno. */
int dir_enum_load(struct smbd_dir_enum *d, int dirfd, bool with_dots);
void dir_enum_free(struct smbd_dir_enum *d);

/* FsRtlIsNameInExpression as MS-FSA 2.1.4.4 describes it: '*', '?' and
 * the DOS wildcards '<' (DOS_STAR), '>' (DOS_QM), '"' (DOS_DOT);
 * case-insensitive. */
bool wildcard_match(const char *pattern, const char *name);
/* True when the pattern contains no wildcard character. */
bool wildcard_is_literal(const char *pattern);

#endif
