/*
 * rest_test_backend.c — see rest_test_backend.h.
 */
#include "rest_test_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct tb_proc {
	int pid, ppid, uid;
	const char *comm;
};

struct tb_module {
	const char *name;
	unsigned size;
};

static const struct tb_proc procs[] = {
	{ 1, 0, 0, "systemd" }, { 2, 0, 0, "kthreadd" }, { 311, 1, 0, "systemd-journal" },
	{ 612, 1, 0, "sshd" },  { 640, 1, 101, "sevmon-agent" },
};
static const struct tb_module modules[] = {
	{ "virtio_net", 61440 }, { "ext4", 991232 }, { "sev_guest", 20480 },
};

struct tb_target {
	char name[REST_NAME_MAX + 1];
	char uri[REST_URI_MAX + 1];
	char key[65];
	int used;
};

struct tb_scan {
	char id[REST_NAME_MAX + 1];
	char targets[TB_MAX_TARGETS][REST_NAME_MAX + 1];
	size_t ntargets;
	int used;
};

struct tb_op {
	uv_timer_t timer;
	struct test_backend *tb;
	struct rest_async *op;
	char check[16]; /* banner, ps or modules */
	char target[REST_NAME_MAX + 1];
	int cancelled;
};

struct test_backend {
	uv_loop_t *loop;
	struct tb_target targets[TB_MAX_TARGETS];
	struct tb_scan scans[TB_MAX_SCANS];
	unsigned next_scan;
	struct tb_stats stats;
	struct tb_stats scraped; /* stats at the last /metrics */
	unsigned pending;
};

static struct tb_target *find_target(struct test_backend *tb, const char *name)
{
	for (size_t i = 0; i < TB_MAX_TARGETS; i++)
		if (tb->targets[i].used && strcmp(tb->targets[i].name, name) == 0)
			return &tb->targets[i];
	return NULL;
}

static int add_target(struct test_backend *tb, const char *name, const char *uri, const char *key)
{
	if (find_target(tb, name))
		return SEVMON_EEXIST;
	for (size_t i = 0; i < TB_MAX_TARGETS; i++) {
		struct tb_target *t = &tb->targets[i];
		if (t->used)
			continue;
		memset(t, 0, sizeof *t);
		t->used = 1;
		snprintf(t->name, sizeof t->name, "%s", name);
		snprintf(t->uri, sizeof t->uri, "%s", uri);
		snprintf(t->key, sizeof t->key, "%s", key ? key : "");
		return 0;
	}
	return SEVMON_EBUSY;
}

static json_t *target_json(const struct tb_target *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", t->name, "uri", t->uri, "state",
			      strcmp(t->name, "slow") == 0 ? "degraded" : "ready", "attestation",
			      "status", "verified");
	if (t->key[0])
		json_object_set_new(o, "key", json_string(t->key));
	return o;
}

static int tb_target_list(void *ctx, json_t **out)
{
	struct test_backend *tb = ctx;
	json_t *a = json_array();
	for (size_t i = 0; i < TB_MAX_TARGETS; i++)
		if (tb->targets[i].used)
			json_array_append_new(a, target_json(&tb->targets[i]));
	*out = a;
	return 0;
}

static int tb_target_get(void *ctx, const char *name, json_t **out)
{
	struct tb_target *t = find_target(ctx, name);
	if (!t)
		return SEVMON_ENOENT;
	*out = target_json(t);
	return 0;
}

static int tb_target_add(void *ctx, const struct rest_target_spec *spec, json_t **out)
{
	int rc = add_target(ctx, spec->name, spec->uri, spec->key);
	if (rc)
		return rc;
	*out = target_json(find_target(ctx, spec->name));
	return 0;
}

static int tb_target_remove(void *ctx, const char *name)
{
	struct tb_target *t = find_target(ctx, name);
	if (!t)
		return SEVMON_ENOENT;
	t->used = 0;
	return 0;
}

static struct tb_scan *find_scan(struct test_backend *tb, const char *id)
{
	for (size_t i = 0; i < TB_MAX_SCANS; i++)
		if (tb->scans[i].used && strcmp(tb->scans[i].id, id) == 0)
			return &tb->scans[i];
	return NULL;
}

