#!/usr/bin/env python3
"""The 3-second rule under a burst, for scripts/bench (SPEC section 4).

    ack3s.py URL SECRET_FILE TEAM USER HOOKS_PREFIX HOOKS_LOG WORKER_LOG
             N FAULT WANT [LIMIT_S]

Sends N correctly signed "/contact smith" for USER to the front nginx at
URL (/contact) at the same instant: all N connections are opened first,
then every request is written at once.  USER's Salesforce instance is
the fault under test, set up by scripts/bench: "slow" (bench/peers.py
answers every query after 10 s) or "blackhole" (a connect that never
completes).  Each response_url is HOOKS_PREFIX + commands/TEAM/ID/bench,
which the benchmark's nginx passes to bench/peers.py, and HOOKS_LOG is
what peers.py recorded.

Measures, for each request:
  - the client's acknowledgement time: request written to the whole
    HTTP answer read (a 200 is an acknowledgement; nginx's 502/504 or a
    socket error is not);
  - the workers' own: the request's slack.ack line in WORKER_LOG (the
    programs' standard error), its wait_ms (from nginx's REQUEST_START to
    a thread taking it) plus ack_ms (from then to the answer leaving the
    worker); and how many of them tests/e2e/harness.py's late_acks()
    would call late (which excuses the time a request waited for a
    thread);
  - whether its response_url got exactly one post, and whether that was
    the result (it contains WANT) or an apology, within LIMIT_S seconds
    (default 120) of the burst.

Prints one line:
  ACK fault=F n=N acked=.. under3s=.. p50_ms=.. p99_ms=.. max_ms=..
      status=CODE:COUNT,... worker_acks=.. worker_under3s=..
      worker_late=.. worker_wait_max_ms=.. per_worker=PID:N,...
      delivered=.. results=.. apologies=.. duplicates=..
      last_delivery_s=.. apology="first words"
Exits 1 when any of the N was not acknowledged within 3 s by the client's
clock or got no post.
"""

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/e2e"))
from harness import late_acks  # noqa: E402


def form(team, user, url, trigger):
    return urllib.parse.urlencode({
        "token": "bench", "team_id": team, "team_domain": "bench",
        "channel_id": "C0BENCH001", "channel_name": "general",
        "user_id": user, "user_name": "bench", "command": "/contact",
        "text": "smith", "response_url": url,
        "trigger_id": trigger}).encode()


def request(host, port, secret, body):
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret, b"v0:" + ts.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
    return (b"POST /contact HTTP/1.1\r\nHost: %s:%d\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"X-Slack-Request-Timestamp: %s\r\nX-Slack-Signature: %s\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (
                host.encode(), port, ts.encode(), sig.encode(),
                len(body)) + body)


async def burst(host, port, reqs, timeout):
    """Opens len(reqs) connections, then writes every request at once;
    returns [(ms, status, body)]."""
    async def opener():
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(host, port), 30)
        except (OSError, asyncio.TimeoutError) as e:
            return e
    conns = await asyncio.gather(*[opener() for _ in reqs])

    async def one(conn, data):
        if isinstance(conn, BaseException):
            return (0.0, 0, str(conn))
        r, w = conn
        t0 = time.monotonic()
        try:
            w.write(data)
            raw = await asyncio.wait_for(r.read(), timeout)
            ms = (time.monotonic() - t0) * 1000
            head, _, body = raw.partition(b"\r\n\r\n")
            m = re.match(rb"HTTP/1\.[01] (\d+)", head)
            return (ms, int(m.group(1)) if m else 0,
                    body.decode("utf-8", "replace"))
        except (OSError, asyncio.TimeoutError) as e:
            return ((time.monotonic() - t0) * 1000, 0, repr(e))
        finally:
            w.close()
    return await asyncio.gather(*[one(c, d) for c, d in zip(conns, reqs)])


