/* The user database written by smbkit-passwd and read by smbkitd.
 *
 * One user a line:   name:unix_name:NT-hash-as-32-hex-digits
 * '#' starts a comment line; blank lines are ignored.
 *
 * The file stores NT hashes (MD4 of the UTF-16LE password, MS-NLMP 3.3.1
 * NTOWFv1).  Such a hash is a password equivalent for NTLM: whoever reads it
 * can authenticate as the user.  The file is therefore always written with
 * mode 0600, and neither this code nor its callers ever print a hash.
 */
#include "server/server.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf16.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void nt_hash_password(const char *password_utf8, uint8_t out[16])
{
	/* NTOWFv1(Passwd) = MD4(UNICODE(Passwd))  (MS-NLMP 3.3.1) */
	struct wbuf w;
	wbuf_init(&w, 64);
	size_t len = strlen(password_utf8);
	bool ok = utf8_to_utf16le(&w, password_utf8, len) >= 0 && !w.err;
	if (ok) ok = crypto_init() == 0 && crypto_md4(w.p ? w.p : (const uint8_t *)"", w.len, out) == 0;
	if (w.p) explicit_bzero(w.p, w.cap);
	wbuf_free(&w);
	if (!ok) {
		/* There is no error return.  A zero (or any predictable) hash
		 * would be a usable credential for anyone who guesses it, so
		 * fall back to random bytes that match no password at all.
		 * Callers validate UTF-8 first; this is the last line. */
		log_error("cannot compute NT hash (invalid UTF-8 or MD4 unavailable)");
		if (crypto_random(out, 16) != 0) {
			for (int i = 0; i < 16; i++) out[i] = (uint8_t)(rand() ^ (i * 37));
		}
	}
}

void userdb_free(struct smbd_user *users, size_t n)
{
	if (!users) return;
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
		free(users[i].unix_name);
	}
	/* Hashes are password equivalents: do not leave them in freed memory. */
	explicit_bzero(users, n * sizeof(*users));
	free(users);
}

/* A name field may not contain the separator, line breaks or other control
 * characters, and must be valid UTF-8 (it is converted to UTF-16 to be
 * compared with what clients send). */
static const char *field_problem(const char *s, const char *what)
{
	(void)what;
	if (!*s) return "is empty";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == ':') return "contains ':'";
		if (*p < 0x20 || *p == 0x7f) return "contains a control character";
	}
	if (utf8_utf16_size(s, strlen(s)) < 0) return "is not valid UTF-8";
	return NULL;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