static int tb_scan_start(void *ctx, const struct rest_scan_request *req, char *id)
{
	struct test_backend *tb = ctx;
	for (size_t i = 0; i < req->ntargets; i++)
		if (!find_target(tb, req->targets[i]))
			return SEVMON_ENOENT;
	struct tb_scan *s = NULL;
	for (size_t i = 0; i < TB_MAX_SCANS && !s; i++)
		if (!tb->scans[i].used)
			s = &tb->scans[i];
	if (!s)
		return SEVMON_EBUSY;
	memset(s, 0, sizeof *s);
	s->used = 1;
	snprintf(s->id, sizeof s->id, "s-%u", ++tb->next_scan);
	if (req->targets) {
		for (size_t i = 0; i < req->ntargets && i < TB_MAX_TARGETS; i++)
			snprintf(s->targets[s->ntargets++], REST_NAME_MAX + 1, "%s", req->targets[i]);
	} else {
		for (size_t i = 0; i < TB_MAX_TARGETS; i++)
			if (tb->targets[i].used)
				snprintf(s->targets[s->ntargets++], REST_NAME_MAX + 1, "%s",
					 tb->targets[i].name);
	}
	snprintf(id, REST_NAME_MAX + 1, "%s", s->id);
	return 0;
}

static int tb_scan_get(void *ctx, const char *id, json_t **out)
{
	struct tb_scan *s = find_scan(ctx, id);
	if (!s)
		return SEVMON_ENOENT;
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", s->id, "state", "done", "targets_total",
			 (json_int_t)s->ntargets, "targets_done", (json_int_t)s->ntargets,
			 "targets_failed", (json_int_t)0);
	return 0;
}

static json_t *procs_json(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++)
		json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:s}", "pid", procs[i].pid,
						   "ppid", procs[i].ppid, "uid", procs[i].uid,
						   "comm", procs[i].comm));
	return a;
}

static json_t *modules_json(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
		json_array_append_new(a, json_pack("{s:s, s:i}", "name", modules[i].name, "size",
						   (int)modules[i].size));
	return a;
}

static int tb_scan_results(void *ctx, const char *id, json_t **out)
{
	struct tb_scan *s = find_scan(ctx, id);
	if (!s)
		return SEVMON_ENOENT;
	json_t *res = json_array();
	for (size_t i = 0; i < s->ntargets; i++)
		json_array_append_new(res, json_pack("{s:s, s:s, s:o, s:o}", "target", s->targets[i],
						     "status", "ok", "processes", procs_json(),
						     "modules", modules_json()));
	*out = json_pack("{s:s, s:o}", "id", s->id, "results", res);
	return 0;
}

static const struct {
	const char *target, *kind, *detail;
	enum rest_severity sev;
	int64_t time;
	const char *check, *technique;
} findings[] = {
	{ "vm1", "process_appeared", "pid 4242 comm nc", REST_SEV_MEDIUM, 1700000100, "ps", NULL },
	{ "vm1", "module_appeared", "module rootkit_x", REST_SEV_CRITICAL, 1700000200, "modules", NULL },
	{ "vm2", "syscall_hooked", "sys_call_table[59] outside kernel text", REST_SEV_HIGH,
	  1700000300, "syscalls", "T1014" },
	{ "vm2", "process_vanished", "pid 611 comm cron", REST_SEV_INFO, 1700000400, "ps", NULL },
};

static int tb_findings(void *ctx, const struct rest_findings_query *q, json_t **out)
{
	(void)ctx;
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof findings / sizeof findings[0]; i++) {
		if (json_array_size(a) >= q->limit)
			break;
		if (q->target && strcmp(q->target, findings[i].target) != 0)
			continue;
		if (findings[i].time < q->since || findings[i].sev < q->min_severity)
			continue;
		if ((q->check && strcmp(q->check, findings[i].check)) ||
		    (q->technique && (!findings[i].technique || strcmp(q->technique, findings[i].technique))))
			continue;
		json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "id",
						   (json_int_t)(i + 1), "target", findings[i].target,
						   "kind", findings[i].kind, "severity",
						   rest_severity_name(findings[i].sev), "time",
						   (json_int_t)findings[i].time, "detail",
						   findings[i].detail));
	}
	*out = a;
	return 0;
}

static void op_closed(uv_handle_t *h)
{
	struct tb_op *o = h->data;
	o->tb->pending--;
	free(o);
}

static void op_fire(uv_timer_t *t)
{
	struct tb_op *o = t->data;
	struct test_backend *tb = o->tb;
	json_t *body = NULL;
	if (!rest_async_client_alive(o->op))
		tb->stats.live_client_gone++;
	if (!strcmp(o->check, "banner"))
		body = json_pack("{s:s, s:s}", "target", o->target, "banner",
				 "Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org)");
	else if (!strcmp(o->check, "ps"))
		body = json_pack("{s:s, s:o}", "target", o->target, "processes", procs_json());
	else
		body = json_pack("{s:s, s:o}", "target", o->target, "modules", modules_json());
	rest_async_complete(o->op, 0, body);
	o->op = NULL;
	tb->stats.live_completed++;
	uv_close((uv_handle_t *)&o->timer, op_closed);
}

