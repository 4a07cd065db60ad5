/*
 * unit.h - a minimal unit test harness: CHECK() records a failure and goes
 * on; the runner prints one line per test and "N passed, N failed" last.
 */
#ifndef AIM_UNIT_H
#define AIM_UNIT_H

#include <stdio.h>

extern int unit_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",         \
				__FILE__, __LINE__, #cond);                    \
			unit_failed = 1;                                       \
		}                                                              \
	} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* a fresh empty directory under $TMPDIR; removed by the runner */
const char *unit_tmpdir(void);

extern const struct unit_test util_tests[], uri_tests[], block_tests[],
	index_tests[], store_tests[], layout_tests[], sigv4_tests[],
	s3xml_tests[], codec_tests[], log_tests[], metrics_tests[],
	creds_tests[];

#endif
