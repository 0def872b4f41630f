#!/usr/bin/env python3
"""TLS handshakes per worker process per host, for scripts/bench.

    tlscount.py [--prior LOG]... [--sample JSON]... [--host NAME=PORT]...
                LOG

LOG is the benchmark Salesforce's access log of one phase of the run
(bench/sf.conf.in's format: msec, connection serial, request number on
it, session reused "r" or ".", TLS version, protocol, server port,
client port, status, "User-Agent"); the --prior logs are the earlier
phases', whose connections are not new in this one.  A new connection is
a TLS handshake: a full one unless its session was resumed.  Each is
tied to the worker process that held its client port, from the samples
of bench/sample.py (--sample, as many as there are); one that no sample
saw is counted as unattributed, and so is one whose port a worker held
only outside the connection's life (from SLACK_S before its first
logged request, which nginx logs when it ends, to its last).  The client is told by its User-Agent:
"forcelink/..." or "relay-bench".

Prints, per client and host (NAME of the server port, or the port):
  TLS client=C host=H conns=N full=F resumed=R requests=Q workers=W
      unattributed=U full_max=.. resumed_max=.. full_median=..
      protocols=HTTP/1.1:N,... per_worker=PID:FULL+RESUMED/PROTO,...
"""

import json
import re
import statistics
import sys

# A request is logged when it ends: a connection's first may end the
# 20-s total timeout of the programs' HTTP client after it was opened.
SLACK_S = 30

LINE = re.compile(r'^(\S+) (\d+) (\d+) (\S+) (\S+) (\S+) (\d+) (\d+) (\d+) '
                  r'"([^"]*)"')


def client(ua):
    if ua.startswith("forcelink/"):
        return "forcelink"
    if ua.startswith("relay-bench"):
        return "relay"
    return None


def read(path):
    """{serial: {...}} of the connections in one log."""
    out = {}
    try:
        f = open(path, encoding="latin-1")
    except OSError:
        return out
    with f:
        for ln in f:
            m = LINE.match(ln)
            if m is None:
                continue
            msec, serial, _, reused, _, proto, sport, cport, _, ua = \
                m.groups()
            c = out.get(serial)
            if c is None:
                c = out[serial] = {"t": float(msec), "t_last": float(msec),
                                   "sport": int(sport),
                                   "cport": int(cport), "reused": False,
                                   "protos": {}, "requests": 0,
                                   "client": client(ua)}
            c["t"] = min(c["t"], float(msec))
            c["t_last"] = max(c["t_last"], float(msec))
            c["reused"] = c["reused"] or reused == "r"
            c["protos"][proto] = c["protos"].get(proto, 0) + 1
            c["requests"] += 1
            if c["client"] is None:
                c["client"] = client(ua)
    return out


def main():
    args = sys.argv[1:]
    prior, samples, hosts = [], [], {}
    while len(args) > 1 and args[0].startswith("--"):
        opt, val = args[0], args[1]
        args = args[2:]
        if opt == "--prior":
            prior.append(val)
        elif opt == "--sample":
            samples.append(val)
        elif opt == "--host":
            name, port = val.split("=")
            hosts[int(port)] = name
        else:
            sys.exit("tlscount.py: unknown option " + opt)
    if len(args) != 1:
        sys.exit(__doc__)
    old = set()
    for p in prior:
        old.update(read(p))
    owners = {}         # (client port, server port) -> [(t, pid)]
    for s in samples:
        try:
            with open(s) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        for t, lport, rport, _, pid in data.get("conns", []):
            owners.setdefault((lport, rport), []).append((t, pid))
    groups = {}
    for serial, c in read(args[0]).items():
        if c["client"] is None or serial in old:
            continue
        cand = [x for x in owners.get((c["cport"], c["sport"]), [])
                if c["t"] - SLACK_S <= x[0] <= c["t_last"] + 2]
        pid = min(cand, key=lambda x: abs(x[0] - c["t"]))[1] if cand \
            else None
        g = groups.setdefault((c["client"], c["sport"]), {})
        w = g.setdefault(pid, {"full": 0, "resumed": 0, "requests": 0,
                               "protos": {}})
        w["resumed" if c["reused"] else "full"] += 1
        w["requests"] += c["requests"]
        for p, n in c["protos"].items():
            w["protos"][p] = w["protos"].get(p, 0) + n
    for (cl, sport), g in sorted(groups.items()):
        tot = {"full": 0, "resumed": 0, "requests": 0, "protos": {}}
        for w in g.values():
            for k in ("full", "resumed", "requests"):
                tot[k] += w[k]
            for p, n in w["protos"].items():
                tot["protos"][p] = tot["protos"].get(p, 0) + n
        known = {pid: w for pid, w in g.items() if pid is not None}
        un = g.get(None, {"full": 0, "resumed": 0})
        fulls = [w["full"] for w in known.values()] or [0]
        res = [w["resumed"] for w in known.values()] or [0]
        print("TLS client=%s host=%s conns=%d full=%d resumed=%d "
              "requests=%d workers=%d unattributed=%d full_max=%d "
              "resumed_max=%d full_median=%g protocols=%s per_worker=%s" % (
                  cl, hosts.get(sport, str(sport)),
                  tot["full"] + tot["resumed"], tot["full"], tot["resumed"],
                  tot["requests"], len(known), un["full"] + un["resumed"],
                  max(fulls), max(res), statistics.median(fulls),
                  ",".join("%s:%d" % kv for kv in
                           sorted(tot["protos"].items())) or "-",
                  ",".join("%s:%d+%d/%s" % (
                      pid, w["full"], w["resumed"],
                      "+".join(sorted(w["protos"]))) for pid, w in
                      sorted(known.items())) or "-"))


if __name__ == "__main__":
    main()
