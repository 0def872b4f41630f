#!/usr/bin/env python3
"""The slow and the black-holed Salesforce, and Slack's response_url
receiver, for scripts/bench's 3-second rule.

    peers.py SOCKET QUERY_FILE HOOKS_LOG DELAY READY_FILE

One asyncio process, so that a thousand waiting peers cost it nothing:

  SOCKET      a unix socket the benchmark's nginx (bench/sf.conf.in)
              passes two kinds of request to, over plain HTTP/1.x:
              GET .../query  answered with QUERY_FILE after DELAY seconds
                             (the slow instance);
              POST /hooks/...  a response_url post: appended to HOOKS_LOG
                             as one JSON line {"t", "path", "body"} and
                             answered 200 "ok" at once;
  black hole  a TCP listener on 127.0.0.1 whose accept queue is full
              (listen backlog 0, one connection of our own queued and
              never accepted): the kernel drops every further SYN, so a
              client's connect never completes, as with a firewall that
              drops packets.

READY_FILE receives the black hole's port once both listen.  Runs until
SIGTERM.
"""

import asyncio
import json
import os
import signal
import socket
import sys
import time


def blackhole():
    """A listener whose accept queue is full; returns (listener, filler,
    port)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    # Proof that it is full: a second connect must not complete.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(1.5)
    try:
        probe.connect(("127.0.0.1", port))
        raise SystemExit("peers.py: the black hole accepted a connection "
                         "(its accept queue is not full)")
    except socket.timeout:
        pass
    finally:
        probe.close()
    return lst, filler, port


async def main():
    sock, query_file, hooks_log, delay, ready = sys.argv[1:6]
    delay = float(delay)
    with open(query_file, "rb") as f:
        query = f.read()
    hooks = open(hooks_log, "a", encoding="utf-8")
    bh = blackhole()

    async def answer(w, status, ctype, body):
        w.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (
                    status, b"OK" if status == 200 else b"Not Found",
                    ctype, len(body)) + body)
        await w.drain()

    async def serve(r, w):
        try:
            head = await r.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = await r.readexactly(length) if length else b""
            if method == "POST" and path.startswith("/hooks/"):
                hooks.write(json.dumps({
                    "t": time.time(), "path": path,
                    "body": body.decode("utf-8", "replace")}) + "\n")
                hooks.flush()
                await answer(w, 200, b"text/plain", b"ok")
            elif method == "GET" and "/query" in path:
                await asyncio.sleep(delay)
                await answer(w, 200, b"application/json", query)
            else:
                await answer(w, 404, b"text/plain", b"not found")
        except (OSError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        finally:
            w.close()

    server = await asyncio.start_unix_server(serve, path=sock, backlog=4096)
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % bh[2])
    os.rename(ready + ".tmp", ready)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()
    hooks.close()


if __name__ == "__main__":
    asyncio.run(main())