def worker_acks(path, since, user):
    out = []
    with open(path, "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    for ln in text.splitlines():
        if " event=slack.ack " not in ln or " user=%s " % user not in ln:
            continue
        kv = dict(re.findall(r' (\w+)=("[^"]*"|\S+)', ln))
        try:
            out.append({"deferred": kv.get("deferred") == "1",
                        "wait_ms": int(kv["wait_ms"]),
                        "ack_ms": int(kv["ack_ms"]),
                        "pid": kv.get("pid", "?")})
        except (KeyError, ValueError):
            continue
    return out


def posts(path, wanted):
    """{path: [body, ...]} of the recorded posts to the paths in wanted,
    and the time (epoch) of the last."""
    out, last = {}, 0.0
    try:
        with open(path, encoding="utf-8") as f:
            for ln in f:
                try:
                    p = json.loads(ln)
                except ValueError:
                    continue
                if p.get("path") in wanted:
                    out.setdefault(p["path"], []).append(p.get("body", ""))
                    last = max(last, p.get("t", 0))
    except OSError:
        pass
    return out, last


def pct(ms, q):
    return ms[min(len(ms) - 1, (len(ms) * q + 99) // 100 - 1)] if ms else 0


def main():
    (url, secret_file, team, user, prefix, hooks_log, wlog, n, fault,
     want) = sys.argv[1:11]
    limit = float(sys.argv[11]) if len(sys.argv) > 11 else 120
    n = int(n)
    u = urllib.parse.urlparse(url)
    secret = Path(secret_file).read_text().strip().encode()
    run = "%s%d" % (fault[:4], time.time_ns() // 1000000 % 100000000)
    urls = [prefix + "commands/%s/%s%04d%s/bench" % (
        team, run, i, secrets.token_hex(4)) for i in range(n)]
    wanted = {urllib.parse.urlparse(x).path for x in urls}
    reqs = [request(u.hostname, u.port, secret,
                    form(team, user, x, "%s.%d" % (run, i)))
            for i, x in enumerate(urls)]
    since = os.path.getsize(wlog)
    t_sent, wall_sent = time.monotonic(), time.time()
    res = asyncio.run(burst(u.hostname, u.port, reqs, limit))
    ms = sorted(x[0] for x in res)
    status = {}
    for x in res:
        status[x[1]] = status.get(x[1], 0) + 1
    acked = sum(1 for x in res if x[1] == 200)
    under = sum(1 for x in res if x[1] == 200 and x[0] < 3000)
    while True:
        got, t_last = posts(hooks_log, wanted)
        if len(got) == n or time.monotonic() - t_sent > limit:
            break
        time.sleep(0.5)
    last = t_last - wall_sent if got else 0.0
    results = sum(1 for b in got.values() if want in b[0])
    apologies = [b[0] for b in got.values() if want not in b[0]]
    dups = sum(len(b) - 1 for b in got.values())
    apology = ""
    if apologies:
        try:
            apology = json.loads(apologies[0]).get("text", "")
        except (ValueError, AttributeError):
            apology = apologies[0]
    # An ack line follows its answer by microseconds; one for a request
    # nginx gave up on comes when a thread reaches it.
    end = time.monotonic() + 10
    while True:
        acks = worker_acks(wlog, since, user)
        if len(acks) >= n or time.monotonic() > end:
            break
        time.sleep(0.25)
    w_under = sum(1 for a in acks
                  if a["wait_ms"] >= 0 and a["wait_ms"] + a["ack_ms"] < 3000)
    per = {}
    for a in acks:
        per[a["pid"]] = per.get(a["pid"], 0) + 1
    print("ACK fault=%s n=%d acked=%d under3s=%d p50_ms=%.0f p99_ms=%.0f "
          "max_ms=%.0f status=%s worker_acks=%d worker_under3s=%d "
          "worker_late=%d worker_wait_max_ms=%d per_worker=%s delivered=%d "
          "results=%d apologies=%d duplicates=%d last_delivery_s=%.1f "
          "apology=\"%s\"" % (
              fault, n, acked, under, pct(ms, 50), pct(ms, 99),
              ms[-1] if ms else 0,
              ",".join("%d:%d" % kv for kv in sorted(status.items())),
              len(acks), w_under, len(late_acks(acks)),
              max([a["wait_ms"] for a in acks] or [0]),
              ",".join("%s:%d" % kv for kv in sorted(per.items())) or "-",
              len(got), results, len(apologies), dups, last,
              " ".join(apology.replace('"', "'").split()[:8])), flush=True)
    sys.exit(0 if under == n and len(got) == n else 1)


if __name__ == "__main__":
    main()
