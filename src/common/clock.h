/* Monotonic time for timeouts and measured intervals (never wall time,
 * which jumps when the clock is set). */
#ifndef SMBKIT_COMMON_CLOCK_H
#define SMBKIT_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_monotonic_ms(void) { return clock_monotonic_ns() / 1000000u; }

#endif
