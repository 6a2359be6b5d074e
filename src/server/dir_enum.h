/* Directory enumeration state of an open (QUERY_DIRECTORY) and the
 * MS-FSA 2.1.4.4 wildcard matcher. */
#ifndef SMBKIT_SERVER_DIR_ENUM_H
#define SMBKIT_SERVER_DIR_ENUM_H

#include <stdbool.h>
#include <stddef.h>

#include <dirent.h>

/* The scan reads the directory live, one entry ahead, so that a huge
 * directory costs no memory up front and files created during a scan can
 * still show up (as on NTFS). */
struct smbd_dir_enum {
	DIR *dir;          /* private descriptor of the directory */
	int dots;          /* "." and ".." still to return: 0 both, 1 "..", 2 none */
	char *pending;     /* the next entry, read but not yet returned */
	char *pattern;     /* UTF-8 search pattern of this scan */
	bool returned_any; /* some entry matched since the scan (re)started */
};

/* (Re)starts a scan of the directory open as dirfd.  Returns 0 or -errno. */
int dir_enum_start(struct smbd_dir_enum *d, int dirfd);
/* The next name of the scan without consuming it; NULL at the end. */
const char *dir_enum_peek(struct smbd_dir_enum *d);
/* Consumes the name dir_enum_peek returned. */
void dir_enum_advance(struct smbd_dir_enum *d);
void dir_enum_free(struct smbd_dir_enum *d);

/* FsRtlIsNameInExpression as MS-FSA 2.1.4.4 describes it: '*', '?' and
 * the DOS wildcards '<' (DOS_STAR), '>' (DOS_QM), '"' (DOS_DOT);
 * case-insensitive. */
bool wildcard_match(const char *pattern, const char *name);
/* True when the pattern contains no wildcard character. */
bool wildcard_is_literal(const char *pattern);

#endif
