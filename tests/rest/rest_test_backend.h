/*
 * rest_test_backend.h — an in-test implementation of struct rest_backend: a few targets
 * with processes and modules held as plain structs, scans that finish on a timer, a
 * findings log, and live views answered from a uv timer (so they complete later, as
 * sevmond's do when an agent answers). The real backend is sevmond's.
 */
#ifndef SEVMON_REST_TEST_BACKEND_H
#define SEVMON_REST_TEST_BACKEND_H

#include "rest.h"

/* A live view on a target named "slow" waits this long: long enough for a client to
 * give up first; the others answer after TB_LIVE_DELAY_MS. */
#define TB_LIVE_DELAY_MS 30u
#define TB_SLOW_DELAY_MS 1500u
#define TB_MAX_TARGETS 32u
#define TB_MAX_SCANS 32u

struct tb_stats {
	unsigned live_started, live_completed, live_cancelled, live_client_gone;
};

struct test_backend;

extern const struct rest_backend test_backend_ops;

/* Seeded with targets vm1, vm2, slow, and overload (live views answer EBUSY), a finished
 * scan "s-1" and a few findings. */
struct test_backend *test_backend_new(uv_loop_t *loop);
/* Cancel nothing, just free; every live view must have completed (their timers hold
 * the loop). */
void test_backend_free(struct test_backend *tb);
const struct tb_stats *test_backend_stats(const struct test_backend *tb);
/* Live views not yet completed. */
unsigned test_backend_pending(const struct test_backend *tb);

#endif
