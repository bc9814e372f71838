#include "xzfile.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"

#define XZ_OUT (256u << 10)

struct xzfile {
	int fd;
	int compress;
	lzma_stream z;
	uint64_t written;
	char path[4096], tmp[4110];
	uint8_t out[XZ_OUT];
};

static int put(struct xzfile *f, const uint8_t *p, size_t n)
{
	int rc = fd_write_all(f->fd, p, n);
	if (rc == 0)
		f->written += n;
	return rc;
}

int xzfile_open(const char *path, int compress, struct xzfile **out)
{
	*out = NULL;
	if (strlen(path) >= sizeof((struct xzfile *)0)->path)
		return SEVMON_EINVAL;
	if (access(path, F_OK) == 0)
		return SEVMON_EEXIST;
	struct xzfile *f = calloc(1, sizeof *f);
	if (!f)
		return SEVMON_ENOMEM;
	snprintf(f->path, sizeof f->path, "%s", path);
	snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
	f->compress = compress;
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		int rc = sevmon_from_errno(errno);
		free(f);
		return rc;
	}
	if (compress) {
		f->z = (lzma_stream)LZMA_STREAM_INIT;
		uint32_t preset = (uint32_t)(compress > 9 ? 9 : compress);
		if (lzma_easy_encoder(&f->z, preset, LZMA_CHECK_CRC64) != LZMA_OK) {
			xzfile_abort(f);
			return SEVMON_ENOMEM;
		}
	}
	*out = f;
	return 0;
}

static int pump(struct xzfile *f, lzma_action act)
{
	for (;;) {
		f->z.next_out = f->out;
		f->z.avail_out = sizeof f->out;
		lzma_ret r = lzma_code(&f->z, act);
		if (r != LZMA_OK && r != LZMA_STREAM_END)
			return r == LZMA_MEM_ERROR ? SEVMON_ENOMEM : SEVMON_EIO;
		int rc = put(f, f->out, sizeof f->out - f->z.avail_out);
		if (rc < 0)
			return rc;
		if (act == LZMA_RUN ? f->z.avail_in == 0 : r == LZMA_STREAM_END)
			return 0;
	}
}

int xzfile_write(void *ctx, const char *p, size_t n)
{
	struct xzfile *f = ctx;
	if (!f->compress)
		return put(f, (const uint8_t *)p, n);
	f->z.next_in = (const uint8_t *)p;
	f->z.avail_in = n;
	return pump(f, LZMA_RUN);
}

int xzfile_close(struct xzfile *f, uint64_t *bytes)
{
	int rc = f->compress ? pump(f, LZMA_FINISH) : 0;
	if (rc == 0 && fsync(f->fd) < 0)
		rc = SEVMON_EIO;
	if (rc == 0 && close(f->fd) < 0)
		rc = SEVMON_EIO;
	else if (rc < 0)
		close(f->fd);
	f->fd = -1;
	if (rc == 0 && rename(f->tmp, f->path) < 0)
		rc = sevmon_from_errno(errno);
	if (rc == 0 && bytes)
		*bytes = f->written;
	if (rc < 0)
		unlink(f->tmp);
	if (f->compress)
		lzma_end(&f->z);
	free(f);
	return rc;
}

void xzfile_abort(struct xzfile *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->tmp);
	if (f->compress)
		lzma_end(&f->z);
	free(f);
}
