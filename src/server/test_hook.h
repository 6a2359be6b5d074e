/* Test hooks of debug builds: a pause at a point where a race can happen,
 * so that a test can act in the window (tests/stress/run.sh sets them).
 * Release builds (NDEBUG) compile them to nothing. */
#ifndef SMBKIT_SERVER_TEST_HOOK_H
#define SMBKIT_SERVER_TEST_HOOK_H

#include <stdlib.h>
#include <unistd.h>

/* Sleeps for the milliseconds (1..10000) the environment variable var
 * names.  Read each time: nothing sets the environment after start-up, and
 * a cached value would be one more thing shared between loop threads. */
static inline void test_hook_pause(const char *var)
{
#ifndef NDEBUG
	const char *e = getenv(var);
	int pause_ms = e ? atoi(e) : 0;
	if (pause_ms > 0 && pause_ms <= 10000) usleep((useconds_t)pause_ms * 1000u);
#else
	(void)var;
#endif
}

#endif
