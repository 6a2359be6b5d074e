/* The adaptive busy-poll window of an event loop (server/loop.c,
 * loop_poll_after_block): how it grows after quick blocks, shrinks after
 * long ones, stays within its bounds, and stays off when polling is off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/loop.h"

#define US 1000ull

static void test_grows_from_zero_to_max(void **state)
{
	(void)state;
	struct loop_poll p = { .window_ns = 0, .max_ns = 200 * US };
	/* A block that ended soon: the next request came just after the loop
	 * went to sleep, so polling would have caught it. */
	loop_poll_after_block(&p, 50 * US);
	assert_int_equal(p.window_ns, LOOP_POLL_START_NS);
	uint64_t prev = p.window_ns;
	for (int i = 0; i < 10; i++) {
		loop_poll_after_block(&p, 150 * US);
		assert_true(p.window_ns >= prev);
		assert_true(p.window_ns <= p.max_ns);
		prev = p.window_ns;
	}
	assert_int_equal(p.window_ns, 200 * US);
	/* Exactly max still counts as quick. */
	loop_poll_after_block(&p, 200 * US);
	assert_int_equal(p.window_ns, 200 * US);
}

static void test_shrinks_to_zero_when_idle(void **state)
{
	(void)state;
	struct loop_poll p = { .window_ns = 200 * US, .max_ns = 200 * US };
	loop_poll_after_block(&p, 200 * US + 1);
	assert_int_equal(p.window_ns, 100 * US);
	/* The one-second timeout of an idle loop: a handful of blocks turn
	 * polling off, so an idle server does not spin. */
	int blocks = 1;
	while (p.window_ns) {
		loop_poll_after_block(&p, 1000000 * US);
		blocks++;
		assert_true(blocks < 10);
	}
	assert_int_equal(blocks, 5);   /* 200 -> 100 -> 50 -> 25 -> 12.5 -> 0 */
	loop_poll_after_block(&p, 1000000 * US);
	assert_int_equal(p.window_ns, 0);
}

static void test_off_stays_off(void **state)
{
	(void)state;
	struct loop_poll p = { .window_ns = 0, .max_ns = 0 };
	loop_poll_after_block(&p, 1);
	assert_int_equal(p.window_ns, 0);
	loop_poll_after_block(&p, 0);
	assert_int_equal(p.window_ns, 0);
}

static void test_small_max(void **state)
{
	(void)state;
	/* A max below the start window caps the first window too. */
	struct loop_poll p = { .window_ns = 0, .max_ns = 3 * US };
	loop_poll_after_block(&p, 1 * US);
	assert_int_equal(p.window_ns, 3 * US);
	loop_poll_after_block(&p, 4 * US);
	assert_int_equal(p.window_ns, 0);   /* 1.5 us is below the start window */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_from_zero_to_max),
		cmocka_unit_test(test_shrinks_to_zero_when_idle),
		cmocka_unit_test(test_off_stays_off),
		cmocka_unit_test(test_small_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
