#!/usr/bin/env python3
"""emberd's invoke benchmark (scripts/bench-invoke): the warm round trip of a no-op Python
handler (client -> emberd -> agent -> handler -> back) over N calls, where that time goes
hop by hop, and cold starts by restore against cold starts by boot, all in one run on one
emberd.
"""
import argparse
import base64
import http.client
import json
import re
import statistics
import sys
import tempfile
import time

from emberd_process import API, Emberd, add_binary_flags, make_zip

NOOP = ("def handler(event, context):\n    return None\n", 0o644)


def log(message):
    print(message, file=sys.stderr, flush=True)


def timing(headers):
    """X-Ember-Timing as a dict of floats (ms) plus 'start'."""
    out = {}
    for item in headers.get("x-ember-timing", "").split(";"):
        key, _, value = item.partition("=")
        out[key.strip()] = value if key.strip() == "start" else float(value or 0)
    return out


def create(d, name, memory):
    status, _, payload = d.request("POST", API, {
        "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": memory, "Timeout": 60,
        "Code": {"ZipFile": make_zip({"app.py": NOOP, "name.txt": (name, 0o644)})}})
    if status != 201:
        sys.exit(f"bench-invoke: create {name} failed: {status} {payload!r}")


def invoke(d, name):
    start = time.monotonic()
    status, headers, payload = d.request("POST", f"{API}/{name}/invocations", b"{}")
    elapsed = (time.monotonic() - start) * 1000
    if status != 200 or headers.get("x-amz-function-error"):
        sys.exit(f"bench-invoke: invoke {name} failed: {status} {payload!r}\n{d.output()}")
    return elapsed, timing(headers)


def cpu_busy_share(window):
    """The share of this host's CPU time not idle over the next `window` seconds."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(window)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_until_idle(share=0.25, window=0.5, timeout=120):
    """Seconds until two windows in a row keep the CPUs below `share` busy."""
    start, quiet = time.monotonic(), 0
    while time.monotonic() - start < timeout:
        quiet = quiet + 1 if cpu_busy_share(window) < share else 0
        if quiet == 2:
            return time.monotonic() - start
    sys.exit(f"bench-invoke: the host stayed busy for {timeout} s after emberd's restart")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def warm_round_trips(d, calls):
    """One keep-alive connection, like an SDK client; the first call is the cold start."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
    times = []
    for i in range(calls + 1):
        headers = d.signed("POST", f"{API}/noop/invocations", b"{}")
        start = time.monotonic()
        conn.request("POST", f"{API}/noop/invocations", b"{}", headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"bench-invoke: warm call {i} failed: {r.status}")
        if i > 0:
            times.append((time.monotonic() - start) * 1000)
        if i and i % 200 == 0:
            log(f"  {i}/{calls} warm calls")
    conn.close()
    return times


# Hops of one warm round trip, from what each side measured: the client's round trip, emberd's
# X-Ember-Timing (total: request read to response ready; handler: Invoke sent to its answer
# read) and the REPORT line's Duration (the agent's, from the Invoke's arrival to the
# runtime's response).
HOPS = (
    ("client <-> emberd: HTTP, SigV4, the client's own time", lambda c, t, d: c - t["total"]),
    ("emberd: routing, lookup, pool, log lines", lambda c, t, d: t["total"] - t["handler"]),
    ("emberd <-> agent: vsock both ways, frames", lambda c, t, d: t["handler"] - d),
    ("agent <-> runtime: Runtime API next/response, handler", lambda c, t, d: d),
)


