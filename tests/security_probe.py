#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Hostile HTTP clients for tests/security_itest.sh (loopback only, bounded in
# connections and time). Each subcommand prints key=value lines.
#   bodies PORT N MB      N concurrent POSTs of an MB-sized body; status counts
#   raw PORT              protocol abuse cases: status line of each
#   slowloris PORT SECS   slow header senders from 127.0.0.2.. while normal
#                         /prioritize calls run from 127.0.0.1
import socket
import sys
import threading
import time


def recv_all(s, limit=1 << 20):
    d = b""
    try:
        while len(d) < limit:
            x = s.recv(65536)
            if not x:
                break
            d += x
    except OSError:
        pass
    return d


def status_of(d):
    try:
        return int(d.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def post(port, body, timeout=10.0, src="127.0.0.1"):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    hdr = b"POST /prioritize HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    try:
        s.sendall(hdr + body)
    except OSError:
        pass  # refused early: the answer is still readable
    d = recv_all(s)
    s.close()
    return status_of(d), d


def bodies(port, n, mb):
    names = []
    size = 0
    i = 0
    while size < mb * 1000000:
        nm = '"n%07d-%s"' % (i, "x" * 40)
        names.append(nm)
        size += len(nm) + 1
        i += 1
    body = ('{"Pod":{},"NodeNames":[' + ",".join(names) + "]}").encode()
    res = []
    lock = threading.Lock()

    def one():
        try:
            st, _ = post(port, body, timeout=60)
        except OSError:
            st = -1
        with lock:
            res.append(st)

    ts = [threading.Thread(target=one) for _ in range(n)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    counts = {}
    for st in res:
        counts[st] = counts.get(st, 0) + 1
    print("body_bytes=%d" % len(body))
    print("seconds=%.2f" % (time.time() - t0))
    for k in sorted(counts):
        print("status_%s=%d" % (k if k >= 0 else "error", counts[k]))


def raw(port):
    def send(req, wait=3.0):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(wait)
        t0 = time.time()
        try:
            s.sendall(req)
        except OSError:
            pass
        d = recv_all(s)
        s.close()
        return d, time.time() - t0

    b = b'{"Pod":{},"NodeNames":["a"]}'
    d, _ = send(b"POST /prioritize HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(b) + b)
    print("dup_content_length=%d" % status_of(d))
    d, _ = send(b"POST /prioritize HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\ncontent-length: %d\r\n\r\n" % (len(b), len(b)) + b)
    print("repeated_equal_content_length=%d" % status_of(d))
    d, _ = send(b"POST /prioritize HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    print("negative_content_length=%d" % status_of(d))
    print("negative_smuggled_answered=%d" % (b"\r\n\r\nok\n" in d))
    d, secs = send(b"POST /prioritize HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n")
    print("huge_content_length=%d" % status_of(d))
    print("huge_content_length_seconds=%.2f" % secs)
    for name, nb in (("invalid_utf8", b'"\xff\xfe"'), ("overlong_utf8", b'"\xc0\xaf"'),
                     ("lone_surrogate", b'"\\ud800"'), ("valid_utf8", b'"n\xc3\xa9"')):
        body = b'{"Pod":{},"NodeNames":[' + nb + b']}'
        d, _ = send(b"POST /prioritize HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        print("%s=%d" % (name, status_of(d)))


def slowloris(port, secs, per_src=40, srcs=10, cap_src_conns=100):
    slow = []
    for k in range(srcs):
        for _ in range(per_src):
            s = socket.socket()
            s.setblocking(True)
            s.bind(("127.0.0.%d" % (2 + k), 0))
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"POST /prioritize HTTP/1.1\r\nHost: t\r\n")
                slow.append(s)
            except OSError:
                s.close()
    # One source past the per-source cap: the surplus is closed at once.
    capped = []
    for _ in range(cap_src_conns):
        s = socket.socket()
        s.bind(("127.0.0.%d" % (2 + srcs), 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            capped.append(s)
        except OSError:
            s.close()
    time.sleep(0.5)
    cap_closed = 0
    for s in capped:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                cap_closed += 1
        except BlockingIOError:
            pass
        except OSError:
            cap_closed += 1
    print("slow_opened=%d" % len(slow))
    print("capped_source_opened=%d" % len(capped))
    print("capped_source_closed_by_server=%d" % cap_closed)

    body = b'{"Pod":{},"NodeNames":["node-a","node-b"]}'
    ok = 0
    calls = 0
    worst = 0.0
    closed = set()
    t_end = time.time() + secs
    while time.time() < t_end:
        for i, s in enumerate(slow):
            if i in closed:
                continue
            try:
                s.send(b"X")
            except OSError:
                closed.add(i)
        t0 = time.time()
        try:
            st, _ = post(port, body, timeout=2.0)
        except OSError:
            st = 0
        dt = time.time() - t0
        worst = max(worst, dt)
        calls += 1
        ok += st == 200
        time.sleep(0.4)
    # A closed socket shows on the next send or as EOF.
    for i, s in enumerate(slow):
        if i in closed:
            continue
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
    print("normal_calls=%d" % calls)
    print("normal_ok=%d" % ok)
    print("normal_worst_seconds=%.3f" % worst)
    print("slow_closed_by_server=%d" % len(closed))
    for s in slow + capped:
        s.close()


def main():
    cmd = sys.argv[1]
    port = int(sys.argv[2])
    if cmd == "bodies":
        bodies(port, int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "raw":
        raw(port)
    elif cmd == "slowloris":
        slowloris(port, float(sys.argv[3]))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    main()
