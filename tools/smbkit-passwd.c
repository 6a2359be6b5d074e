/* smbkit-passwd: edits the smbkitd user database.
 *
 *   smbkit-passwd -f FILE add USER [--unix-user NAME] [--password-stdin]
 *   smbkit-passwd -f FILE del USER
 *   smbkit-passwd -f FILE list
 *
 * Passwords are read from the terminal with echo off (or one line from
 * stdin with --password-stdin, for scripts), hashed at once, and wiped.
 * Neither a password nor a hash is ever printed: the NT hash is a password
 * equivalent for NTLM.
 *
 * Exit codes: 0 success, 1 error, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/utf16.h"
#include "server/server.h"

#define EXIT_USAGE 2
#define PASSWORD_MAX 1024

static const char *prog = "smbkit-passwd";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s -f FILE add USER [--unix-user NAME] [--password-stdin]\n"
		"       %s -f FILE del USER\n"
		"       %s -f FILE list\n"
		"\n"
		"Edits the smbkitd user database FILE (the 'users file' of smb.conf,\n"
		"or smbkitd --users FILE).\n"
		"\n"
		"  -f, --file FILE       user database to edit (created by 'add', mode 0600)\n"
		"  --unix-user NAME      Unix account the SMB user acts as (default: USER)\n"
		"  --password-stdin      read the password as one line from standard input\n"
		"                        instead of prompting on the terminal\n"
		"  -h, --help            show this help\n"
		"\n"
		"'add' replaces the password of an existing user.  'list' prints each\n"
		"user name and its Unix account; passwords and hashes are never shown.\n"
		"Exit status: 0 success, 1 error, 2 usage error.\n",
		prog, prog, prog);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return EXIT_USAGE;
}

/* ------------------------------------------------------- password input */

static struct termios saved_tty;
static volatile sig_atomic_t tty_fd_for_restore = -1;

static void restore_tty_and_die(int sig)
{
	if (tty_fd_for_restore >= 0) tcsetattr(tty_fd_for_restore, TCSAFLUSH, &saved_tty);
	(void)!write(STDERR_FILENO, "\n", 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from f into buf, without the line end.  Returns its
 * length, or -1 on EOF/error, -2 if it is too long. */
static long read_line(FILE *f, char *buf, size_t size)
{
	if (!fgets(buf, (int)size, f)) return -1;
	size_t len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n') buf[--len] = 0;
	else if (len == size - 1 && !feof(f)) {
		/* swallow the rest so it does not linger in the terminal */
		int ch;
		while ((ch = fgetc(f)) != EOF && ch != '\n') {}
		explicit_bzero(buf, size);
		return -2;
	}
	if (len > 0 && buf[len - 1] == '\r') buf[--len] = 0;
	return (long)len;
}

/* Prompts on the controlling terminal with echo switched off. */
static long prompt_password(FILE *tty, const char *prompt, char *buf, size_t size)
{
	int fd = fileno(tty);
	struct termios t;
	bool echo_off = false;
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fd, &saved_tty) == 0) {
		t = saved_tty;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		tty_fd_for_restore = fd;
		signal(SIGINT, restore_tty_and_die);
		signal(SIGTERM, restore_tty_and_die);
		signal(SIGHUP, restore_tty_and_die);
		signal(SIGQUIT, restore_tty_and_die);
		echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	long len = read_line(tty, buf, size);
	if (echo_off) tcsetattr(fd, TCSAFLUSH, &saved_tty);
	tty_fd_for_restore = -1;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	fputc('\n', tty);
	fflush(tty);
	return len;
}

static int check_password(const char *pw, long len)
{
	if (len == -2) {
		fprintf(stderr, "%s: password is too long (at most %d bytes)\n", prog, PASSWORD_MAX - 2);
		return -1;
	}
	if (len < 0) {
		fprintf(stderr, "%s: no password given\n", prog);
		return -1;
	}
	if (len == 0) {
		fprintf(stderr, "%s: empty passwords are not allowed\n", prog);
		return -1;
	}
	if (utf8_utf16_size(pw, (size_t)len) < 0) {
		fprintf(stderr, "%s: password is not valid UTF-8\n", prog);
		return -1;
	}
	return 0;
}

/* Gets the password and turns it into the NT hash; the cleartext is wiped
 * before returning.  Returns 0 or -1 (message printed). */
static int get_password_hash(bool from_stdin, uint8_t hash[16])
{
	char pw1[PASSWORD_MAX], pw2[PASSWORD_MAX];
	int rc = -1;
	if (from_stdin) {
		long len = read_line(stdin, pw1, sizeof(pw1));
		if (check_password(pw1, len) == 0) {
			nt_hash_password(pw1, hash);
			rc = 0;
		}
	} else {
		FILE *tty = fopen("/dev/tty", "r+e");
		if (!tty) {
			fprintf(stderr, "%s: no terminal to ask for the password (%s); use --password-stdin\n",
				prog, strerror(errno));
			return -1;
		}
		setvbuf(tty, NULL, _IONBF, 0);
		long len1 = prompt_password(tty, "New SMB password: ", pw1, sizeof(pw1));
		if (check_password(pw1, len1) == 0) {
			long len2 = prompt_password(tty, "Retype new SMB password: ", pw2, sizeof(pw2));
			if (len2 != len1 || strcmp(pw1, pw2) != 0) {
				fprintf(stderr, "%s: passwords do not match\n", prog);
			} else {
				nt_hash_password(pw1, hash);
				rc = 0;
			}
		}
		fclose(tty);
	}
	explicit_bzero(pw1, sizeof(pw1));
	explicit_bzero(pw2, sizeof(pw2));
	return rc;
}

/* ------------------------------------------------------------- database */

/* Characters Windows does not allow in account names, plus '@' (which
 * would read as a user principal name) and ':' (our field separator). */
static const char *user_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len == 0) return "is empty";
	if (len > 256) return "is longer than 256 bytes";
	if (utf8_utf16_size(name, len) < 0) return "is not valid UTF-8";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) return "contains a control character";
		if (strchr("\"/\\[]:;|=,+*?<>@", *p)) return "contains one of \" / \\ [ ] : ; | = , + * ? < > @";
	}
	return NULL;
}

