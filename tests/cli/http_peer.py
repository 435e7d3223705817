#!/usr/bin/env python3
"""Raw-socket HTTP clients for the transport's bounds (no pio code involved). PORT is the node's
HTTP port, PID its process (for VmRSS). Each prints one line for the test to check.

  http_peer.py chunked PORT PID MIB [HEADER...]
                      POST a chunked body of MIB MiB (1 MiB chunks) while reading the answer;
                      prints "status=S sent_mib=N rss_growth_mb=G"
  http_peer.py longline PORT PID MIB
                      a header line of MIB MiB with no newline; prints "status=S sent_mib=N
                      rss_growth_mb=G" (status 0: closed without an answer)
  http_peer.py fields PORT COUNT
                      GET /health with COUNT extra header fields; prints "status=S"
  http_peer.py slow PORT SECONDS
                      a request trickled a byte every 0.2 s; prints "closed_after=T" (seconds until
                      the node closed the connection, or SECONDS when it did not)
  http_peer.py pipeline PORT
                      three requests in one write (a chat, a streamed chat, /v1/models); prints
                      each answer as "STATUS KIND" on one line, in the order received
  http_peer.py http10 PORT
                      a streamed chat over HTTP/1.0 read until the node closes; prints
                      "status=S chunked=yes|no done=yes|no closed=yes|no"
  http_peer.py connects PORT COUNT
                      COUNT simultaneous connects, then GET /health on each; prints
                      "max_connect_s=T statuses=S,S,..." (distinct statuses, sorted)
  http_peer.py hold PORT COUNT
                      opens COUNT connections one by one and holds those not refused; prints
                      "refused=N served=M reset=K other=X" (refused: answered 429 at once;
                      served: a held connection that then answers /health with 200)
"""
import http.client
import json
import select
import socket
import sys
import threading
import time

from raw_peer import rss_mb  # beside this file

HOST = "127.0.0.1"


class OneFile:
    """Lets several http.client.HTTPResponse objects read one after another from one socket."""

    class _Shared:
        def __init__(self, file):
            self._file = file

        def __getattr__(self, name):
            return getattr(self._file, name)

        def close(self):  # a response is done with the socket; the next one is not
            pass

    def __init__(self, sock):
        self.file = OneFile._Shared(sock.makefile("rb"))

    def makefile(self, *args, **kwargs):
        return self.file


def read_response(reader, method="POST"):
    r = http.client.HTTPResponse(reader, method=method)
    r.begin()
    return r, r.read()


