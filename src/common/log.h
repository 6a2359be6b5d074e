/* Levelled logging to stderr, or to the journal's stderr stream with
 * syslog-style "<N>" prefixes when JOURNAL_STREAM says we run under systemd.
 * Never pass a password, hash or key to these functions. */
#ifndef SMBKIT_COMMON_LOG_H
#define SMBKIT_COMMON_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3, LOG_LVL_TRACE = 4 };

extern int log_current_level;

void log_init(const char *progname);
/* Parses "error|warn|info|debug|trace" or a digit; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_current_level >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_current_level >= LOG_LVL_TRACE) log_msg(LOG_LVL_TRACE, __VA_ARGS__); } while (0)

#endif