static const char *unix_name_problem(const char *name)
{
	if (!*name) return "is empty";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == ':' || *p == '/') return "contains a character not allowed in Unix user names";
	return NULL;
}

/* Serializes concurrent smbkit-passwd runs on the same database: the file
 * itself is replaced by rename, so the lock is taken on its directory. */
static int lock_directory(const char *path)
{
	char *copy = strdup(path);
	if (!copy) return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0) return -1;
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return -1;
	}
	return fd;   /* released by exit */
}

static int load_db(const char *file, bool missing_ok, struct smbd_user **users, size_t *n)
{
	char err[512];
	if (missing_ok && access(file, F_OK) != 0 && errno == ENOENT) {
		*users = NULL;
		*n = 0;
		return 0;
	}
	if (userdb_load(file, users, n, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

static int save_db(const char *file, struct smbd_user *users, size_t n)
{
	char err[512];
	if (userdb_save(file, users, n, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

static int find_user(struct smbd_user *users, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (utf8_casecmp(users[i].name, name) == 0) return (int)i;
	return -1;
}

static int cmd_add(const char *file, const char *user, const char *unix_user, bool from_stdin)
{
	const char *problem = user_name_problem(user);
	if (problem) {
		fprintf(stderr, "%s: user name '%s' %s\n", prog, user, problem);
		return 1;
	}
	if (unix_user && (problem = unix_name_problem(unix_user))) {
		fprintf(stderr, "%s: Unix user name '%s' %s\n", prog, unix_user, problem);
		return 1;
	}
	if (lock_directory(file) < 0) {
		fprintf(stderr, "%s: %s: cannot lock its directory: %s\n", prog, file, strerror(errno));
		return 1;
	}
	struct smbd_user *users;
	size_t n;
	if (load_db(file, true, &users, &n) != 0) return 1;

	int idx = find_user(users, n, user);
	const char *mapped = unix_user ? unix_user : idx >= 0 ? users[idx].unix_name : user;
	if (!getpwnam(mapped))
		fprintf(stderr, "%s: warning: Unix account '%s' does not exist (yet)\n", prog, mapped);

	uint8_t hash[16];
	if (get_password_hash(from_stdin, hash) != 0) {
		userdb_free(users, n);
		return 1;
	}

	int rc = 1;
	if (idx >= 0) {
		memcpy(users[idx].nt_hash, hash, 16);
		if (unix_user) {
			char *copy = strdup(unix_user);
			if (!copy) goto oom;
			free(users[idx].unix_name);
			users[idx].unix_name = copy;
		}
	} else {
		struct smbd_user *nu = realloc(users, (n + 1) * sizeof(*nu));
		if (!nu) goto oom;
		users = nu;
		users[n].name = strdup(user);
		users[n].unix_name = strdup(mapped);
		memcpy(users[n].nt_hash, hash, 16);
		n++;
		if (!users[n - 1].name || !users[n - 1].unix_name) goto oom;
	}
	if (save_db(file, users, n) == 0) {
		printf("%s user %s\n", idx >= 0 ? "Updated" : "Added", user);
		rc = 0;
	}
	goto out;
oom:
	fprintf(stderr, "%s: out of memory\n", prog);
out:
	explicit_bzero(hash, sizeof(hash));
	userdb_free(users, n);
	return rc;
}

static int cmd_del(const char *file, const char *user)
{
	if (lock_directory(file) < 0) {
		fprintf(stderr, "%s: %s: cannot lock its directory: %s\n", prog, file, strerror(errno));
		return 1;
	}
	struct smbd_user *users;
	size_t n;
	if (load_db(file, false, &users, &n) != 0) return 1;
	int idx = find_user(users, n, user);
	int rc = 1;
	if (idx < 0) {
		fprintf(stderr, "%s: no user '%s' in %s\n", prog, user, file);
	} else {
		struct smbd_user gone = users[idx];
		memmove(&users[idx], &users[idx + 1], (n - (size_t)idx - 1) * sizeof(*users));
		n--;
		if (save_db(file, users, n) == 0) {
			printf("Deleted user %s\n", gone.name);
			rc = 0;
		}
		free(gone.name);
		free(gone.unix_name);
		explicit_bzero(&gone, sizeof(gone));
	}
	userdb_free(users, n);
	return rc;
}

static int cmd_list(const char *file)
{
	struct smbd_user *users;
	size_t n;
	if (load_db(file, false, &users, &n) != 0) return 1;
	for (size_t i = 0; i < n; i++) printf("%s\t%s\n", users[i].name, users[i].unix_name);
	userdb_free(users, n);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	enum { OPT_UNIX_USER = 256, OPT_PASSWORD_STDIN };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "unix-user", required_argument, NULL, OPT_UNIX_USER },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *unix_user = NULL;
	bool from_stdin = false;
	int opt;

	log_init(prog);
	/* getopt permutes, so options may follow the command and user name
	 * ("add bob --unix-user robert"). */
	while ((opt = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': file = optarg; break;
		case 'h': usage(stdout); return 0;
		case OPT_UNIX_USER: unix_user = optarg; break;
		case OPT_PASSWORD_STDIN: from_stdin = true; break;
		default: fprintf(stderr, "Try '%s --help'.\n", prog); return EXIT_USAGE;
		}
	}
	if (optind >= argc) return usage_error("missing command (add, del or list)");
	const char *cmd = argv[optind++];
	int nargs = argc - optind;
	if (!file) return usage_error("-f FILE is required");
	if (!*file) return usage_error("-f: empty file name");

	if (crypto_init() != 0) {
		fprintf(stderr, "%s: OpenSSL has no MD4 (legacy provider missing?)\n", prog);
		return 1;
	}

	if (!strcmp(cmd, "add")) {
		if (nargs != 1) return usage_error("usage: add USER [--unix-user NAME] [--password-stdin]");
		return cmd_add(file, argv[optind], unix_user, from_stdin);
	}
	if (unix_user || from_stdin)
		return usage_error("--unix-user and --password-stdin go with 'add' only, not '%s'", cmd);
	if (!strcmp(cmd, "del") || !strcmp(cmd, "delete")) {
		if (nargs != 1) return usage_error("usage: del USER");
		return cmd_del(file, argv[optind]);
	}
	if (!strcmp(cmd, "list")) {
		if (nargs != 0) return usage_error("usage: list");
		return cmd_list(file);
	}
	return usage_error("unknown command '%s' (add, del or list)", cmd);
}
