#!/usr/bin/env python3
"""How soon a FastCGI program serves after it starts, for scripts/bench.

    readytime.py PROGRAM SOCKET [STARTS]

The environment must hold the program's settings.  Two figures, each
measured from outside as a client sees them, with a minimal FastCGI
client on the unix socket (a GET, which contact answers 405 from an
accept thread that has finished opening its database and HTTP client):

  start:   from the exec of "PROGRAM -s SOCKET -w 1" to its first answer
           (supervisor start-up, configuration, the first database open
           and migration check, fork, worker and thread start-up);
  restart: from a kill -9 of the running worker to the first answer of
           the worker the supervisor starts in its place.

Prints one line:  READY start_ms=P50/MAX restart_ms=P50/MAX n=STARTS
"""

import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def record(rtype, body, rid=1):
    return struct.pack("!BBHHBB", 1, rtype, rid, len(body), 0, 0) + body


def pair(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n), len(v)]) + n + v


def fcgi_get(path, deadline):
    """One GET over FastCGI; returns the raw stdout once END_REQUEST
    arrives, or None if the socket is not there or refuses."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(max(0.001, deadline - time.monotonic()))
        s.connect(path)
        params = (pair("REQUEST_METHOD", "GET") + pair("SCRIPT_NAME", "/")
                  + pair("SERVER_PROTOCOL", "HTTP/1.1"))
        s.sendall(record(FCGI_BEGIN, struct.pack("!HB5x", 1, 0))
                  + record(FCGI_PARAMS, params) + record(FCGI_PARAMS, b"")
                  + record(FCGI_STDIN, b""))
        out, buf = b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB",
                                                           buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                if rtype == FCGI_STDOUT:
                    out += buf[8:8 + clen]
                elif rtype == FCGI_END:
                    return out
                buf = buf[8 + clen + plen:]
    except OSError:
        return None
    finally:
        s.close()


def wait_answer(sock, t0, limit=10.0):
    """Polls until the program answers; returns ms since t0."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if os.path.exists(sock) and fcgi_get(sock, deadline) is not None:
            return (time.monotonic() - t0) * 1000
        time.sleep(0.0002)
    raise RuntimeError("no answer from %s within %.0f s" % (sock, limit))


def workers(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    prog, sock = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    starts, restarts = [], []
    log = open(os.devnull, "wb")
    for _ in range(n):
        if os.path.exists(sock):
            os.unlink(sock)
        t0 = time.monotonic()
        p = subprocess.Popen([prog, "-s", sock, "-w", "1"], stderr=log)
        try:
            starts.append(wait_answer(sock, t0))
            # The supervisor delays a worker that dies within a second of
            # its start; let this one pass that age first.
            time.sleep(1.1)
            old = workers(p.pid)
            if len(old) != 1:
                raise RuntimeError("expected one worker, found %r" % old)
            t0 = time.monotonic()
            os.kill(old[0], signal.SIGKILL)
            restarts.append(wait_answer(sock, t0))
            if workers(p.pid) == old:
                raise RuntimeError("the killed worker still answers")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
    print("READY start_ms=%.1f/%.1f restart_ms=%.1f/%.1f n=%d" % (
        statistics.median(starts), max(starts),
        statistics.median(restarts), max(restarts), n))


if __name__ == "__main__":
    main()
