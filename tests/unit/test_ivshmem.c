/*
 * test_ivshmem.c — the ivshmem server protocol (lib/xport/ivshmem.h): a real server in a
 * child process and peers in the test, then hostile peers against the server and hostile
 * servers (scripted on a socketpair) against the peer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "harness.h"
#include "ivshmem.h"

static char sock_path[108];
static pid_t server_pid = -1;
static int server_stop = -1;

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static void server_start(unsigned vectors, unsigned max_peers)
{
	int stop[2], ready[2];
	snprintf(sock_path, sizeof sock_path, "/tmp/sevmon-ivs-test-%d.sock", (int)getpid());
	ASSERT_EQ(pipe(stop), 0);
	ASSERT_EQ(pipe(ready), 0);
	server_pid = fork();
	ASSERT(server_pid >= 0);
	if (server_pid == 0) {
		close(stop[1]);
		close(ready[0]);
		int shm = memfd_create("ivs-test", MFD_CLOEXEC);
		if (shm < 0 || ftruncate(shm, 1 << 20) < 0)
			_exit(2);
		struct ivshmem_server_cfg cfg = { sock_path, shm, vectors, max_peers };
		struct ivshmem_server *s;
		if (ivshmem_server_new(&cfg, &s) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		int rc = ivshmem_server_run(s, stop[0]);
		ivshmem_server_free(s);
		close(shm);
		_exit(rc == 0 ? 0 : 1);
	}
	close(stop[0]);
	close(ready[1]);
	char c;
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
	server_stop = stop[1];
}

static void server_stop_wait(void)
{
	int st;
	close(server_stop);
	ASSERT_EQ(waitpid(server_pid, &st, 0), server_pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int64_t soon(void) { return clock_mono_ns() + 5000000000LL; }

/* Update p until pred holds or 5 s pass. */
static int wait_update(struct ivshmem_peer *p, int (*pred)(struct ivshmem_peer *, uint32_t),
		       uint32_t arg)
{
	int64_t end = soon();
	while (clock_mono_ns() < end) {
		if (ivshmem_peer_update(p) < 0)
			return 0;
		if (pred(p, arg))
			return 1;
		struct pollfd pf = { p->sock, POLLIN, 0 };
		poll(&pf, 1, 50);
	}
	return 0;
}
static int has_peer(struct ivshmem_peer *p, uint32_t id) { return ivshmem_peer_find(p, id) != NULL; }
static int lacks_peer(struct ivshmem_peer *p, uint32_t id) { return ivshmem_peer_find(p, id) == NULL; }

TEST(ivshmem_server_new_bad_cfg)
{
	struct ivshmem_server *s;
	struct ivshmem_server_cfg c = { "/tmp/x.sock", -1, 1, 1 };
	ASSERT_EQ(ivshmem_server_new(&c, &s), SEVMON_EINVAL);
	c.shm_fd = 0;
	c.vectors = 0;
	ASSERT_EQ(ivshmem_server_new(&c, &s), SEVMON_EINVAL);
	c.vectors = IVSHMEM_MAX_VECTORS + 1;
	ASSERT_EQ(ivshmem_server_new(&c, &s), SEVMON_EINVAL);
	c.vectors = 1;
	c.max_peers = IVSHMEM_MAX_PEERS + 1;
	ASSERT_EQ(ivshmem_server_new(&c, &s), SEVMON_EINVAL);
	c.max_peers = 1;
	c.socket_path = "relative.sock";
	ASSERT_EQ(ivshmem_server_new(&c, &s), SEVMON_EINVAL);
}

TEST(ivshmem_peer_connect_first_gets_id0_and_shm)
{
	server_start(1, 4);
	struct ivshmem_peer a;
	ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
	ASSERT_EQ(a.id, 0);
	ASSERT(a.shm_fd >= 0);
	struct stat st;
	ASSERT_EQ(fstat(a.shm_fd, &st), 0);
	ASSERT_EQ(st.st_size, 1 << 20);
	ASSERT_EQ(a.nown, 1);
	ASSERT_EQ(a.npeers, 0);
	ivshmem_peer_close(&a);
	server_stop_wait();
}

TEST(ivshmem_peer_ring_two_peers_both_ways)
{
	server_start(1, 4);
	struct ivshmem_peer a, b;
	ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
	ASSERT_EQ(ivshmem_peer_connect(&b, sock_path, soon()), 0);
	ASSERT_EQ(b.id, 1);
	ASSERT(ivshmem_peer_find(&b, 0) != NULL);      /* step 4 */
	ASSERT(wait_update(&a, has_peer, 1));          /* step 6 */
	ASSERT_EQ(ivshmem_peer_drain(&b, 0), 0);
	ASSERT_EQ(ivshmem_peer_ring(&a, 1, 0), 0);
	ASSERT_EQ(ivshmem_peer_ring(&a, 1, 0), 0);
	ASSERT_EQ(ivshmem_peer_drain(&b, 0), 2);
	ASSERT_EQ(ivshmem_peer_ring(&b, 0, 0), 0);
	ASSERT_EQ(ivshmem_peer_drain(&a, 0), 1);
	ASSERT_EQ(ivshmem_peer_ring(&a, 7, 0), SEVMON_ENOENT);
	ASSERT_EQ(ivshmem_peer_ring(&a, 1, 1), SEVMON_ENOENT);
	/* b leaves: a hears it */
	ivshmem_peer_close(&b);
	ASSERT(wait_update(&a, lacks_peer, 1));
	ivshmem_peer_close(&a);
	server_stop_wait();
}

