/* Case-insensitive name lookup in large directories (server/name_cache.c).
 *
 * A CREATE of a new name on a case-insensitive share must first make sure
 * no differently-cased spelling exists, which means reading the whole
 * directory: O(n) per create and O(n^2) to fill a directory.  This cache
 * keeps, for a few large directories, the set of their names keyed by the
 * Windows case folding, valid for one state of the directory (its device,
 * inode, mtime, ctime and size as statx reports them).  Any change made by
 * anyone else moves those stamps and the next miss reads the directory
 * again; a name smbkitd itself creates is added in place when the
 * directory's stamps before the create are still the ones the cache holds.
 */
#ifndef SMBKIT_SERVER_NAME_CACHE_H
#define SMBKIT_SERVER_NAME_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct name_cache_stamp {
	uint64_t dev, ino, size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	bool valid;   /* false: the directory is not cached (small, huge, or statx failed) */
};

/* The on-disk spelling of comp in the directory open at dfd, compared as
 * utf8_casecmp does (malloc'd), or NULL when there is none.  *stamp is the
 * directory state the answer was made for (for name_cache_created). */
char *name_cache_find(int dfd, const char *comp, struct name_cache_stamp *stamp);

/* smbkitd created name in the directory open at dfd, whose state was
 * *before when name_cache_find answered: the cached set (if it still
 * describes that state) takes the name and the directory's new state. */
void name_cache_created(int dfd, const struct name_cache_stamp *before, const char *name);

/* Frees every cached directory (shutdown, tests). */
void name_cache_clear(void);

#endif
