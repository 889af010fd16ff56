#!/usr/bin/env python3
"""emberd's event source mapping benchmark (scripts/bench-events), in one run, against a
redis-server of its own (no persistence) and one emberd started with --redis:

1. Throughput: N entries are XADDed (pipelined) to a fresh stream, then a mapping is created
   (BatchSize 100, then 1000; window 1 s) onto a warm no-op Python function (1769 MB), and the
   clock runs from the CreateEventSourceMapping request until the mapping's consumer group
   (ember-<UUID>) has read the last entry and has none pending (XINFO GROUPS, polled every
   2 ms). Records per second and the time per record (µs), medians over --rounds.
2. The baseline, interleaved with 1: a bare XREADGROUP + XACK loop in this process over the
   same number of entries with the same batch sizes (no function), from its XGROUP CREATE to
   its last XACK; the ratio of Ember's time per record to the bare loop's.
3. Latency, window 0, one entry at a time on an idle mapping: from sending the XADD until the
   group shows the entry read and acknowledged (XINFO GROUPS polled every 0.5 ms), p50 and
   p99. That is not the handler's start: guest clocks are not the host's. emberd's own view
   is the handler's Duration in each run's REPORT line; the latency less it is the time Ember
   spends around the handler (pickup, the batch's JSON, the VM round trip, the XACK).
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from emberd_process import API, Emberd, add_binary_flags, free_port, make_zip

NOOP = ("def handler(event, context):\n    return None\n", 0o644)
MAPPINGS = "/2015-03-31/event-source-mappings"
FUNCTION = "noop"
STALL_S = 120  # no progress for this long: the run fails


def log(message):
    print(message, file=sys.stderr, flush=True)


def fail(message):
    raise SystemExit(f"bench-events: {message}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class RespError(Exception):
    """An error reply from Redis (-ERR ...)."""


class Resp:
    """A minimal RESP2 client: one connection, commands pipelined, replies as str/int/list."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    @staticmethod
    def encode(args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    def read(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("redis-server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if int(rest) < 0:
                return None
            data = self.reader.read(int(rest) + 2)
            if len(data) != int(rest) + 2:
                raise ConnectionError("redis-server closed the connection mid-reply")
            return data[:-2].decode(errors="replace")
        if kind == b"*":
            return None if int(rest) < 0 else [self.read() for _ in range(int(rest))]
        raise ConnectionError(f"not a RESP2 reply: {line[:40]!r}")

    def pipeline(self, commands):
        """Sends every command, then reads every reply; error replies come back as RespError."""
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read() for _ in commands]

    def call(self, *args):
        reply = self.pipeline([args])[0]
        if isinstance(reply, RespError):
            raise RespError(f"{args[0]}: {reply}")
        return reply

    def close(self):
        self.reader.close()
        self.sock.close()


class RedisServer:
    """redis-server on a free port, no RDB, no AOF, in its own directory; never the system's."""

    def __init__(self, directory):
        binary = shutil.which("redis-server")
        if binary is None:
            fail("redis-server is not installed; run scripts/setup (package redis-server)")
        self.port = free_port()
        self.logfile = os.path.join(directory, "redis.log")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory, "--daemonize", "no",
             "--logfile", self.logfile], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"redis-server exited at start ({self.proc.returncode}): {self.output()}")
            try:
                client = Resp(self.port, timeout=2)
                if client.call("PING") == "PONG":
                    client.close()
                    return
            except (OSError, RespError):
                time.sleep(0.05)
        self.stop()
        fail(f"redis-server did not answer PING within 15 s: {self.output()}")

    def output(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def xadd_many(r, key, count, chunk=500):
    """Appends `count` entries with one field `data`, pipelined; their ids in order."""
    ids = []
    for start in range(0, count, chunk):
        replies = r.pipeline([("XADD", key, "*", "data", json.dumps({"n": n}))
                              for n in range(start, min(count, start + chunk))])
        for reply in replies:
            if isinstance(reply, RespError):
                fail(f"XADD {key}: {reply}")
            ids.append(reply)
    return ids


def group_info(r, key, group):
    """The group's XINFO GROUPS fields as a dict, or None while the group (or stream) is missing."""
    reply = r.pipeline([("XINFO", "GROUPS", key)])[0]
    if isinstance(reply, RespError):
        if "no such key" in str(reply).lower():
            return None
        raise RespError(f"XINFO GROUPS {key}: {reply}")
    for fields in reply:
        info = dict(zip(fields[::2], fields[1::2]))
        if info.get("name") == group:
            return info
    return None


def wait_acked(r, key, group, last_id, poll_s, explain):
    """Polls until the group has read `last_id` and has nothing pending. Returns the monotonic
    times of the first poll that saw any entry read and of the one that saw all acknowledged.
    Fails, with explain()'s diagnosis, when nothing moves for STALL_S."""
    first = None
    seen, moved = None, time.monotonic()
    while True:
        info = group_info(r, key, group)
        now = time.monotonic()
        state = None if info is None else (info["last-delivered-id"], info["pending"])
        if info is not None and first is None and info["last-delivered-id"] != "0-0":
            first = now
        if state is not None and state[0] == last_id and state[1] == 0:
            return first if first is not None else now, now
        if state != seen:
            seen, moved = state, now
        elif now - moved > STALL_S:
            where = ("the group does not exist" if info is None else
                     f"last read {info['last-delivered-id']} (want {last_id}), "
                     f"{info['pending']} pending")
            fail(f"no progress on stream {key} for {STALL_S} s: {where}\n{explain()}")
        time.sleep(poll_s)


def create_function(d):
    status, _, payload = d.request("POST", API, {
        "FunctionName": FUNCTION, "Runtime": "python3.11", "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": 1769, "Timeout": 60,
        "Code": {"ZipFile": make_zip({"app.py": NOOP})}})
    if status != 201:
        fail(f"CreateFunction failed: {status} {payload!r}")
    status, _, payload = d.request("POST", f"{API}/{FUNCTION}/invocations", b"{}")  # boot + init
    if status != 200:
        fail(f"warming the function failed: {status} {payload!r}\n{d.output()}")


def create_mapping(d, key, batch_size, window_s):
    status, _, payload = d.request("POST", MAPPINGS, {
        "EventSourceArn": f"arn:ember:redis:::default/stream/{key}", "FunctionName": FUNCTION,
        "BatchSize": batch_size, "MaximumBatchingWindowInSeconds": window_s,
        "StartingPosition": "TRIM_HORIZON"})
    if status != 202:
        fail(f"CreateEventSourceMapping on {key} failed: {status} {payload!r}")
    return json.loads(payload)["UUID"]


def delete_mapping(d, uuid):
    status, _, payload = d.request("DELETE", f"{MAPPINGS}/{uuid}")
    if status != 202:
        fail(f"DeleteEventSourceMapping {uuid} failed: {status} {payload!r}")


def mapping_status(d, uuid):
    """emberd's status route for the mapping (a dict), or None when it does not answer 200."""
    status, _, payload = d.request("GET", f"/ember/v1/event-source-mappings/{uuid}/status")
    return json.loads(payload) if status == 200 else None


def explainer(d, r, key, uuid):
    def explain():
        return (f"emberd's status for mapping {uuid}: {mapping_status(d, uuid)}\n"
                f"XINFO GROUPS {key}: {r.pipeline([('XINFO', 'GROUPS', key)])[0]}\n"
                f"emberd's log (tail):\n{d.output()[-3000:]}")
    return explain


def ember_round(d, r, key, count, batch_size):
    """Seconds from CreateEventSourceMapping to all acknowledged, and to the first read."""
    ids = xadd_many(r, key, count)
    start = time.monotonic()
    uuid = create_mapping(d, key, batch_size, 1)
    first, done = wait_acked(r, key, f"ember-{uuid}", ids[-1], 0.002, explainer(d, r, key, uuid))
    status = mapping_status(d, uuid)
    if status is not None and status.get("LastProcessingResult") not in ("OK", None, ""):
        log(f"  warning: mapping {uuid} reports {status['LastProcessingResult']}")
    delete_mapping(d, uuid)
    r.call("DEL", key)
    return done - start, first - start


def bare_round(r, key, count, batch_size):
    """Seconds for XGROUP CREATE, then XREADGROUP COUNT batch_size + XACK until none is left."""
    xadd_many(r, key, count)
    start = time.monotonic()
    r.call("XGROUP", "CREATE", key, "bare", "0")
    acked = 0
    while True:
        reply = r.call("XREADGROUP", "GROUP", "bare", "bench", "COUNT", batch_size,
                       "STREAMS", key, ">")
        entries = reply[0][1] if reply else []
        if not entries:
            break
        acked += r.call("XACK", key, "bare", *[entry[0] for entry in entries])
    elapsed = time.monotonic() - start
    if acked != count:
        fail(f"the bare loop acknowledged {acked} entries of {count} on {key}")
    r.call("DEL", key)
    return elapsed


def read_new_log(d, offset):
    """The function's log from `offset` to its end, and the new end."""
    text = ""
    while True:
        status, headers, payload = d.request("GET", f"/ember/v1/functions/{FUNCTION}/logs?offset={offset}")
        if status != 200:
            fail(f"reading the function's log failed: {status} {payload!r}")
        text += payload.decode(errors="replace")
        after = int(headers.get("x-ember-log-offset", offset))
        if after == offset or not payload:
            return text, after
        offset = after


def latency(d, r, samples):
    """Per entry: ms from sending its XADD to seeing it acknowledged, and the handler's
    Duration (ms) from its REPORT line (None when the log did not show exactly one run)."""
    key = "bench:latency"
    warm_id = xadd_many(r, key, 1)[-1]
    uuid = create_mapping(d, key, 100, 0)
    group, explain = f"ember-{uuid}", explainer(d, r, key, uuid)
    wait_acked(r, key, group, warm_id, 0.002, explain)
    _, offset = read_new_log(d, 0)
    delays, durations = [], []
    for i in range(samples):
        time.sleep(0.05)  # the poller is back in its blocking read
        start = time.monotonic()
        entry_id = r.call("XADD", key, "*", "data", json.dumps({"sample": i}))
        _, done = wait_acked(r, key, group, entry_id, 0.0005, explain)
        delays.append((done - start) * 1000)
        text, offset = read_new_log(d, offset)
        found = re.findall(r"REPORT RequestId: \S+\tDuration: ([0-9.]+) ms", text)
        durations.append(float(found[0]) if len(found) == 1 else None)
        if (i + 1) % 10 == 0:
            log(f"  {i + 1}/{samples} entries")
    status = mapping_status(d, uuid)
    delete_mapping(d, uuid)
    r.call("DEL", key)
    return delays, durations, status


def summary(values, unit="ms"):
    return (f"p50 {statistics.median(values):.1f} {unit}, p99 {percentile(values, 99):.1f} {unit}, "
            f"min {min(values):.1f} {unit}, max {max(values):.1f} {unit}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_binary_flags(p)
    p.add_argument("--records", type=int, default=5000, help="entries per throughput run (default 5000)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--latency-samples", type=int, default=50, help="entries timed one at a time (default 50)")
    args = p.parse_args()
    if args.records < 1 or args.rounds < 1 or args.latency_samples < 1:
        p.error("--records, --rounds and --latency-samples must be at least 1")

    scratch = tempfile.mkdtemp(prefix="ember-bench-events-")
    os.makedirs(os.path.join(scratch, "redis"))
    os.makedirs(os.path.join(scratch, "emberd"))
    redis = RedisServer(os.path.join(scratch, "redis"))
    d = r = None
    results = {}
    try:
        r = Resp(redis.port, timeout=30)
        d = Emberd(args, os.path.join(scratch, "emberd"),
                   extra_args=["--redis", f"default=redis://127.0.0.1:{redis.port}"])
        log("creating and warming the no-op function")
        create_function(d)
        log(f"throughput: {args.rounds} rounds of {args.records} entries per run")
        for round_number in range(args.rounds):
            for batch_size in (100, 1000):
                bare = bare_round(r, f"bench:bare:{batch_size}:{round_number}", args.records, batch_size)
                ember, first = ember_round(d, r, f"bench:ember:{batch_size}:{round_number}",
                                           args.records, batch_size)
                entry = results.setdefault(batch_size, {"bare": [], "ember": [], "first": []})
                entry["bare"].append(bare)
                entry["ember"].append(ember)
                entry["first"].append(first)
                log(f"  round {round_number + 1}/{args.rounds}, batch {batch_size:4}: "
                    f"bare {args.records / bare:.0f}/s, Ember {args.records / ember:.0f}/s "
                    f"(first read after {first * 1000:.0f} ms)")
        log(f"latency: {args.latency_samples} entries one at a time (window 0)")
        delays, durations, status = latency(d, r, args.latency_samples)
    except (OSError, RespError, RuntimeError) as e:
        fail(f"{type(e).__name__}: {e}" + (f"\nemberd's log (tail):\n{d.output()[-3000:]}" if d else ""))
    finally:
        if r is not None:
            r.close()
        if d is not None:
            d.stop()
        redis.stop()
    shutil.rmtree(scratch, ignore_errors=True)

    n = args.records
    print(f"{'path (' + str(n) + ' entries per run)':44} {'rec/s':>9} {'us/record':>10} {'first read ms':>14}")
    for batch_size in (100, 1000):
        entry = results[batch_size]
        bare, ember = statistics.median(entry["bare"]), statistics.median(entry["ember"])
        print(f"{f'bare XREADGROUP + XACK, batch {batch_size}':44} {n / bare:9.0f} {bare / n * 1e6:10.1f} {'-':>14}")
        print(f"{f'Ember mapping, batch {batch_size}, window 1 s':44} {n / ember:9.0f} {ember / n * 1e6:10.1f} "
              f"{statistics.median(entry['first']) * 1000:14.0f}")
    for batch_size in (100, 1000):
        entry = results[batch_size]
        print(f"ratio Ember / bare time per record, batch {batch_size:4}: "
              f"{statistics.median(entry['ember']) / statistics.median(entry['bare']):.1f} "
              f"(median{'s' if args.rounds > 1 else ''} over {args.rounds} "
              f"round{'s' if args.rounds > 1 else ''}; Ember's clock starts at CreateEventSourceMapping)")
    print(f"latency, window 0, one entry at a time ({len(delays)} entries), XADD sent -> entry "
          f"acknowledged (XINFO GROUPS polled every 0.5 ms): {summary(delays)}")
    paired = [(delay, duration) for delay, duration in zip(delays, durations) if duration is not None]
    if paired:
        print(f"  emberd's view, the handler's Duration (REPORT line, {len(paired)} runs): "
              f"{summary([duration for _, duration in paired])}")
        print(f"  XADD sent -> acknowledged, less the handler's Duration (Ember's share): "
              f"{summary([delay - duration for delay, duration in paired])}")
    else:
        print("  emberd's view: no REPORT line matched an entry one to one, so none is shown")
    if status is not None:
        print(f"  emberd's status route at the end: Records {status.get('Records')}, "
              f"State {status.get('State')}, LastProcessingResult {status.get('LastProcessingResult')}")


if __name__ == "__main__":
    main()
