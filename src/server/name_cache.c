/* Case-insensitive name sets of large directories; see name_cache.h.
 *
 * Why stamps and not notifications: a directory can change behind our back
 * (a local process, another server), and watching every directory that was
 * ever looked up is far more expensive than one statx per lookup.  The
 * stamp is taken before the directory is read, so a change made during the
 * read moves it and the next lookup reads again; at worst the cache is
 * rebuilt once too often, never trusted for a state it did not see.  The
 * one window the stamps cannot close is a foreign change between
 * name_cache_find and name_cache_created (both around one CREATE): it is
 * the same window in which a foreign create would race the CREATE itself
 * without any cache.
 *
 * Lock: "name_cache" (rank 86, common/lock.h), a leaf; no system call is
 * made while holding it (directories are read and stat'ed outside it).
 */
#include "server/name_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/lock.h"
#include "common/utf16.h"

/* Directories smaller than this are read each time (a few getdents calls);
 * larger than the maximum are not cached (memory). */
#define NAME_CACHE_MIN_ENTRIES 256
#define NAME_CACHE_MAX_ENTRIES 400000
#define NAME_CACHE_DIRS 8

struct name_entry {
	uint64_t hash;
	uint32_t next;      /* index + 1 of the next entry in the bucket; 0 ends */
	char *name;
};

struct dir_names {
	struct name_cache_stamp stamp;
	struct name_entry *entries;
	uint32_t n, cap;
	uint32_t *buckets;  /* index + 1 of the first entry; 0 empty */
	uint32_t nbuckets;  /* power of two, >= 2 * n */
	uint64_t last_used;
};

static struct smb_mutex cache_lock;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static struct dir_names *dirs[NAME_CACHE_DIRS];
static uint64_t use_clock;

static void cache_init(void) { smb_mutex_init(&cache_lock, LOCK_RANK_NAME_CACHE, "name_cache"); }

static bool stamp_of(int dfd, struct name_cache_stamp *st)
{
	struct statx sx;
	memset(st, 0, sizeof(*st));
	if (statx(dfd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS, &sx) < 0) return false;
	st->dev = ((uint64_t)sx.stx_dev_major << 32) | sx.stx_dev_minor;
	st->ino = sx.stx_ino;
	st->size = sx.stx_size;
	st->mtime_sec = sx.stx_mtime.tv_sec;
	st->mtime_nsec = sx.stx_mtime.tv_nsec;
	st->ctime_sec = sx.stx_ctime.tv_sec;
	st->ctime_nsec = sx.stx_ctime.tv_nsec;
	st->valid = true;
	return true;
}

