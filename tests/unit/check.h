/* check.h - the unit tests' assertions.
 *
 * Each test is a plain executable: CHECK* macros print the failing
 * expression with file:line and exit(1); main returns 0 when all pass.
 * meson counts executables, so keep one concern per test binary.
 */
#ifndef FNL_TEST_CHECK_H
#define FNL_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,       \
				__LINE__, #a, #b, _a, _b);                                         \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_MEM(a, b, n)                                                                         \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0) {                                                  \
			fprintf(stderr, "%s:%d: memcmp(%s, %s, %s) differs\n", __FILE__, __LINE__, \
				#a, #b, #n);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#endif
