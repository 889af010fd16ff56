#!/usr/bin/env python3
"""emberd's network benchmark (scripts/bench-net), in one run, as root:

1. Throughput: one TCP connection sending --mib MiB from a function's handler (a real
   microVM behind its tap, its namespace's NAT and the host's nftables rules) to a sink in
   "the outside" network namespace, against the same from a plain client namespace routed by
   this host (no VM: the baseline), interleaved over --rounds rounds. Median and p99.
2. Latency: --requests small HTTP GETs per round, each on a fresh connection, from the
   handler and from the client namespace to an HTTP server outside. p50 and p99 per request.
3. Restore: cold starts from the function's init snapshot (each function booted once, then
   emberd restarted, so that its first call restores), as bench-invoke measures them: the
   restore figure of X-Ember-Timing and the client's whole cold invoke, on an emberd with
   --network off and on one with networking, both running, restores interleaved between
   them. Medians, p99 and the difference.

The guest's workload is tests/e2e/net_guest.py, the servers those of tests/e2e/outside_network.py;
functions have the default egress policy (internet), which admits 198.51.100.0/24.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from emberd_process import API, Emberd, add_binary_flags, make_zip
from outside_network import ClientNetwork, OutsideNetwork

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::000000000000:role/bench"


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timing(headers):
    """X-Ember-Timing as a dict of floats (ms) plus 'start'."""
    out = {}
    for item in headers.get("x-ember-timing", "").split(";"):
        key, _, value = item.partition("=")
        out[key.strip()] = value if key.strip() == "start" else float(value or 0)
    return out


def guest_code():
    with open(f"{HERE}/net_guest.py") as f:
        return make_zip({"net_guest.py": (f.read(), 0o644)})


def create(d, name, code, memory):
    status, _, payload = d.request("POST", API, {
        "FunctionName": name, "Runtime": "python3.11", "Handler": "net_guest.handler", "Role": ROLE,
        "MemorySize": memory, "Timeout": 600, "Code": {"ZipFile": code}})
    if status != 201:
        sys.exit(f"bench-net: create {name} failed: {status} {payload!r}\n{d.output()}")


def invoke(d, name, event):
    """(the handler's result, the client's time in ms, X-Ember-Timing)."""
    start = time.monotonic()
    status, headers, payload = d.request("POST", f"{API}/{name}/invocations", json.dumps(event).encode(),
                                         timeout=900)
    elapsed = (time.monotonic() - start) * 1000
    if status != 200 or headers.get("x-amz-function-error"):
        sys.exit(f"bench-net: {name} {event.get('op')} failed: {status} {payload!r}\n{d.output()}")
    return json.loads(payload), elapsed, timing(headers)


def baseline(client, event):
    """net_guest.py's result for event, run in the client namespace."""
    p = client.run(sys.executable, f"{HERE}/net_guest.py", json.dumps(event), capture_output=True,
                   text=True, timeout=900)
    if p.returncode != 0:
        sys.exit(f"bench-net: the baseline {event['op']} failed in {client.name}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def mib_per_s(result):
    return result["bytes"] / result["seconds"] / (1 << 20)


def datapath(args, outside, client):
    """Throughput (MiB/s per round) and latency (ms per request), guest and baseline."""
    state = tempfile.mkdtemp(prefix="ember-bench-net-")
    d = Emberd(args, state, extra_args=["--dns", outside.ip, "--vm-bandwidth-mbit", str(args.vm_bandwidth_mbit)])
    sink = {"op": "throughput", "host": outside.ip, "port": outside.SINK_PORT, "mib": args.mib}
    hello = {"op": "latency", "url": outside.url("/hello"), "count": args.requests}
    out = {"guest_mibs": [], "base_mibs": [], "guest_ms": [], "base_ms": []}
    try:
        create(d, "net", guest_code(), args.memory)
        seen_as, _, _ = invoke(d, "net", {"op": "get", "url": outside.url("/whoami")})  # boot + init
        out["guest_seen_as"] = seen_as
        out["guest_resolved"] = invoke(d, "net", {"op": "resolve", "name": "outside.test"})[0]
        out["base_seen_as"] = baseline(client, {"op": "get", "url": outside.url("/whoami")})
        for round_number in range(args.rounds):
            guest = invoke(d, "net", sink)[0]
            base = baseline(client, sink)
            out["guest_mibs"].append(mib_per_s(guest))
            out["base_mibs"].append(mib_per_s(base))
            guest_ms = invoke(d, "net", hello)[0]
            base_ms = baseline(client, hello)
            out["guest_ms"].extend(guest_ms)
            out["base_ms"].extend(base_ms)
            log(f"  round {round_number + 1}/{args.rounds}: throughput guest {mib_per_s(guest):.1f} MiB/s, "
                f"baseline {mib_per_s(base):.1f} MiB/s; GET median guest {statistics.median(guest_ms):.2f} ms, "
                f"baseline {statistics.median(base_ms):.2f} ms")
    finally:
        d.stop()
        shutil.rmtree(state, ignore_errors=True)
    return out


def restores(args, outside):
    """Cold starts by restore on two emberds run side by side, one with --network off and one
    with networking, interleaved (alternating which goes first): per mode, (client ms, restore
    ms, the part of restore spent giving the VM its egress policy)."""
    modes = {"off": ["--network", "off"], "on": ["--dns", outside.ip]}
    states = {mode: tempfile.mkdtemp(prefix=f"ember-bench-net-restore-{mode}-") for mode in modes}
    names = [f"cold{i}" for i in range(args.cold_runs)]
    results = {mode: ([], [], []) for mode in modes}
    code = guest_code()
    daemons = {}
    try:
        for mode, extra in modes.items():
            daemons[mode] = Emberd(args, states[mode], extra_args=extra)
            for name in names:
                create(daemons[mode], name, code, args.memory)
                invoke(daemons[mode], name, {"op": "noop"})  # boot + init + the snapshot later restored
            if daemons.pop(mode).stop() != 0:
                sys.exit(f"bench-net: emberd (network {mode}) did not stop cleanly")
        # After a restart no VM is warm or ready: each first call restores its snapshot.
        for mode, extra in modes.items():
            daemons[mode] = Emberd(args, states[mode], extra_args=extra)
        for i, name in enumerate(names):
            for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
                d = daemons[mode]
                # Standby VMMs (with networking, in namespaces of their own) and ready VMs are
                # made in the background after each restore: let that finish, so that every
                # restore is measured alike, on a standby VMM that is ready and an idle host.
                time.sleep(args.settle_s)
                _, elapsed, t = invoke(d, name, {"op": "noop"})
                if t.get("start") != "cold" or t.get("boot", 0) > 0 or t.get("restore", 0) <= 0:
                    sys.exit(f"bench-net: {name}'s first call after the restart was no restore: {t}")
                client_ms, restore_ms, net_ms = results[mode]
                client_ms.append(elapsed)
                restore_ms.append(t["restore"])
                net_ms.append(t.get("net", 0.0))
                log(f"  network {mode:3}: restore {i + 1}/{len(names)}: {elapsed:.1f} ms "
                    f"(restore {t['restore']:.1f} ms, of it network {t.get('net', 0.0):.2f} ms)")
                if name != names[-1]:
                    # Its VMs (warm and ready) go, so the host holds only what the next needs.
                    d.request("DELETE", f"{API}/{name}")
        # The restored VM's network is what the mode says it is.
        for mode, d in daemons.items():
            reach = invoke(d, names[-1], {"op": "connect", "host": outside.ip,
                                          "port": outside.HTTP_PORTS[0], "timeout": 5})[0]
            if reach["ok"] != (mode == "on"):
                sys.exit(f"bench-net: with network {mode} a restored guest's connect to the outside "
                         f"gave {reach}")
    finally:
        for d in daemons.values():
            d.stop()
        for state in states.values():
            shutil.rmtree(state, ignore_errors=True)
    return results["off"], results["on"]


def row(label, values, unit, fmt=".2f"):
    return (f"{label:44} median {statistics.median(values):{fmt}} {unit}, p99 {percentile(values, 99):{fmt}} "
            f"{unit} ({len(values)} samples)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_binary_flags(p)
    p.add_argument("--rounds", type=int, default=5, help="interleaved throughput/latency rounds (default 5)")
    p.add_argument("--mib", type=int, default=64, help="MiB sent per throughput run (default 64)")
    p.add_argument("--requests", type=int, default=100, help="HTTP GETs per latency round (default 100)")
    p.add_argument("--cold-runs", type=int, default=9, help="restores per network mode (default 9)")
    p.add_argument("--memory", type=int, default=1769, help="the functions' MemorySize (default 1769)")
    p.add_argument("--settle-s", type=float, default=15,
                   help="idle seconds before each timed restore, for background refills (default 15)")
    p.add_argument("--vm-bandwidth-mbit", type=int, default=100000,
                   help="emberd's per-VM bandwidth cap for the throughput runs (default 100000, its "
                        "maximum, so that the data path is measured rather than the cap)")
    args = p.parse_args()
    if args.rounds < 1 or args.mib < 1 or args.requests < 1 or args.cold_runs < 1:
        p.error("--rounds, --mib, --requests and --cold-runs must be at least 1")

    with OutsideNetwork() as outside, ClientNetwork() as client:
        log(f"data path: {args.rounds} rounds of {args.mib} MiB and {args.requests} GETs, guest and baseline")
        data = datapath(args, outside, client)
        log(f"restores: {args.cold_runs} per mode, on an emberd with --network off and one with "
            f"networking, interleaved")
        (off_ms, off_restore, _), (on_ms, on_restore, on_net) = restores(args, outside)

    print(f"guest requests arrive outside from {data['guest_seen_as']} (NAT), the baseline's from "
          f"{data['base_seen_as']}; the guest resolves outside.test to {data['guest_resolved']}")
    print(f"TCP throughput, one connection, {args.mib} MiB (per-VM cap {args.vm_bandwidth_mbit} Mbit/s):")
    for label, key in (("guest -> outside", "guest_mibs"), ("client namespace -> outside (baseline)", "base_mibs")):
        values = data[key]
        # p99 of the transfer time, as a rate: the slow tail.
        print(f"  {label:42} median {statistics.median(values):8.1f} MiB/s, p99 {percentile(values, 1):8.1f} "
              f"MiB/s ({len(values)} runs)")
    print(f"  ratio guest / baseline: median {statistics.median(data['guest_mibs']) / statistics.median(data['base_mibs']):.2f}, "
          f"p99 {percentile(data['guest_mibs'], 1) / percentile(data['base_mibs'], 1):.2f}")
    print("small HTTP GET on a fresh connection:")
    print("  " + row("guest -> outside", data["guest_ms"], "ms"))
    print("  " + row("client namespace -> outside (baseline)", data["base_ms"], "ms"))
    print(f"  ratio guest / baseline: p50 {statistics.median(data['guest_ms']) / statistics.median(data['base_ms']):.2f}, "
          f"p99 {percentile(data['guest_ms'], 99) / percentile(data['base_ms'], 99):.2f}")
    print("cold start by restore (X-Ember-Timing restore; the client's whole cold invoke):")
    for label, restore, whole in (("--network off", off_restore, off_ms), ("networking on", on_restore, on_ms)):
        print(f"  {label:14} restore median {statistics.median(restore):8.1f} ms, p99 {percentile(restore, 99):8.1f} ms; "
              f"invoke median {statistics.median(whole):8.1f} ms, p99 {percentile(whole, 99):8.1f} ms")
    print(f"  networking adds: restore median {statistics.median(on_restore) - statistics.median(off_restore):+.1f} ms, "
          f"p99 {percentile(on_restore, 99) - percentile(off_restore, 99):+.1f} ms; invoke median "
          f"{statistics.median(on_ms) - statistics.median(off_ms):+.1f} ms, "
          f"p99 {percentile(on_ms, 99) - percentile(off_ms, 99):+.1f} ms")
    print("  " + row("of restore, giving the VM its policy (net=)", on_net, "ms", ".3f"))


if __name__ == "__main__":
    main()