static bool same_dir(const struct name_cache_stamp *a, const struct name_cache_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

static bool same_state(const struct name_cache_stamp *a, const struct name_cache_stamp *b)
{
	return same_dir(a, b) && a->size == b->size && a->mtime_sec == b->mtime_sec &&
	       a->mtime_nsec == b->mtime_nsec && a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

static void dir_names_free(struct dir_names *d)
{
	if (!d) return;
	for (uint32_t i = 0; i < d->n; i++) free(d->entries[i].name);
	free(d->entries);
	free(d->buckets);
	free(d);
}

static bool rehash(struct dir_names *d, uint32_t nbuckets)
{
	uint32_t *b = calloc(nbuckets, sizeof(*b));
	if (!b) return false;
	for (uint32_t i = 0; i < d->n; i++) {
		uint32_t slot = (uint32_t)(d->entries[i].hash & (nbuckets - 1));
		d->entries[i].next = b[slot];
		b[slot] = i + 1;
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = nbuckets;
	return true;
}

/* Adds a name (taking ownership of it); false on allocation failure. */
static bool add_name(struct dir_names *d, char *name)
{
	if (d->n == d->cap) {
		uint32_t ncap = d->cap ? d->cap * 2 : 512;
		struct name_entry *ne = realloc(d->entries, (size_t)ncap * sizeof(*ne));
		if (!ne) return false;
		d->entries = ne;
		d->cap = ncap;
	}
	if ((d->n + 1) * 2 > d->nbuckets && !rehash(d, d->nbuckets ? d->nbuckets * 2 : 1024)) return false;
	struct name_entry *e = &d->entries[d->n];
	e->hash = utf8_casehash(name);
	e->name = name;
	uint32_t slot = (uint32_t)(e->hash & (d->nbuckets - 1));
	e->next = d->buckets[slot];
	d->buckets[slot] = ++d->n;
	return true;
}

static const char *lookup(const struct dir_names *d, const char *comp)
{
	uint64_t h = utf8_casehash(comp);
	for (uint32_t i = d->buckets[h & (d->nbuckets - 1)]; i; i = d->entries[i - 1].next) {
		const struct name_entry *e = &d->entries[i - 1];
		if (e->hash == h && utf8_casecmp(e->name, comp) == 0) return e->name;
	}
	return NULL;
}

/* Reads the whole directory; returns the set, or NULL when it is not worth
 * caching (then *found holds the answer of the plain scan). */
static struct dir_names *read_dir(int dfd, const char *comp, char **found)
{
	*found = NULL;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return NULL;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return NULL;
	}
	struct dir_names *d = calloc(1, sizeof(*d));
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
		if (!*found && utf8_casecmp(de->d_name, comp) == 0) *found = strdup(de->d_name);
		if (!d) continue;
		char *copy = d->n < NAME_CACHE_MAX_ENTRIES ? strdup(de->d_name) : NULL;
		if (!copy || !add_name(d, copy)) {
			free(copy);
			dir_names_free(d);   /* too large, or out of memory: answer only */
			d = NULL;
			if (*found) break;
		}
	}
	closedir(dp);
	if (d && d->n < NAME_CACHE_MIN_ENTRIES) {
		dir_names_free(d);
		d = NULL;
	}
	return d;
}

char *name_cache_find(int dfd, const char *comp, struct name_cache_stamp *stamp)
{
	pthread_once(&cache_once, cache_init);
	struct name_cache_stamp now;
	bool stamped = stamp_of(dfd, &now);
	*stamp = now;
	stamp->valid = false;
	if (stamped) {
		smb_mutex_lock(&cache_lock);
		for (int i = 0; i < NAME_CACHE_DIRS; i++) {
			struct dir_names *d = dirs[i];
			if (!d || !same_state(&d->stamp, &now)) continue;
			d->last_used = ++use_clock;
			const char *hit = lookup(d, comp);
			char *found = hit ? strdup(hit) : NULL;
			*stamp = now;
			smb_mutex_unlock(&cache_lock);
			return found;
		}
		smb_mutex_unlock(&cache_lock);
	}
	char *found;
	struct dir_names *d = read_dir(dfd, comp, &found);
	if (!d) return found;
	if (!stamped) {
		dir_names_free(d);
		return found;
	}
	d->stamp = now;
	*stamp = now;
	struct dir_names *evicted = NULL;
	smb_mutex_lock(&cache_lock);
	d->last_used = ++use_clock;
	int victim = 0;
	for (int i = 0; i < NAME_CACHE_DIRS; i++) {
		/* The same directory in an older state, or an empty slot, or
		 * else the least recently used. */
		if (dirs[i] && same_dir(&dirs[i]->stamp, &now)) {
			victim = i;
			break;
		}
		if (!dirs[i] || (dirs[victim] && dirs[i]->last_used < dirs[victim]->last_used)) victim = i;
	}
	evicted = dirs[victim];
	dirs[victim] = d;
	smb_mutex_unlock(&cache_lock);
	dir_names_free(evicted);
	return found;
}

void name_cache_created(int dfd, const struct name_cache_stamp *before, const char *name)
{
	if (!before->valid) return;
	pthread_once(&cache_once, cache_init);
	struct name_cache_stamp after;
	/* dfd must be the directory the stamp was taken of. */
	bool stamped = stamp_of(dfd, &after) && same_dir(&after, before);
	char *copy = strdup(name);
	struct dir_names *dropped = NULL;
	smb_mutex_lock(&cache_lock);
	for (int i = 0; i < NAME_CACHE_DIRS; i++) {
		struct dir_names *d = dirs[i];
		if (!d || !same_state(&d->stamp, before)) continue;
		if (stamped && copy && (lookup(d, name) || add_name(d, copy))) {
			if (lookup(d, name) != copy) free(copy);   /* already listed */
			copy = NULL;
			d->stamp = after;
		} else {
			/* Cannot follow the change: forget the directory. */
			dropped = d;
			dirs[i] = NULL;
		}
		break;
	}
	smb_mutex_unlock(&cache_lock);
	free(copy);
	dir_names_free(dropped);
}

void name_cache_clear(void)
{
	pthread_once(&cache_once, cache_init);
	smb_mutex_lock(&cache_lock);
	struct dir_names *old[NAME_CACHE_DIRS];
	memcpy(old, dirs, sizeof(old));
	memset(dirs, 0, sizeof(dirs));
	smb_mutex_unlock(&cache_lock);
	for (int i = 0; i < NAME_CACHE_DIRS; i++) dir_names_free(old[i]);
}
