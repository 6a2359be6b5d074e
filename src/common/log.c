#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int log_current_level = LOG_LVL_INFO;
static const char *log_prog = "smbkit";
static int log_to_journal;

void log_init(const char *progname)
{
	log_prog = progname;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal;
	 * then the journal adds timestamps and understands "<prio>" prefixes. */
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

int log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i])) return i;
	if (s[0] >= '0' && s[0] <= '4' && !s[1]) return s[0] - '0';
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_current_level) return;
	static const char *const tags[] = { "error", "warn", "info", "debug", "trace" };
	static const int syslog_prio[] = { 3, 4, 6, 7, 7 };
	char line[2048];
	int n;
	if (log_to_journal) {
		n = snprintf(line, sizeof(line), "<%d>", syslog_prio[lvl]);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s[%s] ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000, log_prog, tags[lvl]);
	}
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof(line) - 1) n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2)-sized fputs keeps lines from different threads whole. */
	fwrite(line, 1, (size_t)n, stderr);
}
