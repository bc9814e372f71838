/*
 * rest_testd — the REST server with the test backend, for the curl test.
 *
 *   rest_testd --token T [--port-file F] [--unix PATH] [--max-body N] [--max-inflight N]
 *              [--max-conns N]
 *   rest_testd --doc-paths docs/openapi.json
 *
 * Serves on 127.0.0.1:<ephemeral>, writes the port to the port file, and on SIGTERM or
 * SIGINT closes the server and the loop. Exit status 0 only if the loop closed with no
 * handle left (a leak check), every live view completed and every connection closed.
 * --doc-paths prints one concrete path per documented route (templates filled with the
 * `example` of each path parameter) for the test to request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rest.h"
#include "rest_test_backend.h"

struct testd {
	uv_loop_t *loop;
	struct rest_server *srv;
	struct test_backend *tb;
	uv_signal_t sigterm, sigint;
	int closed;
};

static void on_srv_closed(void *arg)
{
	struct testd *d = arg;
	d->closed = 1;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct testd *d = s->data;
	(void)signum;
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	rest_server_close(d->srv, on_srv_closed, d);
}

static int doc_paths(const char *file)
{
	json_error_t e;
	json_t *doc = json_load_file(file, 0, &e);
	if (!doc) {
		fprintf(stderr, "%s:%d: %s\n", file, e.line, e.text);
		return 1;
	}
	const char *path;
	json_t *item;
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		char out[512] = "";
		const char *p = path;
		while (*p && strlen(out) < sizeof out - 80) {
			if (*p != '{') {
				strncat(out, p++, 1);
				continue;
			}
			const char *end = strchr(p, '}');
			if (!end)
				break;
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
			/* The example of parameter `name`, declared on the path item. */
			const char *ex = "missing-example";
			size_t i;
			json_t *prm;
			json_array_foreach(json_object_get(item, "parameters"), i, prm) {
				const char *pn = json_string_value(json_object_get(prm, "name"));
				const char *pe = json_string_value(json_object_get(prm, "example"));
				if (pn && pe && strcmp(pn, name) == 0)
					ex = pe;
			}
			strcat(out, ex);
			p = end + 1;
		}
		printf("%s\n", out);
	}
	json_decref(doc);
	return 0;
}

int main(int argc, char **argv)
{
	const char *tokens[REST_TOKENS_MAX];
	size_t ntokens = 0;
	const char *port_file = NULL;
	struct rest_config cfg = { .host = "127.0.0.1" };
	cfg.routes = rest_routes(&cfg.nroutes);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--doc-paths") == 0 && v)
			return doc_paths(v);
		if (!v) {
			fprintf(stderr, "rest_testd: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--token") == 0 && ntokens < REST_TOKENS_MAX)
			tokens[ntokens++] = v;
		else if (strcmp(a, "--port-file") == 0)
			port_file = v;
		else if (strcmp(a, "--unix") == 0)
			cfg.unix_path = v;
		else if (strcmp(a, "--max-body") == 0)
			cfg.max_body = strtoul(v, NULL, 10);
		else if (strcmp(a, "--max-conns") == 0)
			cfg.max_conns = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--max-inflight") == 0)
			cfg.max_inflight = (unsigned)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "rest_testd: unknown option %s\n", a);
			return 2;
		}
	}
	cfg.tokens = tokens;
	cfg.ntokens = ntokens;

	struct testd d = { 0 };
	uv_loop_t loop;
	uv_loop_init(&loop);
	d.loop = &loop;
	d.tb = test_backend_new(&loop);
	struct metrics *m = metrics_new();
	int rc = rest_server_start(&d.srv, &loop, &cfg, &test_backend_ops, d.tb, m);
	if (rc) {
		fprintf(stderr, "rest_testd: %s\n", sevmon_strerror(rc));
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		test_backend_free(d.tb);
		metrics_free(m);
		return 1;
	}
	uv_signal_init(&loop, &d.sigterm);
	uv_signal_init(&loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", rest_server_port(d.srv)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror(port_file);
			return 1;
		}
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	int status = 0;
	if (!d.closed) {
		fprintf(stderr, "rest_testd: loop ended before the server closed\n");
		status = 1;
	}
	if (test_backend_pending(d.tb) != 0) {
		fprintf(stderr, "rest_testd: %u live views never completed\n",
			test_backend_pending(d.tb));
		status = 1;
	}
	rc = uv_loop_close(&loop);
	if (rc != 0) {
		fprintf(stderr, "rest_testd: handles left on the loop: %s\n", uv_strerror(rc));
		uv_print_all_handles(&loop, stderr);
		status = 3;
	}
	const struct tb_stats *st = test_backend_stats(d.tb);
	fprintf(stderr, "rest_testd: live views started %u completed %u cancelled %u client-gone %u\n",
		st->live_started, st->live_completed, st->live_cancelled, st->live_client_gone);
	test_backend_free(d.tb);
	metrics_free(m);
	return status;
}
