/* test_store_concurrent.c — readers on their own connections while the writer writes (WAL). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "store_testutil.h"

enum { N_RESULTS = 300 };

struct writer_arg {
	const char *path;
	int64_t scan_id;
	atomic_int done;
	int failed;
};

static void *writer(void *p)
{
	struct writer_arg *w = p;
	struct store *s = NULL;
	if (store_open(w->path, 0, NULL, &s, NULL, 0) < 0) {
		w->failed = 1;
		atomic_store(&w->done, 1);
		return NULL;
	}
	const char *a[] = { "a" }, *ck[] = { "custom" };
	int rc = store_scan_begin(s, a, 1, ck, 1, &w->scan_id);
	for (int i = 0; rc == 0 && i < N_RESULTS; i++) {
		char check[32];
		snprintf(check, sizeof(check), "c%d", i);
		struct store_result_in r = { .target = "a", .check = check, .ok = true,
					     .payload_json = "{\"filler\":\"0123456789abcdef\"}" };
		rc = store_result_add(s, w->scan_id, &r);
	}
	if (rc == 0)
		rc = store_scan_finish(s, w->scan_id, STORE_SCAN_DONE);
	w->failed = rc != 0;
	store_close(s);
	atomic_store(&w->done, 1);
	return NULL;
}

TEST(store_concurrent_reader_sees_growing_commits_never_blocks)
{
	const char *path = st_db_path();
	struct store *s = st_open(path, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	store_close(s);

	struct store *r = NULL;
	ASSERT_EQ(store_open(path, STORE_OPEN_READONLY, NULL, &r, NULL, 0), 0);
	struct writer_arg w = { .path = path };
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, writer, &w), 0);
	size_t last = 0;
	int reads = 0, saw_middle = 0;
	while (!atomic_load(&w.done)) {
		struct store_scan *v = NULL;
		size_t n = 0;
		int rc = store_scans_list(r, "a", 0, 1, &v, &n);
		if (rc != 0)
			FAIL_AT("reader: %s: %s", sevmon_errname(rc), store_last_error(r));
		if (n == 1) {
			ASSERT(v[0].nresults >= last); /* commits only ever add */
			last = v[0].nresults;
			if (last > 0 && last < N_RESULTS)
				saw_middle = 1;
		}
		store_scans_free(v, n);
		reads++;
	}
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(w.failed, 0);
	ASSERT(reads > 0);
	/* the reader ran while the writer was part-way through (not only before or after) */
	ASSERT(saw_middle);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(r, w.scan_id, &sc), 0);
	ASSERT_EQ(sc.nresults, N_RESULTS);
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	store_scan_clear(&sc);
	store_close(r);
	st_cleanup();
}

TEST(store_concurrent_reader_open_does_not_interrupt_running_scan)
{
	const char *path = st_db_path();
	struct store *w = st_open(path, NULL);
	ASSERT_EQ(store_target_upsert(w, "a", "unix:///a", NULL, NULL), 1);
	const char *a[] = { "a" }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_begin(w, a, 1, ck, 1, &id), 0);
	struct store *r = NULL;
	ASSERT_EQ(store_open(path, STORE_OPEN_READONLY, NULL, &r, NULL, 0), 0);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(r, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_RUNNING);
	store_scan_clear(&sc);
	/* a second writer is refused rather than "recovering" a live scan */
	struct store *w2 = NULL;
	ASSERT_EQ(store_open(path, 0, NULL, &w2, NULL, 0), SEVMON_EBUSY);
	ASSERT_EQ(store_scan_get(r, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_RUNNING);
	store_scan_clear(&sc);
	store_close(r);
	store_close(w);
	st_cleanup();
}

TEST_MAIN()
