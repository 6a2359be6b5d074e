/* The adaptive busy-poll window of an event loop; see struct loop_poll in
 * loop.h.  Kept apart from loop.c so the unit test links it alone. */
#include "server/loop.h"

void loop_poll_after_block(struct loop_poll *p, uint64_t blocked_ns)
{
	if (!p->max_ns) return;
	if (blocked_ns <= p->max_ns) {
		/* The next event came soon after the loop gave up polling. */
		uint64_t w = p->window_ns ? p->window_ns * 2 : LOOP_POLL_START_NS;
		p->window_ns = w < p->max_ns ? w : p->max_ns;
	} else {
		p->window_ns /= 2;
		if (p->window_ns < LOOP_POLL_START_NS) p->window_ns = 0;
	}
}
