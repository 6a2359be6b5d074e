/* File helpers shared by the unit tests; include after <cmocka.h> (the
 * helpers assert with it). */
#ifndef SMBKIT_TESTS_UNIT_TEST_FILES_H
#define SMBKIT_TESTS_UNIT_TEST_FILES_H

#include <stdio.h>

/* Creates or truncates path and writes text into it. */
static inline void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

#endif
