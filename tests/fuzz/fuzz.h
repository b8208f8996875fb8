/*
 * What every libFuzzer harness shares: the entry point libFuzzer calls and
 * an assertion that is never compiled out, so that a broken invariant is a
 * crash with a stack like any other.
 */
#ifndef RUNBOX_FUZZ_H
#define RUNBOX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_assert(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
			    __FILE__, __LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

#endif
