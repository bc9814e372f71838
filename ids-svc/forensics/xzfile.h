/*
 * xzfile.h — a file written through an XZ encoder (or plainly), in pieces: where an ISF
 * goes (Volatility 3 reads .json.xz symbol tables as they are).
 *
 * The file is written under PATH.tmp and renamed to PATH by xzfile_close when every byte
 * made it to disk, so PATH never holds half a table; xzfile_abort removes the temporary.
 */
#ifndef SEVMON_XZFILE_H
#define SEVMON_XZFILE_H

#include <stddef.h>
#include <stdint.h>

struct xzfile;

/* compress: 0 plain, else an XZ preset 0-9 (the stream has a CRC64 check). 0, EEXIST
 * (PATH exists), ENOMEM, or the open's error. */
int xzfile_open(const char *path, int compress, struct xzfile **out);
/* A sink for jw_flush / isf_write: ctx is the xzfile. 0 or SEVMON_EIO / ENOMEM. */
int xzfile_write(void *ctx, const char *p, size_t n);
/* Finish the stream, fsync, rename into place, free. *bytes: the file's size. */
int xzfile_close(struct xzfile *f, uint64_t *bytes);
void xzfile_abort(struct xzfile *f);

#endif
