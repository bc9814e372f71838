/*
 * alert_jsonl.c — the "jsonl" sink: each alert appended as one line of JSON to a file
 * (spec: the path), for a log shipper to tail. One write(2) per line on an O_APPEND
 * descriptor, so lines from several writers never interleave, then fdatasync: "delivered"
 * means on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "err.h"

struct jsonl {
	int fd;
};

static int jsonl_open(const char *spec, void **state, char *err, size_t errcap)
{
	if (!spec || !spec[0]) {
		snprintf(err, errcap, "jsonl: needs a file path");
		return SEVMON_EINVAL;
	}
	struct jsonl *j = calloc(1, sizeof *j);
	if (!j)
		return SEVMON_ENOMEM;
	/* findings hold guest data (process names): owner-only, like the store */
	j->fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		int e = errno;
		snprintf(err, errcap, "jsonl: %s: %s", spec, strerror(e));
		free(j);
		return sevmon_from_errno(e);
	}
	*state = j;
	return 0;
}

static int jsonl_deliver(void *state, const struct alert *a, char *err, size_t errcap)
{
	struct jsonl *j = state;
	char *line = alert_json(a);
	if (!line)
		return SEVMON_ENOMEM;
	size_t n = strlen(line);
	line[n] = '\n'; /* alert_json's NUL becomes the newline: one write for the line */
	ssize_t w = write(j->fd, line, n + 1);
	int e = errno;
	free(line);
	if (w == (ssize_t)(n + 1) && fdatasync(j->fd) == 0)
		return 0;
	if (w >= 0 && w != (ssize_t)(n + 1))
		e = ENOSPC; /* a short append: the disk is full */
	snprintf(err, errcap, "jsonl: %s", strerror(e));
	/* full disk or I/O error: the same alert may go through later */
	return e == ENOSPC || e == EIO || e == EINTR || e == EAGAIN ? SEVMON_EBUSY
								     : sevmon_from_errno(e);
}

static void jsonl_close(void *state)
{
	struct jsonl *j = state;
	if (!j)
		return;
	close(j->fd);
	free(j);
}

const struct alert_sink_kind alert_sink_jsonl = {
	.name = "jsonl",
	.summary = "one JSON line per finding, appended to a file (a log shipper tails it)",
	.open = jsonl_open,
	.deliver = jsonl_deliver,
	.close = jsonl_close,
};
