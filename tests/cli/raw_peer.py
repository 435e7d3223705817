#!/usr/bin/env python3
"""Raw-socket peers for the client-API port's tests (no pio code involved).

  raw_peer.py mute PORT_FILE            listen on a free loopback port (written to PORT_FILE),
                                        accept every connection and never answer
  raw_peer.py bomb PORT PID [tls]       send a 32-byte BASP client_handshake header announcing a
                                        4 GiB payload (over an unauthenticated TLS session with
                                        `tls`), hold the connection 3 s and print the growth of
                                        PID's VmRSS in MiB
  raw_peer.py frame PORT crash|empty   send one first frame that CAF 0.17.6 would trust: a server
                                        handshake header without payload (crash: CAF read a null
                                        payload) or a client handshake without one (empty); print
                                        "closed" when the node closes the connection within 3 s
  raw_peer.py nocert PORT               a TLS handshake without a certificate; prints "refused:
                                        ..." or how many bytes the node sent after it
  raw_peer.py idle PORT COUNT SECONDS PID
                                        open COUNT connections, hold them SECONDS, print the CPU
                                        seconds PID used meanwhile (utime + stime)
"""
import os
import socket
import ssl
import struct
import sys
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def anonymous_tls(sock):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock)


def mute(port_file):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    held = []
    while True:
        held.append(s.accept()[0])


def bomb(port, pid, tls=False):
    before = rss_mb(pid)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    header = struct.pack(">BBBBIQQQ", 1, 0, 0, 0, 0xFFFFFFFF, 0, 0, 0)  # client_handshake, 4 GiB
    try:
        if tls:
            sock = anonymous_tls(sock)
        sock.sendall(header)
    except (OSError, ssl.SSLError):
        pass  # refused: what matters is the node's memory
    peak = before
    for _ in range(30):
        time.sleep(0.1)
        peak = max(peak, rss_mb(pid))
    sock.close()
    print(peak - before)


def frame(port, how):
    operation, operation_data = {"crash": (0, 1), "empty": (1, 0)}[how]
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(struct.pack(">BBBBIQQQ", operation, 0, 0, 0, 0, operation_data, 0, 0))
    sock.settimeout(3)
    try:
        while sock.recv(4096):  # the node's own handshake comes first
            pass
        print("closed")
    except ConnectionResetError:
        print("closed")
    except socket.timeout:
        print("open after 3 s")


def nocert(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        tls = anonymous_tls(sock)
        received = b""
        while len(received) < 32:
            chunk = tls.recv(64)
            if not chunk:
                break
            received += chunk
        print(f"got {len(received)} bytes")
    except (OSError, ssl.SSLError) as e:
        print(f"refused: {e}")


def idle(port, count, seconds, pid):
    held = []
    for _ in range(count):
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    start = cpu_seconds(pid)
    time.sleep(seconds)
    print(f"{cpu_seconds(pid) - start:.2f}")
    for s in held:
        s.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "mute":
        mute(args[0])
    elif cmd == "bomb":
        bomb(int(args[0]), args[1], len(args) > 2 and args[2] == "tls")
    elif cmd == "frame":
        frame(int(args[0]), args[1])
    elif cmd == "nocert":
        nocert(int(args[0]))
    elif cmd == "idle":
        idle(int(args[0]), int(args[1]), float(args[2]), args[3])
    else:
        sys.exit(__doc__)
