#!/usr/bin/env python3
"""Samples the worker processes of FastCGI supervisors, for scripts/bench.

    sample.py OUT INTERVAL [--ports P,P,...] NAME=PID [NAME=PID ...]
    sample.py --summary OUT NAME [REST_OUT [PID:PARKED,...]]

Every INTERVAL seconds, for each worker process (a child of supervisor
PID, as /proc/PID/task/PID/children lists them) it reads the Threads:
line of /proc/W/status; every fifth sample also its PSS
(/proc/W/smaps_rollup) and, with --ports, which of its TCP sockets are
connected to one of those ports (its socket inodes in /proc/W/fd matched
against /proc/net/tcp), so that bench/tlscount.py can tell which worker
opened which connection to the benchmark's Salesforce.  A connection
that lives less than five intervals may be missed: tlscount.py counts
those as unattributed.

With INTERVAL 0 it samples once, fully, and exits.  Otherwise it runs
until SIGTERM or SIGINT, samples once more, and writes OUT (JSON):
  {"interval": s, "samples": n, "t0": .., "t1": ..,
   "workers": {NAME: {PID: {"threads_max", "threads_last",
                            "pss_max_kb", "pss_last_kb", "seen"}}},
   "conns": [[first_seen_time, local_port, remote_port, NAME, PID], ...]}

--summary prints one line for NAME's workers in OUT:
  SAMPLE workers=N threads_max=.. pss_max_kb=.. pss_last_kb=..
      per_worker=PID:THREADS_MAX/PSS_MAX_KB,...
the maxima over the workers (pss_last_kb: the mean of their last
samples); with REST_OUT (a sample taken before, at rest) also
pss_rest_kb= (the mean at rest) and, with PARKED (how many requests each
worker held), kb_per_parked= (the most, over the workers, of (PSS max -
PSS at rest) / parked; a worker not in REST_OUT, one started since, is
taken from the mean at rest).
"""

import json
import os
import signal
import sys
import time


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def threads(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("Threads:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for ln in f:
                if ln.startswith("Pss:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def socket_inodes(pid):
    out = set()
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for n in names:
        try:
            t = os.readlink(d + "/" + n)
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(int(t[8:-1]))
    return out


def tcp_conns(ports):
    """{inode: (local_port, remote_port)} of IPv4 TCP sockets whose
    remote port is in ports."""
    out = {}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for ln in f:
                p = ln.split()
                rport = int(p[2].rsplit(":", 1)[1], 16)
                if rport in ports:
                    out[int(p[9])] = (int(p[1].rsplit(":", 1)[1], 16), rport)
    except (OSError, StopIteration, IndexError, ValueError):
        pass
    return out


def summary(args):
    with open(args[0]) as f:
        ws = json.load(f)["workers"].get(args[1], {})
    rest = {}
    if len(args) > 2:
        with open(args[2]) as f:
            rest = json.load(f)["workers"].get(args[1], {})
    parked = dict(x.split(":") for x in args[3].split(",")
                  if ":" in x) if len(args) > 3 else {}
    line = "SAMPLE workers=%d threads_max=%d pss_max_kb=%d pss_last_kb=%d" % (
        len(ws), max([w["threads_max"] for w in ws.values()] or [0]),
        max([w["pss_max_kb"] for w in ws.values()] or [0]),
        sum(w["pss_last_kb"] for w in ws.values()) / max(1, len(ws)))
    if rest:
        line += " pss_rest_kb=%d" % (
            sum(w["pss_last_kb"] for w in rest.values()) / len(rest))
        mean = sum(w["pss_last_kb"] for w in rest.values()) / len(rest)
        per = [(w["pss_max_kb"] - rest[pid]["pss_last_kb"]
                if pid in rest else w["pss_max_kb"] - mean) /
               int(parked[pid]) for pid, w in ws.items()
               if int(parked.get(pid, 0)) > 0]
        if per:
            line += " kb_per_parked=%.1f" % max(per)
    print(line + " per_worker=" + (",".join(
        "%s:%d/%d" % (pid, w["threads_max"], w["pss_max_kb"])
        for pid, w in sorted(ws.items())) or "-"))


def main():
    args = sys.argv[1:]
    if args and args[0] == "--summary":
        return summary(args[1:])
    out_path, interval = args[0], float(args[1])
    args = args[2:]
    ports = set()
    if args and args[0] == "--ports":
        ports = {int(p) for p in args[1].split(",") if p}
        args = args[2:]
    sups = [(a.split("=")[0], int(a.split("=")[1])) for a in args]
    workers = {name: {} for name, _ in sups}
    conns = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    t0 = time.time()
    n = 0
    while True:
        last = bool(stop) or interval <= 0
        full = n % 5 == 0 or last
        tc = tcp_conns(ports) if full and ports else {}
        now = time.time()
        for name, sup in sups:
            for w in children(sup):
                th = threads(w)
                if th is None:
                    continue
                st = workers[name].setdefault(str(w), {
                    "threads_max": 0, "threads_last": 0, "pss_max_kb": 0,
                    "pss_last_kb": 0, "seen": now})
                st["threads_max"] = max(st["threads_max"], th)
                st["threads_last"] = th
                if not full:
                    continue
                pss = pss_kb(w)
                if pss is not None:
                    st["pss_max_kb"] = max(st["pss_max_kb"], pss)
                    st["pss_last_kb"] = pss
                if tc:
                    for ino in socket_inodes(w):
                        if ino in tc:
                            key = (tc[ino][0], tc[ino][1], name, w)
                            conns.setdefault(key, now)
        n += 1
        if last:
            break
        time.sleep(interval)
    with open(out_path + ".tmp", "w") as f:
        json.dump({"interval": interval, "samples": n, "t0": t0,
                   "t1": time.time(), "workers": workers,
                   "conns": sorted([t] + list(k)
                                   for k, t in conns.items())}, f)
    os.rename(out_path + ".tmp", out_path)


if __name__ == "__main__":
    main()