TEST(ivshmem_peer_vectors_in_order)
{
	server_start(3, 4);
	struct ivshmem_peer a, b;
	ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
	ASSERT_EQ(ivshmem_peer_connect(&b, sock_path, soon()), 0);
	int64_t end = soon();
	while ((b.nown < 3 || !ivshmem_peer_find(&a, 1) || ivshmem_peer_find(&a, 1)->nvec < 3) &&
	       clock_mono_ns() < end) {
		ivshmem_peer_update(&a);
		ivshmem_peer_update(&b);
		usleep(1000);
	}
	ASSERT_EQ(b.nown, 3);
	ASSERT_EQ(ivshmem_peer_find(&a, 1)->nvec, 3);
	ASSERT_EQ(ivshmem_peer_ring(&a, 1, 2), 0);
	ASSERT_EQ(ivshmem_peer_drain(&b, 0), 0);
	ASSERT_EQ(ivshmem_peer_drain(&b, 2), 1);
	ivshmem_peer_close(&a);
	ivshmem_peer_close(&b);
	server_stop_wait();
}

TEST(ivshmem_server_ids_not_reused_at_once)
{
	server_start(1, 4);
	struct ivshmem_peer a;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
		ASSERT_EQ(a.id, i);
		ivshmem_peer_close(&a);
	}
	server_stop_wait();
}

TEST(ivshmem_server_max_peers_refused)
{
	server_start(1, 2);
	struct ivshmem_peer a, b, c;
	ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
	ASSERT_EQ(ivshmem_peer_connect(&b, sock_path, soon()), 0);
	int rc = ivshmem_peer_connect(&c, sock_path, soon());
	ASSERT_EQ(rc, SEVMON_EPROTO); /* closed before any setup */
	/* the two still talk */
	ASSERT(wait_update(&a, has_peer, 1));
	ASSERT_EQ(ivshmem_peer_ring(&a, 1, 0), 0);
	ASSERT_EQ(ivshmem_peer_drain(&b, 0), 1);
	ivshmem_peer_close(&b);
	ASSERT(wait_update(&a, lacks_peer, 1));
	ASSERT_EQ(ivshmem_peer_connect(&c, sock_path, soon()), 0); /* room again */
	ivshmem_peer_close(&a);
	ivshmem_peer_close(&c);
	server_stop_wait();
}

TEST(ivshmem_server_peer_that_speaks_is_dropped)
{
	server_start(1, 4);
	struct ivshmem_peer a, bad;
	ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
	ASSERT_EQ(ivshmem_peer_connect(&bad, sock_path, soon()), 0);
	ASSERT(wait_update(&a, has_peer, 1));
	ASSERT_EQ(write(bad.sock, "hello", 5), 5);
	ASSERT(wait_update(&a, lacks_peer, 1)); /* the others are told it left */
	/* its socket is closed by the server: EOF */
	char c;
	struct pollfd pf = { bad.sock, POLLIN, 0 };
	ASSERT_EQ(poll(&pf, 1, 5000), 1);
	ASSERT_EQ(read(bad.sock, &c, 1), 0);
	/* the server goes on */
	struct ivshmem_peer b;
	ASSERT_EQ(ivshmem_peer_connect(&b, sock_path, soon()), 0);
	ASSERT_EQ(b.id, 2);
	ASSERT(wait_update(&a, has_peer, 2));
	ivshmem_peer_close(&bad);
	ivshmem_peer_close(&a);
	ivshmem_peer_close(&b);
	server_stop_wait();
}

TEST(ivshmem_server_peer_that_never_reads_is_dropped)
{
	server_start(1, 8);
	/* a raw connection that never reads: its buffer fills with connect notifications
	 * (each carries an fd) from peers coming and going, until a send fails */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	int mute = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_EQ(connect(mute, (struct sockaddr *)&sa, sizeof sa), 0);
	int sz = 4096;
	setsockopt(mute, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	struct ivshmem_peer a;
	int dropped = 0;
	for (int i = 0; i < 4000 && !dropped; i++) {
		ASSERT_EQ(ivshmem_peer_connect(&a, sock_path, soon()), 0);
		dropped = ivshmem_peer_find(&a, 0) == NULL; /* mute had id 0 */
		ivshmem_peer_close(&a);
	}
	ASSERT(dropped);
	close(mute);
	server_stop_wait();
}

/* ---- hostile servers, scripted ---- */

static void put(int s, int64_t v, int nfd, const int *fds)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (8 * i));
	union {
		struct cmsghdr h;
		char c[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { b, 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfd) {
		memset(&ctl, 0, sizeof ctl);
		m.msg_control = ctl.c;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	}
	ASSERT_EQ(sendmsg(s, &m, 0), 8);
}

static void scripted(struct ivshmem_peer *p, int *srv)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ivshmem_peer_init(p, sv[0]);
	*srv = sv[1];
}