def status_line(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def flood(port, pid, mib, head, piece):
    """Sends head, then MIB MiB of piece(i) while another thread reads the answer."""
    sock = socket.create_connection((HOST, port), timeout=30)
    before = rss_mb(pid)
    peak = [before]
    answer = bytearray()
    sent = [0]
    done = threading.Event()

    def watch_rss():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.05)

    def reader():
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer.extend(data)
        except OSError:
            pass

    threads = [threading.Thread(target=watch_rss), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        sock.sendall(head)
        for i in range(mib):
            sock.sendall(piece(i))
            sent[0] = i + 1
    except OSError:
        pass  # the node closed: what it answered and its memory are what count
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    threads[1].join(30)
    time.sleep(0.3)
    done.set()
    threads[0].join()
    sock.close()
    print(f"status={status_line(bytes(answer))} sent_mib={sent[0]} rss_growth_mb={peak[0] - before}")


def chunked(port, pid, mib, headers):
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()
    chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    flood(port, pid, mib, head, lambda i: chunk)


def longline(port, pid, mib):
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Long: "
    piece = b"a" * (1 << 20)
    flood(port, pid, mib, head, lambda i: piece)


def fields(port, count):
    sock = socket.create_connection((HOST, port), timeout=10)
    extra = "".join(f"X-Field-{i}: {i}\r\n" for i in range(count))
    sock.sendall(f"GET /health HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
    try:
        r, _ = read_response(OneFile(sock), "GET")
        print(f"status={r.status}")
    except (OSError, http.client.HTTPException):
        print("status=0")


def slow(port, seconds):
    sock = socket.create_connection((HOST, port), timeout=10)
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b" " * 1000
    start = time.monotonic()
    for byte in request:
        if time.monotonic() - start > seconds:
            break
        try:
            sock.sendall(bytes([byte]))
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable and not sock.recv(4096):
                print(f"closed_after={time.monotonic() - start:.1f}")
                return
        except OSError:
            print(f"closed_after={time.monotonic() - start:.1f}")
            return
    print(f"closed_after={seconds}")


def chat_request(stream, version="1.1", keep_alive=True):
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": stream}).encode()
    head = (f"POST /v1/chat/completions HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + ("" if keep_alive else "Connection: close\r\n") + "\r\n")
    return head.encode() + body


def pipeline(port):
    sock = socket.create_connection((HOST, port), timeout=60)
    sock.sendall(chat_request(False) + chat_request(True) + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    reader = OneFile(sock)
    out = []
    for method in ("POST", "POST", "GET"):
        try:
            r, body = read_response(reader, method)
        except (OSError, http.client.HTTPException) as e:
            out.append(f"0 {type(e).__name__}")
            break
        if body.startswith(b"data:"):
            kind = "stream" + (" [DONE]" if b"data: [DONE]" in body else "")
        else:
            kind = json.loads(body).get("object", "?")
        out.append(f"{r.status} {kind}")
    print(" | ".join(out))


def http10(port):
    sock = socket.create_connection((HOST, port), timeout=60)
    sock.sendall(chat_request(True, "1.0"))
    data = bytearray()
    closed = "no"
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                closed = "yes"
                break
            data.extend(piece)
    except OSError:
        pass
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    is_chunked = b"transfer-encoding: chunked" in head.lower()
    done = body.startswith(b"data:") and body.rstrip().endswith(b"data: [DONE]")
    print(f"status={status_line(head)} chunked={'yes' if is_chunked else 'no'} done={'yes' if done else 'no'} closed={closed}")


def connects(port, count):
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.setblocking(False)
    start = time.monotonic()
    for s in socks:  # every SYN goes out at once
        s.connect_ex((HOST, port))
    pending, slowest = set(socks), 0.0
    while pending and time.monotonic() - start < 10:
        _, writable, _ = select.select([], list(pending), [], 0.05)
        for s in writable:
            pending.discard(s)
            slowest = time.monotonic() - start
    statuses = set("0" for _ in pending)
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
    for s in set(socks) - pending:
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            r, _ = read_response(OneFile(s), "GET")
            statuses.add(str(r.status))
        except (OSError, http.client.HTTPException):
            statuses.add("0")
    for s in socks:
        s.close()
    print(f"max_connect_s={slowest:.2f} statuses={','.join(sorted(statuses))}")


def hold(port, count):
    held, refused, reset, other = [], 0, 0, 0
    for _ in range(count):
        try:
            s = socket.create_connection((HOST, port), timeout=10)
        except OSError:
            reset += 1
            continue
        readable, _, _ = select.select([s], [], [], 0.02)
        if not readable:
            held.append(s)
            continue
        try:
            data = s.recv(4096)
        except OSError:
            data = None
        if data is None or not data:
            reset += 1
        elif status_line(data) == 429:
            refused += 1
        else:
            other += 1
        s.close()
    served = 0
    for s in held:
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            r, _ = read_response(OneFile(s), "GET")
            if r.status == 200:
                served += 1
            else:
                other += 1
        except (OSError, http.client.HTTPException):
            reset += 1
        s.close()
    print(f"refused={refused} served={served} reset={reset} other={other}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "chunked":
        chunked(int(args[0]), args[1], int(args[2]), args[3:])
    elif cmd == "longline":
        longline(int(args[0]), args[1], int(args[2]))
    elif cmd == "fields":
        fields(int(args[0]), int(args[1]))
    elif cmd == "slow":
        slow(int(args[0]), float(args[1]))
    elif cmd == "pipeline":
        pipeline(int(args[0]))
    elif cmd == "http10":
        http10(int(args[0]))
    elif cmd == "connects":
        connects(int(args[0]), int(args[1]))
    elif cmd == "hold":
        hold(int(args[0]), int(args[1]))
    else:
        sys.exit(__doc__)
