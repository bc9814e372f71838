#!/usr/bin/env python3
"""chan_tool.py — a misbehaving or eavesdropping peer for the channel e2e tests.

  garbage SOCK              send a 7-byte frame where msg1 (32 bytes) is due
  truncated SOCK            send half of msg1's frame, then shut the write side
  stall SOCK                send a msg1, read msg2, then say nothing; print seconds to EOF
  flood SOCK N HOLD         open N connections, send nothing; print how many the agent
                            closed at once (refused), hold the rest HOLD seconds
  tcpflood HOST PORT N HOLD open N TCP connections at once and send nothing (the attack:
                            idle connections held open); print 'connected C closed K' once
                            all are connected (K: closed by the agent so far), then hold
                            every socket HOLD seconds, not reading, not reconnecting
  fakeagent SOCK MODE       an agent that fails: 'close-after-msg1' (reads msg1, closes),
                            'silent' (accepts, never sends), 'half-frame' (reads msg1,
                            sends half of a frame, stalls); serves connections until killed
  proxy LISTEN TARGET CAP   relay unix LISTEN <-> unix TARGET, every byte appended to CAP;
                            the client->agent stream of connection i also to CAP.c2s.i
  replay SOCK C2S           send a recorded session's msg1, read msg2, send its msg3;
                            print 'closed' if the agent closes without sending a frame
Prints one result line; exit 0 unless the tool itself failed.
"""
import os, resource, select, socket, struct, sys, time


def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def frame(body):
    return struct.pack(">H", len(body)) + body


def recv_exact(s, n, timeout=15):
    buf = b""
    s.settimeout(timeout)
    while len(buf) < n:
        try:
            d = s.recv(n - len(buf))
        except (ConnectionResetError, socket.timeout):
            return None
        if not d:
            return None
        buf += d
    return buf


def read_frame(s, timeout=15):
    h = recv_exact(s, 2, timeout)
    if h is None:
        return None
    return recv_exact(s, struct.unpack(">H", h)[0], timeout)


def wait_eof(s, timeout=30):
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None
    return time.monotonic() - t0


def main():
    mode = sys.argv[1]
    if mode == "garbage":
        s = conn(sys.argv[2])
        s.sendall(frame(b"garbage"))
        print("closed" if wait_eof(s, 5) is not None else "open")
    elif mode == "truncated":
        s = conn(sys.argv[2])
        s.sendall(frame(os.urandom(32))[:18])
        s.shutdown(socket.SHUT_WR)
        print("closed" if wait_eof(s, 5) is not None else "open")
    elif mode == "stall":
        s = conn(sys.argv[2])
        t0 = time.monotonic()
        s.sendall(frame(os.urandom(32)))
        m2 = read_frame(s)
        if m2 is None or len(m2) != 96:
            print("no-msg2")
            return
        wait_eof(s, 60)
        print("%.2f" % (time.monotonic() - t0))
    elif mode == "flood":
        n, hold = int(sys.argv[3]), float(sys.argv[4])
        socks = [conn(sys.argv[2]) for _ in range(n)]
        time.sleep(0.5)
        refused = 0
        for s in socks:
            r, _, _ = select.select([s], [], [], 0)
            if r and s.recv(1) == b"":
                refused += 1
        print(refused, flush=True)
        time.sleep(hold)
    elif mode == "tcpflood":
        host, port, n, hold = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 64:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            socks.append(s)
        pending = {s.fileno(): s for s in socks}
        p = select.poll()  # select() stops at fd 1024
        for fd in pending:
            p.register(fd, select.POLLOUT)
        end = time.monotonic() + 30
        while pending and time.monotonic() < end:  # the listen backlog makes some retry SYN
            for fd, _ in p.poll(500):
                p.unregister(fd)
                pending.pop(fd, None)
        pending = set(pending.values())
        connected = sum(1 for s in socks if s not in pending and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        time.sleep(0.5)
        closed = 0
        for s in socks:
            if s in pending:
                continue
            try:
                if s.recv(1) == b"":
                    closed += 1
            except (BlockingIOError, ConnectionResetError):
                pass
        print("connected %d closed %d" % (connected, closed), flush=True)
        time.sleep(hold)
    elif mode == "fakeagent":
        path, how = sys.argv[2], sys.argv[3]
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        ls.listen(8)
        held = []
        while True:
            c, _ = ls.accept()
            if how == "silent":
                held.append(c)
                continue
            read_frame(c)
            if how == "close-after-msg1":
                c.close()
            else:  # half-frame: announce 96 bytes, send 40
                c.sendall(struct.pack(">H", 96) + os.urandom(40))
                held.append(c)
    elif mode == "proxy":
        listen, target, cap = sys.argv[2], sys.argv[3], sys.argv[4]
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(listen)
        ls.listen(8)
        i = 0
        capf = open(cap, "ab")
        while True:
            c, _ = ls.accept()
            a = conn(target)
            c2s = open("%s.c2s.%d" % (cap, i), "wb")
            i += 1
            peers = {c: a, a: c}
            while peers:
                r, _, _ = select.select(list(peers), [], [])
                for s in r:
                    d = s.recv(65536)
                    if not d:
                        for x in (c, a):
                            x.close()
                        peers = {}
                        break
                    capf.write(d)
                    capf.flush()
                    if s is c:
                        c2s.write(d)
                        c2s.flush()
                    peers[s].sendall(d)
            c2s.close()
    elif mode == "replay":
        data = open(sys.argv[3], "rb").read()
        frames, off = [], 0
        while off + 2 <= len(data) and len(frames) < 2:
            n = struct.unpack(">H", data[off:off + 2])[0]
            frames.append(data[off + 2:off + 2 + n])
            off += 2 + n
        s = conn(sys.argv[2])
        s.sendall(frame(frames[0]))
        if read_frame(s) is None:
            print("no-msg2")
            return
        s.sendall(frame(frames[1]))
        print("closed" if read_frame(s, 5) is None else "answered")
    else:
        sys.exit("unknown mode")


main()
