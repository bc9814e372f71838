/*
 * xport_impl.h — private to lib/xport_*.c: the per-family pieces the generic code in
 * xport.c calls. Not part of the transport layer's contract (that is xport.h).
 */
#ifndef SEVMON_XPORT_IMPL_H
#define SEVMON_XPORT_IMPL_H

#include "xport.h"

#include <stdint.h>
#include <sys/socket.h>

/* Map a socket-call errno to the sevmon code callers act on (see xport.h). */
int xport__errno(int e);
/* CLOCK_MONOTONIC in milliseconds. */

/* Fill ss/len for a (unix, vsock-hybrid, tcp with a numeric host, vsock). */
int xport__unix_sockaddr(const char *path, struct sockaddr_storage *ss, socklen_t *len);
int xport__tcp_sockaddr(const struct xport_addr *a, struct sockaddr_storage *ss, socklen_t *len);
int xport__vsock_sockaddr(const struct xport_addr *a, struct sockaddr_storage *ss,
			  socklen_t *len);

/* unix: make path bindable (remove a stale socket file), see xport_listen. */
int xport__unix_clear_stale(const char *path);
/* unix: describe the peer of connected fd by its credentials. */
void xport__unix_peer(int fd, char *buf, size_t cap);

/* Inverse of the *_sockaddr builders, for tcp (AF_INET/AF_INET6), vsock and unix. */
int xport__from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
			 struct xport_addr *out);

/* Hybrid handshake: advance c in state HYBRID_SEND / HYBRID_RECV (see xport_hybrid.c).
 * Returns 0 when done, XPORT_IN_PROGRESS with *want_events set, or an error. */
int xport__hybrid_step(struct xport_connecting *c, int *want_events);

#endif
