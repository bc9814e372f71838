/*
 * xport_vsock.c — AF_VSOCK (virtio-vsock / vhost-vsock, vsock_loopback for CID 1).
 */
#include "xport_impl.h"

#include "err.h"

#include <string.h>
#include <linux/vm_sockets.h>

_Static_assert(XPORT_VSOCK_CID_ANY == VMADDR_CID_ANY, "vsock CID ANY");
_Static_assert(XPORT_VSOCK_CID_LOCAL == VMADDR_CID_LOCAL, "vsock CID LOCAL");
_Static_assert(XPORT_VSOCK_CID_HOST == VMADDR_CID_HOST, "vsock CID HOST");

int xport__vsock_sockaddr(const struct xport_addr *a, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
	memset(ss, 0, sizeof *ss);
	vm->svm_family = AF_VSOCK;
	vm->svm_cid = a->cid;
	/* A hand-built port 0 means "any port" for listen; URIs never carry 0. */
	vm->svm_port = a->vport ? a->vport : VMADDR_PORT_ANY;
	*len = sizeof *vm;
	return 0;
}
