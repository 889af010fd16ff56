#!/usr/bin/env python3
"""emberd under faults (run where KVM works): a VMM killed during an invocation, and emberd
itself killed with VMs running, booted, restored and standby.

Each test says what the caller sees and what is left behind: a killed VMM costs its own
invocation only, and a killed emberd leaves no VMM running for more than a second and
nothing a restarted emberd trips over.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from emberd_process import API, Emberd, add_binary_flags, make_zip, wait_for

ARGS = None

# Counts its invocations: 1 on the first one of every environment, booted or restored.
COUNTER = """import time
calls = 0

def handler(event, context):
    global calls
    calls += 1
    time.sleep(event.get("sleep", 0))
    return {"calls": calls}
"""


def timing_of(header):
    """X-Ember-Timing's numbers by name (ms)."""
    return {k: float(v) for k, _, v in (item.partition("=") for item in header.split(";"))
            if k != "start"}


def vm_cgroups():
    """The VM cgroups emberds made ((name, pids) pairs), where cgroup v2 is mounted."""
    found = []
    for path in glob.glob("/sys/fs/cgroup/ember/vm-*"):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                found.append((os.path.basename(path), f.read().split()))
        except OSError:
            continue
    return found


class FaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="ember-faults-", dir=os.environ.get("EMBER_E2E_TMP"))
        cls.d = Emberd(ARGS, cls.state)

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        if code != 0:
            print(cls.d.output(), file=sys.stderr)
        if not os.environ.get("EMBER_E2E_TMP"):
            shutil.rmtree(cls.state, ignore_errors=True)

    def create(self, name, timeout=60):
        body = {"FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/e2e", "MemorySize": 1769, "Timeout": timeout,
                "Code": {"ZipFile": make_zip({"app.py": (COUNTER, 0o644)})}}
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)

    def invoke(self, name, event, with_timing=False):
        """(status, function error header, decoded body) of one synchronous invoke, and its
        X-Ember-Timing when asked."""
        status, headers, payload = self.d.request(
            "POST", f"{API}/{name}/invocations", json.dumps(event).encode())
        out = (status, headers.get("x-amz-function-error"), json.loads(payload) if payload else None)
        return out + (headers.get("x-ember-timing", ""),) if with_timing else out

    def restart(self):
        self.assertEqual(self.d.stop(), 0)
        type(self).d = Emberd(ARGS, self.state)

    def vmm_pids(self):
        return [pid for pid, command in self.d.vmm_processes() if "ember-vmm" in command]

    def test_1_a_vmm_killed_during_an_invocation_costs_that_invocation_only(self):
        self.create("victim")
        self.assertEqual(self.invoke("victim", {}), (200, None, {"calls": 1}))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(self.invoke, "victim", {"sleep": 30})
            time.sleep(3)  # the handler is sleeping now
            vmms = self.vmm_pids()
            self.assertTrue(vmms, "no VMM of this emberd is running")
            for pid in vmms:  # the busy one among them
                os.kill(pid, 9)
            status, function_error, body = slow.result(timeout=120)
        print(f"the caller of the killed VMM got {status} {function_error} {body}", file=sys.stderr)
        if status == 200:
            self.assertEqual(function_error, "Unhandled", body)
            self.assertEqual(body["errorType"], "Runtime.ExitError", body)
        else:
            self.assertGreaterEqual(status, 500, body)
            self.assertIn(body.get("Type", body.get("__type", "")), ("Service", "ServiceException"), body)
        # The next call gets a fresh environment (its counter starts again), and works.
        self.assertEqual(self.invoke("victim", {}), (200, None, {"calls": 1}))
        self.assertEqual(self.invoke("victim", {}), (200, None, {"calls": 2}))

    def test_2_a_guest_that_stops_reading_times_out_at_its_deadline(self):
        self.create("stalled", timeout=5)
        self.assertEqual(self.invoke("stalled", {})[0], 200)  # a warm VM now
        stopped = self.vmm_pids()
        for pid in stopped:  # no VMM reads its vsock any more: the 6 MB cannot all go in
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.time()
            status, function_error, body, timing = self.invoke(
                "stalled", {"blob": "x" * (5 << 20)}, with_timing=True)
            took = time.time() - started
        finally:
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass  # the stalled VM, destroyed
        print(f"a 5 MB request to a stopped VMM: {status} {body} after {took:.1f} s ({timing})",
              file=sys.stderr)
        self.assertEqual((status, function_error, body["errorType"]), (200, "Unhandled", "Sandbox.Timedout"))
        self.assertLess(took, 5 + 25)  # the deadline, plus the emulated host's slowness
        self.assertEqual(self.invoke("stalled", {})[:2], (200, None))

    def test_3_a_corrupted_snapshot_is_rebuilt_and_the_caller_sees_a_slower_start(self):
        self.create("fragile")
        self.assertEqual(self.invoke("fragile", {})[0], 200)  # booted and snapshotted
        [snapshot] = glob.glob(os.path.join(self.state, "runtime", "snapshots", "fragile", "*"))
        state_bin, memory_bin = (os.path.join(snapshot, f) for f in ("state.bin", "memory.bin"))

        def flip_state_bytes():
            with open(state_bin, "r+b") as f:
                f.seek(os.path.getsize(state_bin) // 2)
                chunk = f.read(16)
                f.seek(-len(chunk), os.SEEK_CUR)
                f.write(bytes(b ^ 0xFF for b in chunk))

        def truncate_memory():
            os.truncate(memory_bin, os.path.getsize(memory_bin) // 2)

        for damage in (flip_state_bytes, truncate_memory):
            self.restart()  # no warm VM: the next call is a cold start from the snapshot
            damage()
            status, function_error, body, timing = self.invoke("fragile", {}, with_timing=True)
            self.assertEqual((status, function_error, body), (200, None, {"calls": 1}), damage.__name__)
            self.assertGreater(timing_of(timing)["boot"], 0, f"{damage.__name__}: not booted again: {timing}")
            self.assertIn("cannot be restored", self.d.output(), damage.__name__)
        self.restart()  # the rebuilt snapshot restores
        status, _, body, timing = self.invoke("fragile", {}, with_timing=True)
        self.assertEqual((status, body), (200, {"calls": 1}))
        self.assertEqual(timing_of(timing)["boot"], 0, timing)
        self.assertGreater(timing_of(timing)["restore"], 0, timing)

    def test_4_a_revision_retired_during_its_first_boot_leaves_no_snapshot(self):
        slow_init = "import time\ntime.sleep(6)\n" + COUNTER
        body = {"FunctionName": "retired", "Runtime": "python3.11", "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/e2e", "MemorySize": 1769, "Timeout": 60,
                "Code": {"ZipFile": make_zip({"app.py": (slow_init, 0o644)})}}
        self.assertEqual(self.d.request("POST", API, body)[0], 201)
        snapshots = os.path.join(self.state, "runtime", "snapshots", "retired")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(self.invoke, "retired", {})
            time.sleep(2)  # booting or in its 6 s init: its snapshot comes after
            status, _, payload = self.d.request("PUT", f"{API}/retired/configuration",
                                                {"Description": "a new revision"})
            self.assertEqual(status, 200, payload)
            self.assertEqual(first.result(timeout=300)[:2], (200, None))
        time.sleep(2)
        left = os.listdir(snapshots) if os.path.isdir(snapshots) else []
        self.assertEqual(left, [], "a snapshot of the retired revision survived")
        status, _, body, timing = self.invoke("retired", {}, with_timing=True)
        self.assertEqual((status, body), (200, {"calls": 1}))  # the new revision boots afresh
        self.assertGreater(timing_of(timing)["boot"], 0, timing)

    def test_5_a_stopping_emberd_ends_invocations_still_running_after_its_drain(self):
        self.assertEqual(self.d.stop(), 0)
        type(self).d = Emberd(ARGS, self.state, extra_args=("--drain-timeout-s", "1"))
        self.create("lingering", timeout=300)
        self.assertEqual(self.invoke("lingering", {})[0], 200)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            long_call = pool.submit(self.invoke, "lingering", {"sleep": 240})
            time.sleep(3)  # the handler sleeps now
            started = time.time()
            self.d.proc.send_signal(signal.SIGTERM)
            status, _, body = long_call.result(timeout=120)
            answered = time.time() - started
            code = self.d.proc.wait(timeout=120)
            exited = time.time() - started
        print(f"SIGTERM with a 240 s invocation running and --drain-timeout-s 1: the caller got "
              f"{status} {body} after {answered:.1f} s; emberd exited {code} after {exited:.1f} s",
              file=sys.stderr)
        self.assertGreaterEqual(status, 500, body)
        self.assertIn("shutting down", json.dumps(body))
        self.assertEqual(code, 0, self.d.output())
        self.assertLess(exited, 60)
        self.d.log.close()
        type(self).d = Emberd(ARGS, self.state)
        self.assertEqual(self.invoke("lingering", {})[0], 200)

    def test_6_emberd_killed_with_vms_running_leaves_nothing_running(self):
        self.create("survivor")
        self.assertEqual(self.invoke("survivor", {})[0], 200)  # booted, snapshotted, warm
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two VMs busy at once
            busy = [pool.submit(self.invoke, "survivor", {"sleep": 20}) for _ in range(2)]
            wait_for("two VMMs besides the standby ones",
                     lambda: len(self.d.vmm_processes()) >= 3, timeout=120, every=0.5)
            before = self.d.vmm_processes()
            killed = self.d
            survivors = killed.kill(grace=1.0)
            concurrent.futures.wait(busy)
        print(f"{len(before)} VMM processes when emberd was killed; "
              + (f"none left {killed.vmms_gone_after:.2f} s later" if not survivors
                 else f"{len(survivors)} still ran {killed.vmms_gone_after:.2f} s later"),
              file=sys.stderr)
        self.assertEqual(survivors, [], "VMMs outlived their emberd by more than a second")
        left = self.leftovers()
        print(f"the killed emberd left {left}", file=sys.stderr)
        # Restarted without standby VMMs, it makes nothing until asked: what is there at
        # first is what it did not sweep.
        type(self).d = Emberd(ARGS, self.state, extra_args=("--standby-vmms", "0"))
        self.assertEqual(self.leftovers(), {"sockets": [], "jails": [], "empty cgroups": []},
                         self.d.output())
        if any(left.values()):
            self.assertIn("removed what an earlier emberd", self.d.output())
        self.assertEqual(self.invoke("survivor", {})[0], 200)

    def test_7_a_full_state_file_system_refuses_new_code_and_keeps_serving(self):
        self.assertEqual(self.d.stop(), 0)  # its VMs' memory is this test's
        mount = tempfile.mkdtemp(prefix="ember-full-", dir=os.environ.get("EMBER_E2E_TMP"))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700m", "tmpfs", mount], check=True)
        full = None
        try:
            full = Emberd(ARGS, mount)
            small = {"Runtime": "python3.11", "Handler": "app.handler", "MemorySize": 256,
                     "Role": "arn:aws:iam::000000000000:role/e2e", "Timeout": 60}

            def create(name, source):
                return full.request("POST", API, dict(small, FunctionName=name, Code={
                    "ZipFile": make_zip({"app.py": (source, 0o644)})}))

            def invoke(name):
                status, headers, payload = full.request("POST", f"{API}/{name}/invocations", b"{}")
                return status, headers.get("x-amz-function-error"), json.loads(payload)

            self.assertEqual(create("kept", COUNTER)[0], 201)
            self.assertEqual(invoke("kept"), (200, None, {"calls": 1}))  # booted, snapshotted
            _, _, before = full.request("GET", f"{API}/kept")
            with open(os.path.join(mount, "filler"), "wb") as filler:
                try:
                    while True:
                        filler.write(b"\0" * (1 << 20))
                        filler.flush()
                except OSError:
                    pass
            status, _, payload = create("refused", COUNTER.replace("calls = 0", "calls = 10"))
            message = json.loads(payload).get("message", "")
            print(f"CreateFunction on a full state file system: {status} {message}", file=sys.stderr)
            self.assertEqual(status, 500, payload)
            self.assertIn(f"file system mounted at {mount}", message)
            self.assertIn("is full", message)
            status, _, payload = full.request("PUT", f"{API}/kept/code", {
                "ZipFile": make_zip({"app.py": (COUNTER + "# v2\n", 0o644)})})
            self.assertEqual(status, 500, payload)
            self.assertIn(f"file system mounted at {mount}", json.loads(payload).get("message", ""))
            _, _, after = full.request("GET", f"{API}/kept")
            self.assertEqual(json.loads(after)["Configuration"]["CodeSha256"],
                             json.loads(before)["Configuration"]["CodeSha256"])
            self.assertEqual(full.request("GET", f"{API}/refused")[0], 404)
            self.assertEqual(invoke("kept"), (200, None, {"calls": 2}))  # warm
            os.remove(os.path.join(mount, "filler"))
            self.assertEqual(create("refused", COUNTER)[0], 201)  # room again: it works
        finally:
            if full is not None:
                full.stop()
            subprocess.run(["umount", mount], check=False)
            os.rmdir(mount)
            type(self).d = Emberd(ARGS, self.state)

    def leftovers(self):
        """The socket files, jail directories and empty VM cgroups there are now."""
        run = os.path.join(self.state, "runtime", "run")
        jails = os.path.join(self.state, "jail")
        return {"sockets": sorted(os.listdir(run)) if os.path.isdir(run) else [],
                "jails": sorted(os.listdir(jails)) if os.path.isdir(jails) else [],
                "empty cgroups": sorted(name for name, pids in vm_cgroups() if not pids)}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
