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

    def create(self, name):
        body = {"FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/e2e", "MemorySize": 1769, "Timeout": 60,
                "Code": {"ZipFile": make_zip({"app.py": (COUNTER, 0o644)})}}
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)

    def invoke(self, name, event):
        """(status, function error header, decoded body) of one synchronous invoke."""
        status, headers, payload = self.d.request(
            "POST", f"{API}/{name}/invocations", json.dumps(event).encode())
        return status, headers.get("x-amz-function-error"), json.loads(payload) if payload else None

    def test_1_a_vmm_killed_during_an_invocation_costs_that_invocation_only(self):
        self.create("victim")
        self.assertEqual(self.invoke("victim", {}), (200, None, {"calls": 1}))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(self.invoke, "victim", {"sleep": 30})
            time.sleep(3)  # the handler is sleeping now
            vmms = [pid for pid, command in self.d.vmm_processes() if "ember-vmm" in command]
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

    def test_2_emberd_killed_with_vms_running_leaves_nothing_running(self):
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
