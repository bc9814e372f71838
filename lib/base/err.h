/*
 * err.h — the one error space of sevmon.
 *
 * Every library call returns 0 (or a non-negative count) on success and a negative
 * SEVMON_E* value on failure. The same numbers travel on the wire as the RPC status
 * code (positive there), so a number never changes meaning once assigned: add new
 * codes at the end of the list, never renumber.
 */
#ifndef SEVMON_ERR_H
#define SEVMON_ERR_H

/* X(name, number, message) */
#define SEVMON_ERRORS(X)                                                              \
	X(EINVAL, 1, "invalid argument")                                              \
	X(ENOMEM, 2, "out of memory")                                                 \
	X(ETOOBIG, 3, "size exceeds the configured limit")                            \
	X(ETRUNC, 4, "input truncated")                                               \
	X(EPROTO, 5, "protocol violation")                                            \
	X(EDECODE, 6, "message could not be decoded")                                 \
	X(EENCODE, 7, "message could not be encoded")                                 \
	X(EUNMETHOD, 8, "unknown method")                                             \
	X(EFAULT, 9, "address not mapped in the memory source")                       \
	X(EIO, 10, "I/O error")                                                       \
	X(ETIMEDOUT, 11, "deadline exceeded")                                         \
	X(ECANCELED, 12, "request canceled")                                          \
	X(ECONNREFUSED, 13, "connection refused")                                     \
	X(ECONNRESET, 14, "connection closed by peer")                                \
	X(EURI, 15, "malformed or unsupported URI")                                   \
	X(ENOTSUP, 16, "operation not supported")                                     \
	X(EBUSY, 17, "too many requests in flight")                                   \
	X(EDENIED, 18, "denied by policy")                                            \
	X(ENOENT, 19, "not found")                                                    \
	X(EINTERNAL, 20, "internal error")                                            \
	X(ESYS, 21, "system call failed")                                             \
	X(EAUTH, 22, "authentication failed")                                         \
	X(EATTEST, 23, "attestation evidence rejected")                               \
	X(EEXIST, 24, "already exists")                                               \
	X(EPARTIAL, 25, "result incomplete")                                          \
	X(ENONCE, 26, "nonce space exhausted: a new handshake is needed")              \
	X(EFULL, 27, "no space left on the device")

enum sevmon_err {
	SEVMON_OK = 0,
#define SEVMON_ERR_ENUM(name, num, msg) SEVMON_##name = -(num),
	SEVMON_ERRORS(SEVMON_ERR_ENUM)
#undef SEVMON_ERR_ENUM
};

/* Human-readable message for err (0 or negative). Unknown values give "unknown error". */
const char *sevmon_strerror(int err);
/* Symbolic name for err, e.g. "EFAULT"; "OK" for 0; "E?" for unknown values. */
const char *sevmon_errname(int err);
/* Map an errno value (positive, as errno holds it) to the closest sevmon error. */
int sevmon_from_errno(int e);

#endif