def breakdown(d, calls):
    """Warm calls with LogType Tail (for the REPORT line): per hop, the median and p99 ms."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
    rows = []
    for i in range(calls):
        headers = d.signed("POST", f"{API}/noop/invocations", b"{}",
                           {"X-Amz-Log-Type": "Tail"})
        start = time.monotonic()
        conn.request("POST", f"{API}/noop/invocations", b"{}", headers)
        r = conn.getresponse()
        r.read()
        client = (time.monotonic() - start) * 1000
        if r.status != 200:
            sys.exit(f"bench-invoke: breakdown call {i} failed: {r.status}")
        log_text = base64.b64decode(r.getheader("X-Amz-Log-Result", "")).decode(errors="replace")
        found = re.search(r"REPORT .*?Duration: ([0-9.]+) ms", log_text)
        if not found:
            sys.exit(f"bench-invoke: no REPORT Duration in the log tail: {log_text!r}")
        t = timing({k.lower(): v for k, v in r.getheaders()})
        rows.append([hop(client, t, float(found.group(1))) for _, hop in HOPS] + [client])
    conn.close()
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__)
    add_binary_flags(p)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--breakdown-calls", type=int, default=300)
    p.add_argument("--cold-runs", type=int, default=3, help="at least 2")
    p.add_argument("--memory", type=int, default=1769)
    args = p.parse_args()
    if args.cold_runs < 2:
        p.error("--cold-runs must be at least 2: one restore right after the restart, and one "
                "or more once the host is idle again")
    state = tempfile.mkdtemp(prefix="ember-bench-invoke-")
    d = Emberd(args, state)
    try:
        create(d, "noop", args.memory)
        log(f"warm round trip: {args.calls} calls of a no-op Python handler")
        warm = warm_round_trips(d, args.calls)
        log(f"where it goes: {args.breakdown_calls} more calls with LogType Tail")
        hops = breakdown(d, args.breakdown_calls)

        boots, restores, restores_at_start = [], [], []
        for run in range(args.cold_runs):
            name = f"cold{run}"
            create(d, name, args.memory)
            elapsed, t = invoke(d, name)  # a new revision: boot + init + snapshot
            boots.append((elapsed, t))
            log(f"  cold by boot {run + 1}/{args.cold_runs}: {elapsed:.1f} ms ({t})")
        # After a restart no VM is warm or ready: each first call restores the snapshot. The
        # first comes while emberd still starts its standby VMMs; the others once the host
        # is idle again, as restores find it but for the first after a restart.
        if d.stop() != 0:
            sys.exit("bench-invoke: emberd did not stop cleanly")
        d = Emberd(args, state)
        for run in range(args.cold_runs):
            if run > 0:  # the previous restore's refills (pool, standby stock) are done too
                log(f"  the host was idle again after {wait_until_idle():.1f} s")
            elapsed, t = invoke(d, f"cold{run}")
            (restores if run > 0 else restores_at_start).append((elapsed, t))
            log(f"  cold by restore {run + 1}/{args.cold_runs}: {elapsed:.1f} ms ({t})")
    finally:
        d.stop()

    whole = statistics.median(row[-1] for row in hops)
    print(f"one warm round trip hop by hop ({len(hops)} calls with LogType Tail; median "
          f"{whole:.2f} ms):")
    for index, (name, _) in enumerate(HOPS):
        values = [row[index] for row in hops]
        median = statistics.median(values)
        print(f"  {name:<58} median {median:7.2f} ms  p99 {percentile(values, 99):7.2f} ms  "
              f"{median / whole * 100:5.1f} %")
    med_boot = statistics.median(e for e, _ in boots)
    med_restore = statistics.median(e for e, _ in restores)
    first_elapsed, first_t = restores_at_start[0]
    print(f"warm invoke round trip, {len(warm)} calls: median {statistics.median(warm):.2f} ms, "
          f"p99 {percentile(warm, 99):.2f} ms, min {min(warm):.2f} ms, max {max(warm):.2f} ms")
    print(f"cold start by boot + init ({len(boots)} runs): median {med_boot:.0f} ms "
          f"(boot {statistics.median(t['boot'] for _, t in boots):.0f} ms, "
          f"init {statistics.median(t['init'] for _, t in boots):.0f} ms)")
    print(f"cold start by restore after an emberd restart, once the host was idle again "
          f"({len(restores)} runs): median {med_restore:.0f} ms "
          f"(restore {statistics.median(t['restore'] for _, t in restores):.0f} ms)")
    print(f"ratio restore / boot: {med_restore / med_boot:.3f}")
    print(f"the first cold start by restore right after the restart, while emberd starts its "
          f"standby VMMs: {first_elapsed:.0f} ms (restore {first_t['restore']:.0f} ms), "
          f"{first_elapsed / med_boot:.3f} of boot")


if __name__ == "__main__":
    main()