int userdb_load(const char *path, struct smbd_user **users_out, size_t *n_out, char *err, size_t errlen)
{
	*users_out = NULL;
	*n_out = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_warn("%s: readable by other users (mode %03o); it holds password hashes, run chmod 600",
			 path, (unsigned)(st.st_mode & 0777));
	FILE *f = fdopen(fd, "re");
	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}

	struct smbd_user *users = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;
	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
		const char *p = line;
		while (*p == ' ' || *p == '\t') p++;
		if (!*p || *p == '#') continue;

		/* name:unix_name:hash -- the name fields cannot contain ':',
		 * so the first two colons split the line unambiguously. */
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || !c2 || strchr(c2 + 1, ':')) {
			set_err(err, errlen, "%s:%u: expected name:unix_name:hash", path, lineno);
			rc = -1;
			break;
		}
		*c1 = 0;
		*c2 = 0;
		const char *name = line, *unix_name = c1 + 1, *hex = c2 + 1;
		const char *problem = field_problem(name, "name");
		if (problem) {
			set_err(err, errlen, "%s:%u: user name %s", path, lineno, problem);
			rc = -1;
			break;
		}
		if ((problem = field_problem(unix_name, "unix name"))) {
			set_err(err, errlen, "%s:%u: Unix user name %s", path, lineno, problem);
			rc = -1;
			break;
		}
		uint8_t hash[16];
		bool hex_ok = strlen(hex) == 32;
		for (int i = 0; hex_ok && i < 16; i++) {
			int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
			if (hi < 0 || lo < 0) hex_ok = false;
			else hash[i] = (uint8_t)(hi << 4 | lo);
		}
		if (!hex_ok) {
			/* Do not echo the field: it may be a hash (or a password
			 * someone pasted by mistake). */
			set_err(err, errlen, "%s:%u: the hash must be 32 hexadecimal digits", path, lineno);
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (utf8_casecmp(users[i].name, name) == 0) {
				set_err(err, errlen, "%s:%u: user '%s' is listed twice (names are case-insensitive)",
					path, lineno, name);
				rc = -1;
				break;
			}
		}
		if (rc) break;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct smbd_user *nu = realloc(users, ncap * sizeof(*nu));
			if (!nu) { rc = -1; set_err(err, errlen, "out of memory"); break; }
			users = nu;
			cap = ncap;
		}
		struct smbd_user *u = &users[n];
		u->name = strdup(name);
		u->unix_name = strdup(unix_name);
		memcpy(u->nt_hash, hash, 16);
		explicit_bzero(hash, sizeof(hash));
		n++;
		if (!u->name || !u->unix_name) { rc = -1; set_err(err, errlen, "out of memory"); break; }
	}
	if (rc == 0 && ferror(f)) {
		set_err(err, errlen, "%s: read error", path);
		rc = -1;
	}
	if (line) explicit_bzero(line, linecap);
	free(line);
	fclose(f);
	if (rc != 0) {
		userdb_free(users, n);
		return -1;
	}
	*users_out = users;
	*n_out = n;
	return 0;
}

int userdb_save(const char *path, const struct smbd_user *users, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *problem = field_problem(users[i].name, "name");
		if (problem) {
			set_err(err, errlen, "user name '%s' %s", users[i].name, problem);
			return -1;
		}
		if ((problem = field_problem(users[i].unix_name, "unix name"))) {
			set_err(err, errlen, "Unix user name of '%s' %s", users[i].name, problem);
			return -1;
		}
	}

	/* Write a temporary file in the same directory, fsync it and rename it
	 * over the old one: readers (a starting smbkitd) see either the old or
	 * the new database, never a half-written one, even after a crash. */
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	char *dircopy = strdup(path);
	if (!tmp || !dircopy) {
		free(tmp);
		free(dircopy);
		set_err(err, errlen, "out of memory");
		return -1;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", 8);
	/* mkstemp creates the file with mode 0600 regardless of umask
	 * widening, so the hashes are never readable by others, not even
	 * for a moment. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot create temporary file: %s", path, strerror(errno));
		free(tmp);
		free(dircopy);
		return -1;
	}
	int rc = -1;
	struct stat old;
	/* Keep the owner of an existing file (root editing a database that
	 * belongs to a service account); ignore failure as non-root. */
	if (stat(path, &old) == 0 && (old.st_uid != geteuid() || old.st_gid != getegid()))
		(void)!fchown(fd, old.st_uid, old.st_gid);
	FILE *f = NULL;
	if (fchmod(fd, 0600) != 0) {
		set_err(err, errlen, "%s: chmod: %s", tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;   /* owned by f now */
	fprintf(f, "# smbkit user database: name:unix_name:NT-hash. Edit with smbkit-passwd.\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s:%s:", users[i].name, users[i].unix_name);
		for (int b = 0; b < 16; b++) fprintf(f, "%02x", users[i].nt_hash[b]);
		fputc('\n', f);
	}
	if (fflush(f) != 0 || ferror(f)) {
		set_err(err, errlen, "%s: write error: %s", tmp, strerror(errno));
		goto out;
	}
	if (fsync(fileno(f)) != 0) {
		set_err(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		set_err(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		set_err(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	/* Make the rename itself durable. */
	int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (f) fclose(f);
	if (fd >= 0) close(fd);
	if (rc != 0) unlink(tmp);
	free(tmp);
	free(dircopy);
	return rc;
}
