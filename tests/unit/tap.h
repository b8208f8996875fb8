/*
 * A minimal TAP producer for the unit tests: each ok() is one test point,
 * and tap_done() prints the plan and turns any failure into exit status 1.
 */
#ifndef RUNBOX_TAP_H
#define RUNBOX_TAP_H

#include <stdio.h>

static int tap_count;
static int tap_failed;

#define ok(cond, ...)                                                        \
	do {                                                                 \
		int tap_ok_ = (cond) ? 1 : 0;                                \
		tap_count++;                                                 \
		if (tap_ok_) {                                               \
			printf("ok %d - ", tap_count);                       \
		} else {                                                     \
			tap_failed++;                                        \
			printf("not ok %d - ", tap_count);                   \
		}                                                            \
		printf(__VA_ARGS__);                                         \
		printf("\n");                                                \
		if (!tap_ok_)                                                \
			printf("#   failed at %s:%d: %s\n", __FILE__,    \
			    __LINE__, #cond);                                \
	} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
