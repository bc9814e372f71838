/*
 * harness.h — a minimal TAP test harness.
 *
 * A test file defines cases with TEST(name) { ... } and ends with TEST_MAIN(). Each case
 * runs in its own forked process with a time limit (HARNESS_TIMEOUT_S, default 60 s), so a
 * crash, a hang or a failed assertion costs only that case. Output is TAP, which meson
 * reads (protocol: 'tap'). Assertions print both values on failure.
 * Case names follow <module>_<function>_<condition>.
 */
#ifndef SEVMON_TEST_HARNESS_H
#define SEVMON_TEST_HARNESS_H

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*harness_fn)(void);
struct harness_case {
	const char *name;
	harness_fn fn;
};

#define HARNESS_MAX_CASES 512
extern struct harness_case harness_cases[HARNESS_MAX_CASES];
extern int harness_ncases;

#define TEST(name)                                                              \
	static void test_##name(void);                                          \
	__attribute__((constructor)) static void register_##name(void)         \
	{                                                                       \
		if (harness_ncases < HARNESS_MAX_CASES)                         \
			harness_cases[harness_ncases++] =                       \
				(struct harness_case){ #name, test_##name };    \
	}                                                                       \
	static void test_##name(void)

#define FAIL_AT(...)                                                            \
	do {                                                                    \
		fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);               \
		fprintf(stderr, __VA_ARGS__);                                   \
		fprintf(stderr, "\n");                                          \
		exit(1);                                                        \
	} while (0)

/* End the case as skipped (TAP "# SKIP"): what it tests does not apply here. */
#define HARNESS_SKIP_STATUS 77
#define SKIP(...)                                                               \
	do {                                                                    \
		fprintf(stderr, "# skip: ");                                    \
		fprintf(stderr, __VA_ARGS__);                                   \
		fprintf(stderr, "\n");                                          \
		fflush(NULL);                                                   \
		_exit(HARNESS_SKIP_STATUS);                                     \
	} while (0)

#define ASSERT(cond)                                                            \
	do {                                                                    \
		if (!(cond))                                                    \
			FAIL_AT("assertion failed: %s", #cond);                 \
	} while (0)

#define ASSERT_EQ(a, b)                                                         \
	do {                                                                    \
		long long _a = (long long)(a), _b = (long long)(b);             \
		if (_a != _b)                                                   \
			FAIL_AT("%s == %s: %lld != %lld", #a, #b, _a, _b);      \
	} while (0)

#define ASSERT_NE(a, b)                                                         \
	do {                                                                    \
		long long _a = (long long)(a), _b = (long long)(b);             \
		if (_a == _b)                                                   \
			FAIL_AT("%s != %s: both %lld", #a, #b, _a);             \
	} while (0)

#define ASSERT_UEQ(a, b)                                                        \
	do {                                                                    \
		unsigned long long _a = (unsigned long long)(a),                \
				   _b = (unsigned long long)(b);                \
		if (_a != _b)                                                   \
			FAIL_AT("%s == %s: 0x%llx != 0x%llx", #a, #b, _a, _b);  \
	} while (0)

#define ASSERT_STREQ(a, b)                                                      \
	do {                                                                    \
		const char *_a = (a), *_b = (b);                                \
		if (!_a || !_b || strcmp(_a, _b) != 0)                          \
			FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,           \
				_a ? _a : "(null)", _b ? _b : "(null)");        \
	} while (0)

#define ASSERT_MEMEQ(a, b, n)                                                   \
	do {                                                                    \
		size_t _n = (n);                                                \
		if (memcmp((a), (b), _n) != 0)                                  \
			FAIL_AT("%s and %s differ in %zu bytes", #a, #b, _n);   \
	} while (0)

int harness_main(int argc, char **argv);

#define TEST_MAIN()                                                             \
	struct harness_case harness_cases[HARNESS_MAX_CASES];                   \
	int harness_ncases;                                                     \
	int main(int argc, char **argv) { return harness_main(argc, argv); }

#endif
