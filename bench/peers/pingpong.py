"""pingpong.py: the Python contender of the ping-pong benchmark.

Same loop as the C program: two connected TCP sockets over loopback in one
thread, 1 byte each way per round trip, TCP_NODELAY on both. Blocking sockets
(no timeout: CPython polls before every call when a timeout is set, so this
is Python's fastest form). Prints the loop's time as loop_s=SECONDS.

usage: python3 pingpong.py [N]
"""
import socket
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000

l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("127.0.0.1", 0))
l.listen(128)
a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
a.connect(l.getsockname())
b, _ = l.accept()
for s in (a, b):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

send_a, recv_a, send_b, recv_b = a.send, a.recv, b.send, b.recv
t0 = time.perf_counter()
for _ in range(n):
    if send_a(b"x") != 1:
        sys.exit("send a")
    if recv_b(1) != b"x":
        sys.exit("recv b")
    if send_b(b"y") != 1:
        sys.exit("send b")
    if recv_a(1) != b"y":
        sys.exit("recv a")
t1 = time.perf_counter()
print("loop_s=%.9f" % (t1 - t0))
a.close()
b.close()
l.close()