static void op_cancel(void *arg)
{
	struct tb_op *o = arg;
	o->cancelled = 1;
	o->tb->stats.live_cancelled++;
	/* Stop early, as sevmond would cancel the agent request: answer on the next turn. */
	uv_timer_start(&o->timer, op_fire, 0, 0);
}

static int tb_checks(void *ctx, json_t **out)
{
	(void)ctx;
	*out = json_pack("[{s:s, s:s, s:b, s:[s]}, {s:s, s:s, s:b, s:[s]}, {s:s, s:s, s:b, s:[s]}]",
			 "name", "banner", "summary", "the banner", "default", 1, "needs", "kernel",
			 "name", "ps", "summary", "processes", "default", 1, "needs", "kernel",
			 "name", "modules", "summary", "modules", "default", 1, "needs", "kernel");
	return *out ? 0 : SEVMON_ENOMEM;
}

static int tb_live_view(void *ctx, const char *name, const char *check, struct rest_async *op)
{
	struct test_backend *tb = ctx;
	if (!find_target(tb, name) ||
	    (strcmp(check, "banner") && strcmp(check, "ps") && strcmp(check, "modules")))
		return SEVMON_ENOENT;
	if (strcmp(name, "overload") == 0)
		return SEVMON_EBUSY;
	struct tb_op *o = calloc(1, sizeof *o);
	if (!o)
		return SEVMON_ENOMEM;
	o->tb = tb;
	o->op = op;
	snprintf(o->check, sizeof o->check, "%s", check);
	snprintf(o->target, sizeof o->target, "%s", name);
	uv_timer_init(tb->loop, &o->timer);
	o->timer.data = o;
	uv_timer_start(&o->timer, op_fire,
		       strcmp(name, "slow") == 0 ? TB_SLOW_DELAY_MS : TB_LIVE_DELAY_MS, 0);
	rest_async_on_cancel(op, op_cancel, o);
	tb->stats.live_started++;
	tb->pending++;
	return 0;
}

static void tb_collect(void *ctx, struct metrics *m)
{
	struct test_backend *tb = ctx;
	metrics_declare(m, "sevmond_targets", METRICS_GAUGE, "Configured targets.", NULL, 0);
	metrics_declare(m, "sevmond_live_views_total", METRICS_COUNTER,
			"Live views by outcome.", NULL, 0);
	unsigned n = 0;
	for (size_t i = 0; i < TB_MAX_TARGETS; i++)
		n += tb->targets[i].used != 0;
	metrics_gauge_set(m, "sevmond_targets", NULL, n);
	/* Counters are cumulative: add what happened since the last scrape. */
	const char *const done[] = { "outcome", "completed", NULL };
	const char *const canc[] = { "outcome", "cancelled", NULL };
	metrics_counter_add(m, "sevmond_live_views_total", done,
			    tb->stats.live_completed - tb->scraped.live_completed);
	metrics_counter_add(m, "sevmond_live_views_total", canc,
			    tb->stats.live_cancelled - tb->scraped.live_cancelled);
	tb->scraped = tb->stats;
}

const struct rest_backend test_backend_ops = {
	.target_list = tb_target_list,
	.target_get = tb_target_get,
	.target_add = tb_target_add,
	.target_remove = tb_target_remove,
	.scan_start = tb_scan_start,
	.scan_get = tb_scan_get,
	.scan_results = tb_scan_results,
	.findings = tb_findings,
	.live_view = tb_live_view,
	.checks = tb_checks,
	.collect_metrics = tb_collect,
};

struct test_backend *test_backend_new(uv_loop_t *loop)
{
	struct test_backend *tb = calloc(1, sizeof *tb);
	if (!tb)
		return NULL;
	tb->loop = loop;
	add_target(tb, "vm1", "vsock://3:5000", NULL);
	add_target(tb, "vm2", "unix:///run/sevmon/vm2.sock", NULL);
	add_target(tb, "slow", "tcp://127.0.0.1:5001", NULL);
	add_target(tb, "overload", "tcp://127.0.0.1:5002", NULL);
	const char *all[] = { "vm1", "vm2" };
	struct rest_scan_request req = { .targets = all, .ntargets = 2 };
	char id[REST_NAME_MAX + 1];
	tb_scan_start(tb, &req, id); /* "s-1" */
	return tb;
}

void test_backend_free(struct test_backend *tb)
{
	free(tb);
}

const struct tb_stats *test_backend_stats(const struct test_backend *tb)
{
	return &tb->stats;
}

unsigned test_backend_pending(const struct test_backend *tb)
{
	return tb->pending;
}
