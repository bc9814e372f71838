#include "err.h"

#include <errno.h>

const char *sevmon_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define SEVMON_ERR_MSG(name, num, msg) \
	case -(num):                   \
		return msg;
		SEVMON_ERRORS(SEVMON_ERR_MSG)
#undef SEVMON_ERR_MSG
	}
	return "unknown error";
}

const char *sevmon_errname(int err)
{
	switch (err) {
	case 0:
		return "OK";
#define SEVMON_ERR_NAME(name, num, msg) \
	case -(num):                    \
		return #name;
		SEVMON_ERRORS(SEVMON_ERR_NAME)
#undef SEVMON_ERR_NAME
	}
	return "E?";
}

int sevmon_from_errno(int e)
{
	switch (e) {
	case ENOMEM:
		return SEVMON_ENOMEM;
	case EINVAL:
		return SEVMON_EINVAL;
	case ETIMEDOUT:
		return SEVMON_ETIMEDOUT;
	case ECONNREFUSED:
	case ENOENT:
		return e == ENOENT ? SEVMON_ENOENT : SEVMON_ECONNREFUSED;
	case ECONNRESET:
	case EPIPE:
		return SEVMON_ECONNRESET;
	case EFAULT:
	case ENXIO:
		return SEVMON_EFAULT;
	case ENOSPC:
	case EDQUOT:
		return SEVMON_EFULL;
	case EACCES:
	case EPERM:
		return SEVMON_EDENIED;
	case EEXIST:
		return SEVMON_EEXIST;
	case ECANCELED:
		return SEVMON_ECANCELED;
	case EIO:
		return SEVMON_EIO;
	default:
		return SEVMON_ESYS;
	}
}
