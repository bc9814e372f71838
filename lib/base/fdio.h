/*
 * fdio.h — whole reads and writes on a file descriptor: the loops every file writer here
 * needs (short writes, EINTR), once.
 *
 * Errors: SEVMON_EIO (the call failed, or wrote nothing), SEVMON_ETRUNC (a read met the
 * end of the file before n bytes).
 */
#ifndef SEVMON_FDIO_H
#define SEVMON_FDIO_H

#include <stddef.h>
#include <stdint.h>

/* All n bytes at the file position. */
int fd_write_all(int fd, const void *buf, size_t n);
/* All n bytes at offset off. */
int fd_pwrite_all(int fd, uint64_t off, const void *buf, size_t n);
/* Exactly n bytes from offset off. */
int fd_pread_all(int fd, uint64_t off, void *buf, size_t n);

#endif