static void good_setup(int srv, int id)
{
	int shm = memfd_create("x", 0), efd = eventfd(0, 0);
	put(srv, 0, 0, NULL);
	put(srv, id, 0, NULL);
	put(srv, -1, 1, &shm);
	put(srv, id, 1, &efd);
	close(shm);
	close(efd);
}

TEST(ivshmem_peer_update_bad_version)
{
	struct ivshmem_peer p;
	int srv, before = count_fds();
	scripted(&p, &srv);
	put(srv, 1, 0, NULL);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO); /* latched */
	ivshmem_peer_close(&p);
	close(srv);
	ASSERT_EQ(count_fds(), before);
}

TEST(ivshmem_peer_update_id_out_of_range)
{
	struct ivshmem_peer p;
	int srv;
	scripted(&p, &srv);
	put(srv, 0, 0, NULL);
	put(srv, 65536, 0, NULL);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ivshmem_peer_close(&p);
	close(srv);
}

TEST(ivshmem_peer_update_shm_without_fd)
{
	struct ivshmem_peer p;
	int srv;
	scripted(&p, &srv);
	put(srv, 0, 0, NULL);
	put(srv, 3, 0, NULL);
	put(srv, -1, 0, NULL);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ivshmem_peer_close(&p);
	close(srv);
}

TEST(ivshmem_peer_update_fd_with_version_closed)
{
	struct ivshmem_peer p;
	int srv, before = count_fds();
	scripted(&p, &srv);
	int efd = eventfd(0, 0);
	put(srv, 0, 1, &efd);
	close(efd);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ivshmem_peer_close(&p);
	close(srv);
	ASSERT_EQ(count_fds(), before);
}

TEST(ivshmem_peer_update_two_fds_one_message)
{
	struct ivshmem_peer p;
	int srv, before = count_fds();
	scripted(&p, &srv);
	put(srv, 0, 0, NULL);
	put(srv, 3, 0, NULL);
	int fds[2] = { memfd_create("a", 0), eventfd(0, 0) };
	put(srv, -1, 2, fds);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ivshmem_peer_close(&p);
	close(srv);
	ASSERT_EQ(count_fds(), before); /* both received fds were closed */
}

TEST(ivshmem_peer_update_peer_table_overflow)
{
	struct ivshmem_peer p;
	int srv, before = count_fds();
	scripted(&p, &srv);
	good_setup(srv, 0);
	ASSERT_EQ(ivshmem_peer_update(&p), 0);
	int rc = 0;
	for (unsigned i = 1; i <= IVSHMEM_MAX_PEERS + 1 && rc == 0; i++) {
		int efd = eventfd(0, 0);
		put(srv, i, 1, &efd);
		close(efd);
		rc = ivshmem_peer_update(&p);
	}
	ASSERT_EQ(rc, SEVMON_EPROTO);
	ASSERT_EQ(p.npeers, IVSHMEM_MAX_PEERS);
	ivshmem_peer_close(&p);
	close(srv);
	ASSERT_EQ(count_fds(), before);
}

TEST(ivshmem_peer_update_cut_message_at_close)
{
	struct ivshmem_peer p;
	int srv;
	scripted(&p, &srv);
	good_setup(srv, 0);
	ASSERT_EQ(write(srv, "\x01\x00\x00", 3), 3);
	close(srv);
	ASSERT_EQ(ivshmem_peer_update(&p), SEVMON_EPROTO);
	ivshmem_peer_close(&p);
}

TEST(ivshmem_peer_update_server_gone_table_kept)
{
	struct ivshmem_peer p;
	int srv;
	scripted(&p, &srv);
	good_setup(srv, 0);
	int efd = eventfd(0, EFD_NONBLOCK);
	put(srv, 5, 1, &efd);
	close(srv);
	ASSERT_EQ(ivshmem_peer_update(&p), 0);
	ASSERT_EQ(p.sock, -1);
	ASSERT_EQ(ivshmem_peer_ring(&p, 5, 0), 0); /* still works */
	uint64_t n;
	ASSERT_EQ(read(efd, &n, 8), 8);
	ASSERT_EQ(n, 1);
	close(efd);
	ivshmem_peer_close(&p);
}

TEST(ivshmem_peer_connect_no_server)
{
	struct ivshmem_peer p;
	ASSERT_EQ(ivshmem_peer_connect(&p, "/tmp/sevmon-no-such-ivshmem.sock", soon()), SEVMON_ENOENT);
}

TEST_MAIN()
