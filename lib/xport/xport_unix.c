/*
 * xport_unix.c — Unix stream sockets (also the host end of vsock-hybrid).
 */
#include "xport_impl.h"

#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int xport__unix_sockaddr(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	size_t n = strnlen(path, XPORT_PATH_MAX);
	_Static_assert(sizeof sun->sun_path == XPORT_PATH_MAX, "XPORT_PATH_MAX is sun_path");
	if (n == 0 || n >= sizeof sun->sun_path)
		return SEVMON_EURI;
	memset(ss, 0, sizeof *ss);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/*
 * A socket file outlives the process that bound it, so a restarted daemon finds its
 * own stale file. Remove it only when it is a socket and a connect to it is refused:
 * never delete a regular file by a typo in a URI, never steal a live daemon's path.
 */
int xport__unix_clear_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : xport__errno(errno);
	if (!S_ISSOCK(st.st_mode))
		return SEVMON_EEXIST;
	struct sockaddr_storage ss;
	socklen_t len;
	int rc = xport__unix_sockaddr(path, &ss, &len);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return xport__errno(errno);
	/* Non-blocking: a live listener with a full backlog answers EAGAIN, not a wait. */
	rc = connect(fd, (struct sockaddr *)&ss, len);
	int e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return SEVMON_EEXIST;
	if (e != ECONNREFUSED)
		return xport__errno(e);
	if (unlink(path) != 0 && errno != ENOENT)
		return xport__errno(errno);
	return 0;
}

void xport__unix_peer(int fd, char *buf, size_t cap)
{
	struct ucred cr;
	socklen_t l = sizeof cr;
	int n;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && l == sizeof cr)
		n = snprintf(buf, cap, "unix:pid=%ld,uid=%lu", (long)cr.pid,
			     (unsigned long)cr.uid);
	else
		n = snprintf(buf, cap, "unix:");
	if (n < 0 || (size_t)n >= cap)
		snprintf(buf, cap, "?"); /* a cut pid would mislead */
}
