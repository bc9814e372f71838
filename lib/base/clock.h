/*
 * clock.h — the one place that reads the clocks. Header-only (static inline), so both
 * sides and every layer can include it from below without linking anything.
 *
 * Monotonic time (CLOCK_MONOTONIC) is for deadlines, timeouts and durations: it never
 * jumps. Real time (CLOCK_REALTIME) is only for what a human or another machine reads:
 * timestamps in the store, log lines, JSON. clock_gettime on these two clocks cannot fail
 * on Linux, so none of these returns an error.
 */
#ifndef SEVMON_CLOCK_H
#define SEVMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_MS 1000000ll
#define CLOCK_NS_PER_S 1000000000ll

/* Nanoseconds / milliseconds of the monotonic clock (since an arbitrary start). */
static inline int64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

static inline int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / CLOCK_NS_PER_MS;
}

/* Seconds of the monotonic clock, for measuring (benches, summaries). */
static inline double clock_mono_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}

/* Milliseconds since the Unix epoch (UTC). */
static inline int64_t clock_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / CLOCK_NS_PER_MS;
}

/* The real time as a struct timespec, for log lines that print it broken down. */
static inline struct timespec clock_real_ts(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

#endif
