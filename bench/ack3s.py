#!/usr/bin/env python3
"""The 3-second rule under load, for scripts/bench (SPEC section 4).

    ack3s.py [N]        (default 64)

Starts the whole stack the end-to-end tests use (tests/e2e/harness.py:
the Salesforce stand-in, the real FastCGI programs with their default
2 workers and 8 accept threads, nginx), links a user through the real
OAuth flow, and then, for each of two Salesforce faults,

  delay:     Salesforce answers every query after 10 s;
  blackhole: Salesforce accepts the query and never answers,

sends N correctly signed /contact searches at the same instant and
measures each one's acknowledgement time (request sent to HTTP answer
received).  Every one must be a 200 "Searching…" in under 3 s, and every
result must then arrive at its response_url: the contacts when Salesforce
was slow, a short apology when it never answered.

Prints one line per fault:
  ACK fault=delay n=64 acked=64 under3s=64 p50_ms=.. p99_ms=.. max_ms=..
      delivered=64 correct=64 last_delivery_s=..
Exits non-zero when any of the N was late, lost or wrong.
Timing, not throughput: the stand-in is fine here.  Environment:
FORCELINK_ROOT, FORCELINK_BUILD as for tests/e2e.
"""

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/e2e"))
from harness import Stack  # noqa: E402

FAULTS = (("delay", {"delay": 10}, "Jane Smith"),
          ("blackhole", {"blackhole": True}, "did not answer properly"))


def burst(stack, n):
    """Sends n signed searches at once; returns [(ms, status, text, url)]."""
    reqs = []
    for i in range(n):
        url = stack.response_url()
        body = stack.form("smith", response_url=url,
                          trigger_id="ack3s.%d.%d" % (i, time.time_ns()))
        reqs.append((body, stack.sign(body), url))
    out = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        body, (ts, sig), url = reqs[i]
        gate.wait()
        t0 = time.monotonic()
        try:
            r = stack.post_contact(body, ts=ts, sig=sig, timeout=30)
            status, text = r.status, r.text
        except OSError as e:
            status, text = 0, str(e)
        out[i] = ((time.monotonic() - t0) * 1000, status, text, url)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def deliveries(stack, urls, want, limit):
    """Waits until every url got a post; returns (delivered, correct,
    seconds until the last one)."""
    t0 = time.monotonic()
    paths = {u[u.index("/hooks/"):]: u for u in urls}
    while True:
        posts = {}
        for p in stack.hooks():
            posts.setdefault(p["path"], p)
        got = [posts.get(path) for path in paths]
        done = [p for p in got if p is not None]
        if len(done) == len(paths) or time.monotonic() - t0 > limit:
            break
        time.sleep(0.25)
    correct = sum(1 for p in done if p["body"] and want in p["body"]["text"])
    return len(done), correct, time.monotonic() - t0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    ok = True
    with tempfile.TemporaryDirectory(prefix="forcelink-ack3s.") as tmp:
        stack = Stack(tmp, workers=2, threads=8).start()
        try:
            r = stack.link()
            if r.status != 200:
                raise RuntimeError("linking failed: %d" % r.status)
            for name, fault, want in FAULTS:
                stack.faults(**fault)
                t_sent = time.monotonic()
                res = burst(stack, n)
                ms = sorted(x[0] for x in res)
                acked = sum(1 for x in res if x[1] == 200
                            and "Searching" in x[2])
                under = sum(1 for x in res if x[1] == 200 and x[0] < 3000)
                got, correct, _ = deliveries(stack, [x[3] for x in res],
                                             want, 60)
                last = time.monotonic() - t_sent
                print("ACK fault=%s n=%d acked=%d under3s=%d p50_ms=%.0f "
                      "p99_ms=%.0f max_ms=%.0f delivered=%d correct=%d "
                      "last_delivery_s=%.1f" % (
                          name, n, acked, under, statistics.median(ms),
                          ms[min(n - 1, (n * 99 + 99) // 100 - 1)], ms[-1],
                          got, correct, last), flush=True)
                ok = ok and acked == n and under == n and correct == n
                stack.faults(**{k: None for k in fault})
                # Let the held connections go before the next burst.
                time.sleep(1)
        finally:
            stack.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
