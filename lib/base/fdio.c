#include "fdio.h"

#include <errno.h>
#include <unistd.h>

#include "err.h"

int fd_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return SEVMON_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fd_pwrite_all(int fd, uint64_t off, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return SEVMON_EIO;
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

int fd_pread_all(int fd, uint64_t off, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SEVMON_EIO;
		if (r == 0)
			return SEVMON_ETRUNC;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}
