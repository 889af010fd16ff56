#!/usr/bin/env python3
"""emberd's async benchmark (scripts/bench-async), in one run:

1. Acceptance: the latency of Event invokes (until the 202, each event committed to SQLite
   with synchronous=FULL) and the accepted events per second, with 1 and with 16 concurrent
   keep-alive clients, against DryRun invokes on the same listener (the bare request path:
   routing, lookup and validation, nothing stored) as the baseline, interleaved over rounds.
   This emberd has less VM memory than the function needs, so no event runs: the dispatcher
   finds no capacity and backs off (one worker), and the figures are the request path.
2. Delivery: for a warm function on a second emberd, one event at a time, the time until
   emberd hands the event to the warm VM's agent (its record of the run: the run's end less
   the handler's time), from emberd reading the request (before the commit and the 202) and
   from the client receiving the 202. The second can be negative: dispatch starts at the
   commit, while the 202 is still on its way to the client.
"""
import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time

from emberd_process import API, Emberd, add_binary_flags, make_zip

NOOP = ("def handler(event, context):\n    return None\n", 0o644)


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def create(d, name, memory):
    status, _, payload = d.request("POST", API, {
        "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": memory, "Timeout": 30,
        "Code": {"ZipFile": make_zip({"app.py": NOOP})}})
    if status != 201:
        sys.exit(f"bench-async: create {name} failed: {status} {payload!r}")


def client_loop(d, name, invocation_type, count, latencies, errors):
    """One keep-alive connection sending `count` signed invokes; appends each latency in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=120)
    want = 202 if invocation_type == "Event" else 204
    mine = []
    for i in range(count):
        body = json.dumps({"n": i}).encode()
        path = f"{API}/{name}/invocations"
        headers = d.signed("POST", path, body, {"X-Amz-Invocation-Type": invocation_type})
        start = time.monotonic()
        conn.request("POST", path, body, headers)
        r = conn.getresponse()
        r.read()
        mine.append((time.monotonic() - start) * 1000)
        if r.status != want:
            errors.append(f"{invocation_type}: status {r.status}")
    conn.close()
    latencies.extend(mine)


def batch(d, name, invocation_type, clients, per_client):
    """Latencies (ms) and requests per second of `clients` clients sending at once."""
    latencies, errors, threads = [], [], []
    start = time.monotonic()
    for _ in range(clients):
        t = threading.Thread(target=client_loop,
                             args=(d, name, invocation_type, per_client, latencies, errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        sys.exit(f"bench-async: {len(errors)} requests failed, e.g. {errors[0]}")
    return latencies, clients * per_client / elapsed


def acceptance(args):
    state = tempfile.mkdtemp(prefix="ember-bench-async-accept-")
    # 128 MiB of VM memory for a 1769 MB function: every event is accepted and none runs.
    d = Emberd(args, state, max_vm_memory_mib=128, extra_args=["--async-workers", "1"])
    results = {}
    try:
        create(d, "accept", 1769)
        for round_number in range(args.rounds):
            for clients in (1, 16):
                per_client = max(1, args.events // clients)
                for kind in ("DryRun", "Event"):
                    latencies, rate = batch(d, "accept", kind, clients, per_client)
                    entry = results.setdefault((kind, clients), {"latencies": [], "rates": []})
                    entry["latencies"].extend(latencies)
                    entry["rates"].append(rate)
                    log(f"  round {round_number + 1}/{args.rounds}: {kind:6} x{clients:2} clients: "
                        f"median {statistics.median(latencies):.2f} ms, {rate:.0f}/s")
        _, _, body = d.request("GET", "/ember/v1/functions/accept/async")
        depth = json.loads(body)["Depth"]
    finally:
        d.stop()
    expected = args.rounds * sum(max(1, args.events // c) * c for c in (1, 16))
    if depth != expected:
        sys.exit(f"bench-async: {depth} events queued, expected {expected}: some were lost")
    return results, depth


def delivery(args):
    state = tempfile.mkdtemp(prefix="ember-bench-async-deliver-")
    d = Emberd(args, state)
    delays, from_202 = [], []
    try:
        create(d, "warm", 1769)
        status, _, payload = d.request("POST", f"{API}/warm/invocations", b"{}")  # boot + init
        if status != 200:
            sys.exit(f"bench-async: warming failed: {status} {payload!r}")
        for i in range(args.deliveries):
            status, headers, _ = d.request("POST", f"{API}/warm/invocations", b"{}",
                                           {"X-Amz-Invocation-Type": "Event"})
            got_202_ms = time.time() * 1000
            if status != 202:
                sys.exit(f"bench-async: Event invoke failed: {status}")
            request_id = headers["x-amzn-requestid"]
            deadline = time.time() + 120
            while True:
                _, _, body = d.request("GET", "/ember/v1/functions/warm/async")
                done = [e for e in json.loads(body)["Recent"] if e["RequestId"] == request_id]
                if done:
                    if done[0]["Fate"] != "Success":
                        sys.exit(f"bench-async: event {request_id} ended {done[0]['Fate']}")
                    delays.append(done[0]["HandlerStartedMs"] - done[0]["AcceptedMs"])
                    from_202.append(done[0]["HandlerStartedMs"] - got_202_ms)
                    break
                if time.time() > deadline:
                    sys.exit(f"bench-async: event {request_id} did not run within 120 s")
                time.sleep(0.05)
            if (i + 1) % 10 == 0:
                log(f"  {i + 1}/{args.deliveries} deliveries")
    finally:
        d.stop()
    return delays, from_202


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_binary_flags(p)
    p.add_argument("--events", type=int, default=400, help="requests per batch (default 400)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--deliveries", type=int, default=50, help="events timed to the handler (default 50)")
    args = p.parse_args()
    if args.events < 16 or args.rounds < 1 or args.deliveries < 1:
        p.error("--events must be at least 16, --rounds and --deliveries at least 1")

    log(f"acceptance: {args.rounds} rounds of {args.events} requests per batch")
    results, depth = acceptance(args)
    log(f"delivery: {args.deliveries} events to a warm function")
    delays, from_202 = delivery(args)

    print(f"{'path':28} {'p50 ms':>8} {'p99 ms':>8} {'req/s (median)':>15}")
    for clients in (1, 16):
        for kind in ("DryRun", "Event"):
            entry = results[(kind, clients)]
            label = f"{kind} (202, committed)" if kind == "Event" else "DryRun (baseline)"
            print(f"{label + f', {clients} client' + ('s' if clients > 1 else ''):28} "
                  f"{statistics.median(entry['latencies']):8.2f} {percentile(entry['latencies'], 99):8.2f} "
                  f"{statistics.median(entry['rates']):15.0f}")
    for clients in (1, 16):
        event, dry = results[("Event", clients)], results[("DryRun", clients)]
        print(f"ratio Event / DryRun, {clients:2} client{'s' if clients > 1 else ' '}: "
              f"p50 {statistics.median(event['latencies']) / statistics.median(dry['latencies']):.2f}, "
              f"p99 {percentile(event['latencies'], 99) / percentile(dry['latencies'], 99):.2f}, "
              f"throughput {statistics.median(event['rates']) / statistics.median(dry['rates']):.2f}")
    print(f"events accepted and still queued (none lost): {depth}")
    for label, values in (("request read -> handed to the agent", delays),
                          ("202 at the client -> handed to the agent", from_202)):
        print(f"delivery to a warm function ({len(values)} events), {label}: "
              f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
              f"min {min(values):.1f} ms, max {max(values):.1f} ms")


if __name__ == "__main__":
    main()
