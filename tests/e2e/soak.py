#!/usr/bin/env python3
"""emberd's soak run (scripts/soak): a mix of invocations against one emberd for N minutes.

Each function is first booted and snapshotted, then restored once, one function at a time
(not counted): its first clone records the snapshot's working set. Then workers invoke the
five functions at once, more of them than the memory cap has room for: warm calls, cold
starts (a code update every 45 s, and the cap evicting VMs), handler errors and timeouts on
purpose. Each minute prints the requests, the errors by kind (throttles and deliberate
handler errors counted apart) and the latency's p50 and p99; the start and the end print
emberd's RSS (by kind of mapping too), descriptors and threads and the number of VMM
processes. The target: no other error, and RSS, descriptors and threads flat (the last
minute's median within 10 % of the first's).
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time

from emberd_process import API, Emberd, add_binary_flags, make_zip

PYTHON = """import os, time
VERSION = open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "version.txt")).read()

def handler(event, context):
    if event.get("fail"):
        raise ValueError("failing on purpose")
    time.sleep(event.get("sleep", 0))
    return {"version": VERSION, "echo": event.get("n")}
"""
NODE = """exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, (event.sleep || 0) * 1000));
  return { echo: event.n, runtime: "node" };
};
"""
MEMORY_MB = 512
FUNCTIONS = ("py-a", "py-b", "updated", "sleeper", "node")


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Soak:
    def __init__(self, d, minutes, workers):
        self.d = d
        self.minutes = minutes
        self.workers = workers
        self.start = time.monotonic()
        self.end = self.start + minutes * 60
        self.lock = threading.Lock()
        self.records = []  # (minute, kind, ms): kind "ok", "throttle", "handler error", ...
        self.samples = []  # (minute, rss KiB, fds, threads, VMMs, host's MemAvailable KiB)
        self.version = 0
        self.stop = threading.Event()

    def minute(self):
        return int((time.monotonic() - self.start) // 60)

    # 30 s: in the emulated test host a trivial call's median under this mix is seconds.
    def create(self, name, runtime, handler, files, timeout=30):
        status, _, payload = self.d.request("POST", API, {
            "FunctionName": name, "Runtime": runtime, "Handler": handler,
            "Role": "arn:aws:iam::000000000000:role/soak", "MemorySize": MEMORY_MB,
            "Timeout": timeout, "Code": {"ZipFile": make_zip(files)}})
        if status != 201:
            sys.exit(f"soak: create {name} failed: {status} {payload!r}")

    def python_files(self, version):
        return {"app.py": (PYTHON, 0o644), "version.txt": (str(version), 0o644)}

    def deploy(self):
        for name in ("py-a", "py-b", "updated"):
            self.create(name, "python3.11", "app.handler", self.python_files(0))
        # Only for the timeouts on purpose: 3 s of sleep against a 2 s timeout.
        self.create("sleeper", "python3.11", "app.handler", self.python_files(0), timeout=2)
        self.create("node", "nodejs18.x", "index.handler", {"index.js": (NODE, 0o644)})

    # One request of the mix: (kind, ms, detail). kind names what happened; "ok", "throttle",
    # "handler error" and "timeout" are expected, anything else is an error, and detail then
    # holds the answer.
    def one_call(self, rng):
        roll = rng.random()
        if roll < 0.05:
            name, event, expect = "py-a", {"fail": True}, "handler error"
        elif roll < 0.08:
            name, event, expect = "sleeper", {"sleep": 3}, "timeout"
        else:
            name = rng.choice(("py-a", "py-b", "updated", "node"))
            event, expect = {"n": rng.randrange(1000), "sleep": rng.choice((0, 0, 0, 0.2))}, "ok"
        started = time.monotonic()
        try:
            status, headers, payload = self.d.request(
                "POST", f"{API}/{name}/invocations", json.dumps(event).encode(), timeout=300)
        except OSError as e:
            return (f"connection error ({type(e).__name__})", (time.monotonic() - started) * 1000,
                    f"{name}: {e}")
        ms = (time.monotonic() - started) * 1000
        if status == 429:
            return "throttle", ms, ""
        if status != 200:
            return f"HTTP {status}", ms, f"{name}: {payload[:300]!r}"
        body = json.loads(payload) if payload else None
        error = headers.get("x-amz-function-error")
        detail = (f"{name} after {ms:.0f} ms ({headers.get('x-ember-timing', 'no timing')}): "
                  f"{str(body)[:300]}")
        if expect == "handler error":
            if error and body.get("errorType") == "ValueError":
                return "handler error", ms, ""
            return "wrong answer to a failing call", ms, detail
        if expect == "timeout":
            if error and body.get("errorType") == "Sandbox.Timedout":
                return "timeout", ms, ""
            return "wrong answer to a timing-out call", ms, detail
        if error:
            return f"unexpected function error {body.get('errorType')}", ms, detail
        if body.get("echo") != event["n"]:
            return "wrong payload", ms, detail
        return "ok", ms, ""

    def worker(self, seed):
        rng = random.Random(seed)
        while time.monotonic() < self.end:
            kind, ms, detail = self.one_call(rng)
            with self.lock:
                self.records.append((self.minute(), kind, ms))
            if detail:
                log(f"  error: {kind}: {detail}")
            if kind == "throttle":
                time.sleep(0.2 + rng.random() * 0.3)  # as an SDK backs off

    def updater(self):
        while not self.stop.wait(45):
            self.version += 1
            status, _, payload = self.d.request(
                "PUT", f"{API}/updated/code",
                {"ZipFile": make_zip(self.python_files(self.version))})
            with self.lock:
                self.records.append((self.minute(), "ok" if status == 200 else
                                     f"code update HTTP {status}", 0))

    def sample(self):
        pid = self.d.proc.pid
        # Not VmRSS: before Linux 6.2 each thread's page counts reach it only every 64
        # faults, so with 80 threads it lags by up to 20 MiB. smaps_rollup walks the pages.
        with open(f"/proc/{pid}/smaps_rollup") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("Rss:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        threads = len(os.listdir(f"/proc/{pid}/task"))
        vmms = sum(1 for _, command in self.d.vmm_processes() if "ember-vmm" in command)
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return rss, fds, threads, vmms, available

    def rss_by_mapping(self):
        """emberd's RSS in MiB by kind of mapping, from /proc/PID/smaps: the main heap, thread
        stacks (8 MiB anonymous mappings), the other anonymous ones (malloc's thread arenas
        among them) and files."""
        kinds = {"heap": 0, "thread stacks": 0, "other anonymous": 0, "files": 0}
        kind = None
        with open(f"/proc/{self.d.proc.pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and len(fields) >= 5:
                    low, high = (int(x, 16) for x in fields[0].split("-"))
                    name = fields[5] if len(fields) > 5 else ""
                    if name == "[heap]":
                        kind = "heap"
                    elif name.startswith("/"):
                        kind = "files"
                    elif high - low == 8 << 20:
                        kind = "thread stacks"
                    else:
                        kind = "other anonymous"
                elif fields[0] == "Rss:":
                    kinds[kind] += int(fields[1])
        return ", ".join(f"{k} {v / 1024:.1f}" for k, v in kinds.items())

    def sampler(self):
        while not self.stop.wait(5):
            with self.lock:
                self.samples.append((self.minute(),) + self.sample())

    def report_minute(self, m):
        with self.lock:
            rows = [r for r in self.records if r[0] == m]
            samples = [s for s in self.samples if s[0] == m]
        latencies = [ms for _, kind, ms in rows if kind in ("ok", "handler error") and ms > 0]
        kinds = {}
        for _, kind, _ in rows:
            kinds[kind] = kinds.get(kind, 0) + 1
        errors = {k: n for k, n in kinds.items()
                  if k not in ("ok", "throttle", "handler error", "timeout")}
        rss = statistics.median(s[1] for s in samples) if samples else 0
        threads = statistics.median(s[3] for s in samples) if samples else 0
        available = min(s[5] for s in samples) if samples else 0
        log(f"minute {m + 1:2d}: {len(rows):4d} requests, {kinds.get('ok', 0)} ok, "
            f"{kinds.get('throttle', 0)} throttled, {kinds.get('handler error', 0)} handler errors "
            f"and {kinds.get('timeout', 0)} timeouts on purpose, errors {errors or 0}; "
            f"p50 {percentile(latencies, 50) if latencies else 0:.0f} ms, "
            f"p99 {percentile(latencies, 99) if latencies else 0:.0f} ms; "
            f"emberd RSS {rss / 1024:.1f} MiB, {threads:.0f} threads; "
            f"host memory available at least {available / 1024:.0f} MiB")
        return errors

    def warm_up_call(self, name, event):
        status, headers, payload = self.d.request(
            "POST", f"{API}/{name}/invocations", json.dumps(event).encode(), timeout=300)
        if status != 200 or headers.get("x-amz-function-error"):
            sys.exit(f"soak: warming {name} up failed: {status} {payload[:300]!r}")
        return headers.get("x-ember-timing", "")

    def warm_up(self):
        """Each function's first boot, init and snapshot, and then its first restore, one
        function at a time and not counted. In steady state a function has its snapshot and
        the working set its first clone recorded; the mix's own cold starts are restores
        (after code updates, or after the cap evicted a VM)."""
        started = time.monotonic()
        for name in FUNCTIONS:
            self.warm_up_call(name, {"n": 0})
            # While the booted VM sleeps through one call, a second one needs a clone.
            busy = threading.Thread(target=self.warm_up_call, args=(name, {"n": 0, "sleep": 1.5}))
            busy.start()
            time.sleep(0.5)
            timing = self.warm_up_call(name, {"n": 1})
            busy.join()
            if "start=cold" not in timing:
                log(f"  warm-up: {name}'s second call was not a restore ({timing})")
        log(f"warm-up (not counted): {len(FUNCTIONS)} functions booted, initialized, "
            f"snapshotted and restored once, one at a time, in {time.monotonic() - started:.0f} s")

    def run(self):
        self.deploy()
        self.warm_up()
        self.start = time.monotonic()
        self.end = self.start + self.minutes * 60
        before = self.sample()
        log(f"soak: {self.minutes} min, {self.workers} workers, functions of {MEMORY_MB} MB; "
            f"emberd at start: RSS {before[0] / 1024:.1f} MiB, {before[1]} fds, {before[2]} threads, "
            f"{before[3]} VMM processes; RSS by mapping (MiB): {self.rss_by_mapping()}")
        background = [threading.Thread(target=self.updater), threading.Thread(target=self.sampler)]
        workers = [threading.Thread(target=self.worker, args=(i,)) for i in range(self.workers)]
        for t in background + workers:
            t.start()
        all_errors = {}
        for m in range(self.minutes):
            time.sleep(max(0, self.start + (m + 1) * 60 + 2 - time.monotonic()))
            for kind, n in self.report_minute(m).items():
                all_errors[kind] = all_errors.get(kind, 0) + n
        for t in workers:
            t.join()
        self.stop.set()
        for t in background:
            t.join()
        after = self.sample()
        log(f"emberd at the end: RSS {after[0] / 1024:.1f} MiB, {after[1]} fds, {after[2]} threads, "
            f"{after[3]} VMM processes; RSS by mapping (MiB): {self.rss_by_mapping()}")
        return self.verdict(all_errors)

    def verdict(self, errors):
        first = [s for s in self.samples if s[0] == 0]
        last = [s for s in self.samples if s[0] == self.minutes - 1]
        ok = not errors
        for index, what in ((1, "RSS"), (2, "descriptors"), (3, "threads")):
            a = statistics.median(s[index] for s in first)
            b = statistics.median(s[index] for s in last)
            flat = b <= a * 1.10
            ok = ok and flat
            log(f"  {what}: first minute's median {a:.0f}, last minute's {b:.0f} "
                f"({(b / a - 1) * 100 if a else 0:+.1f} %): {'flat' if flat else 'GREW more than 10 %'}")
        total = len(self.records)
        log(f"soak: {total} requests; errors other than throttles and deliberate ones: "
            f"{sum(errors.values())} {errors or ''}; {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_binary_flags(p)
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--max-vm-memory-mib", type=int, default=3 * MEMORY_MB,
                   help="emberd's memory cap: room for this many MiB of VMs (default 3 VMs)")
    args = p.parse_args()
    if args.minutes < 2:
        sys.exit("soak: --minutes must be at least 2 (the first and the last minute are compared)")
    state = tempfile.mkdtemp(prefix="ember-soak-")
    # Init's limit scaled for emulation as the functions' timeouts are: under the mix, a new
    # revision's boot and init in the one-vCPU test host took 25-57 s and 30 s.
    d = Emberd(args, state, max_vm_memory_mib=args.max_vm_memory_mib,
               extra_args=("--init-timeout-s", "120"))
    try:
        code = Soak(d, args.minutes, args.workers).run()
        # What emberd itself said went wrong, for the errors above (its log goes with the
        # state directory, which is in the test host's /tmp).
        with open(os.path.join(state, "emberd.log"), "rb") as f:
            emberd_log = f.read().decode(errors="replace")
        notes = [line for line in emberd_log.splitlines()
                 if "error" in line or "warning" in line or "ended without" in line]
        if notes:
            log(f"emberd's log: {len(notes)} lines with errors or warnings; the first 40:")
            for line in notes[:40]:
                log("  " + line[:400])
    finally:
        if d.stop() != 0:
            log(d.output())
    sys.exit(code)


if __name__ == "__main__":
    main()
