#!/usr/bin/env python3
"""emberd end to end: real microVMs behind Lambda's REST API (run where KVM works).

Starts emberd on a fresh state directory with a TCP listener, deploys Python, Node.js and
provided functions and checks what a Lambda user relies on: results and errors, cold then
warm starts, logs, the timeout, /tmp's size, out-of-memory, concurrency, the handler's
unprivileged user (booted and restored) and a restart;
then, on a second emberd with room for one VM, the memory cap.
Each class runs on an emberd of its own; CMake registers each as a VM test of its own
(vm.emberd.runtimes and so on), given the class name as an argument.
"""
import argparse
import base64
import concurrent.futures
import glob
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from emberd_process import API, Emberd, add_binary_flags, make_zip

ARGS = None


def timing(headers):
    """X-Ember-Timing as a dict of floats (ms; pool 0 or 1) plus 'start'."""
    out = {}
    for item in headers["x-ember-timing"].split(";"):
        key, _, value = item.partition("=")
        out[key] = value if key == "start" else float(value)
    return out


class EmberdCase(unittest.TestCase):
    """A fresh emberd for each class of tests, with a TCP listener and room for many VMs."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="ember-e2e-", dir=os.environ.get("EMBER_E2E_TMP"))
        cls.d = Emberd(ARGS, cls.state)

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        if code != 0:
            print(cls.d.output(), file=sys.stderr)
        if not os.environ.get("EMBER_E2E_TMP"):  # kept for a look when set
            shutil.rmtree(cls.state, ignore_errors=True)

    def create(self, name, runtime, handler, files, **config):
        body = {"FunctionName": name, "Runtime": runtime, "Handler": handler,
                "Role": "arn:aws:iam::000000000000:role/e2e", "Code": {"ZipFile": make_zip(files)}}
        # One full vCPU (1769 MB) unless a test needs less: at Lambda's 128 MB a function gets
        # 7 % of a CPU, far too little inside an emulated test host.
        body["MemorySize"] = 1769
        body.update(config)
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)
        # Deleted after the test, so its VMs do not slow the next tests' in the emulated host.
        self.addCleanup(lambda: type(self).d.request("DELETE", f"{API}/{name}"))
        return json.loads(payload)

    def invoke(self, name, event, tail=False, timeout=300):
        headers = {"X-Amz-Log-Type": "Tail"} if tail else {}
        status, headers, payload = self.d.request("POST", f"{API}/{name}/invocations",
                                                  json.dumps(event).encode(), headers, timeout)
        self.assertEqual(status, 200, payload + self.d.output().encode())
        return headers, json.loads(payload) if payload else None



class RuntimesTest(EmberdCase):
    """Python, Node.js and provided functions: results, errors, logs, cold then warm."""

    def test_python_cold_then_warm_with_logs(self):
        self.create("py", "python3.11", "app.handler", {"app.py": (
            "import json, os\n"
            "print('init ran')\n"
            "def handler(event, context):\n"
            "    print('hello from the handler')\n"
            "    return {'sum': event['a'] + event['b'], 'fn': context.function_name,\n"
            "            'mem': context.memory_limit_in_mb, 'task': os.environ['LAMBDA_TASK_ROOT'],\n"
            "            'left': context.get_remaining_time_in_millis() > 0}\n", 0o644)})
        headers, result = self.invoke("py", {"a": 2, "b": 40}, tail=True)
        self.assertEqual(result, {"sum": 42, "fn": "py", "mem": "1769", "task": "/var/task",
                                  "left": True})
        self.assertIn("start=cold", headers["x-ember-timing"])
        log = base64.b64decode(headers["x-amz-log-result"]).decode()
        self.assertIn("START RequestId:", log)
        self.assertIn("hello from the handler", log)
        self.assertIn("REPORT RequestId:", log)
        self.assertIn("Init Duration:", log)
        headers, result = self.invoke("py", {"a": 1, "b": 1})
        self.assertEqual(result["sum"], 2)
        self.assertIn("start=warm", headers["x-ember-timing"])

    def test_python_handler_error(self):
        self.create("pyerr", "python3.11", "app.handler", {"app.py": (
            "def handler(event, context):\n    raise ValueError('bad input')\n", 0o644)})
        headers, result = self.invoke("pyerr", {})
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(result["errorType"], "ValueError")
        self.assertEqual(result["errorMessage"], "bad input")
        self.assertTrue(result["stackTrace"])

    def test_python_import_error(self):
        self.create("pyimp", "python3.11", "missing.handler", {"app.py": ("x = 1\n", 0o644)})
        headers, result = self.invoke("pyimp", {})
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(result["errorType"], "Runtime.ImportModuleError")

    def test_node_async_handler(self):
        self.create("node", "nodejs18.x", "index.handler", {"index.js": (
            "exports.handler = async (event, context) => ({ doubled: event.n * 2,"
            " name: context.functionName });\n", 0o644)})
        _, result = self.invoke("node", {"n": 21})
        self.assertEqual(result, {"doubled": 42, "name": "node"})

    def test_provided_bootstrap(self):
        bootstrap = (
            "#!/usr/bin/python3\n"
            "import http.client, json, os\n"
            "api = os.environ['AWS_LAMBDA_RUNTIME_API']\n"
            "while True:\n"
            "    c = http.client.HTTPConnection(api)\n"
            "    c.request('GET', '/2018-06-01/runtime/invocation/next')\n"
            "    r = c.getresponse(); event = json.loads(r.read())\n"
            "    rid = r.getheader('Lambda-Runtime-Aws-Request-Id')\n"
            "    body = json.dumps({'custom': event['word'].upper()})\n"
            "    c.request('POST', f'/2018-06-01/runtime/invocation/{rid}/response', body)\n"
            "    c.getresponse().read()\n")
        self.create("custom", "provided.al2", "ignored", {"bootstrap": (bootstrap, 0o755)})
        _, result = self.invoke("custom", {"word": "ember"})
        self.assertEqual(result, {"custom": "EMBER"})

    def test_bad_requests_get_4xx(self):
        status, headers, _ = self.d.request("POST", API, b"{not json")
        self.assertEqual(status // 100, 4)
        status, headers, _ = self.d.request("POST", f"{API}/nope/invocations", b"{}")
        self.assertEqual(status, 404)
        self.assertEqual(headers["x-amzn-errortype"], "ResourceNotFoundException")


class LimitsTest(EmberdCase):
    """The timeout, /tmp's size, out-of-memory and eight invocations at once."""

    def test_timeout(self):
        self.create("slow", "python3.11", "app.handler", {"app.py": (
            "import time\n"
            "def handler(event, context):\n"
            "    time.sleep(event.get('sleep', 0))\n    return 'done'\n", 0o644)}, Timeout=3)
        self.invoke("slow", {})  # cold start first, so the timed call measures the timeout
        start = time.monotonic()
        headers, result = self.invoke("slow", {"sleep": 10})
        elapsed = time.monotonic() - start
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled")
        self.assertEqual(result["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 3.00 seconds", result["errorMessage"])
        self.assertLess(elapsed, 5.0)
        # A fresh environment serves the next call: restored from the snapshot, whose first
        # run takes over a second in the emulated test host, hence the 3 s timeout.
        _, result = self.invoke("slow", {})
        self.assertEqual(result, "done")

    def test_tmp_is_bounded(self):
        self.create("tmpfill", "python3.11", "app.handler", {"app.py": (
            "import errno\n"
            "def handler(event, context):\n"
            "    n = 0\n"
            "    try:\n"
            "        with open('/tmp/fill', 'wb') as f:\n"
            "            while True:\n"
            "                f.write(b'x' * (1 << 20)); f.flush(); n += 1\n"
            "    except OSError as e:\n"
            "        return {'mib': n, 'errno': e.errno}\n", 0o644)},
            MemorySize=1769, EphemeralStorage={"Size": 512}, Timeout=300)
        _, result = self.invoke("tmpfill", {})
        self.assertEqual(result.get("errno"), 28, result)  # ENOSPC
        self.assertGreaterEqual(result["mib"], 500)
        self.assertLessEqual(result["mib"], 512)

    def test_out_of_memory_then_healthy(self):
        self.create("hog", "python3.11", "app.handler", {"app.py": (
            "def handler(event, context):\n"
            "    blocks = []\n"
            "    while True:\n        blocks.append(bytearray(16 << 20))\n", 0o644)},
            # Near the end the guest thrashes on its page cache before its OOM killer acts,
            # slowly at 7 % of an emulated CPU: room for that, not a measure of it.
            MemorySize=128, Timeout=300)
        headers, result = self.invoke("hog", {})
        self.assertEqual(headers.get("x-amz-function-error"), "Unhandled", result)
        self.assertIn(result["errorType"], ("Runtime.OutOfMemory", "Runtime.ExitError"))
        status, _, _ = self.d.request("GET", f"{API}/hog")
        self.assertEqual(status, 200)

    def test_eight_concurrent_invocations(self):
        self.create("par", "python3.11", "app.handler", {"app.py": (
            "import time\n"
            "def handler(event, context):\n    time.sleep(1)\n    return event['i']\n", 0o644)},
            # Seven restores at once on two emulated CPUs, each 512 MB VM capped at 0.29 of
            # one: room for that (one took over 60 s once), not a measure of it.
            MemorySize=512, Timeout=180)
        self.invoke("par", {"i": -1})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: self.invoke("par", {"i": i})[1], range(8)))
        self.assertEqual(results, list(range(8)))



class RestoreTest(EmberdCase):
    """Booted and restored VMs alike: the unprivileged handler, the pool's restores, clocks,
    randomness, and functions restored after emberd restarts."""

    def test_handler_runs_unprivileged_booted_and_restored(self):
        self.create("whoami", "python3.11", "app.handler", {"app.py": (
            "import os, pwd, stat, time\n"
            "def attempt(action):\n"
            "    try:\n"
            "        action()\n"
            "        return 0\n"
            "    except OSError as e:\n"
            "        return e.errno\n"
            "def write(path):\n"
            "    with open(path, 'x') as f:\n"
            "        f.write('x')\n"
            "def handler(event, context):\n"
            "    time.sleep(event.get('sleep', 0))\n"
            "    status = dict(line.split(':\\t', 1) for line in\n"
            "                  open('/proc/self/status').read().splitlines() if ':\\t' in line)\n"
            "    tmp = os.stat('/tmp')\n"
            "    return {'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(),\n"
            "            'egid': os.getegid(), 'groups': os.getgroups(),\n"
            "            'user': pwd.getpwuid(os.getuid()).pw_name, 'home': os.environ['HOME'],\n"
            "            'cap_eff': status['CapEff'].strip(),\n"
            "            'no_new_privs': status['NoNewPrivs'].strip(),\n"
            "            'task_write': attempt(lambda: write('/var/task/new-file')),\n"
            "            'tmp_write': attempt(lambda: write('/tmp/' + context.aws_request_id)),\n"
            "            'tmp_owner': tmp.st_uid, 'tmp_mode': stat.S_IMODE(tmp.st_mode),\n"
            "            'vda_open': attempt(lambda: os.close(os.open('/dev/vda', 0))),\n"
            "            'kmsg_read': attempt(lambda: os.close(os.open('/dev/kmsg', 0))),\n"
            "            'kill_agent': attempt(lambda: os.kill(1, 0))}\n", 0o644)}, Timeout=60)

        def check(result):
            self.assertIn("uid", result, result)  # else the handler failed: its error
            self.assertNotEqual(result["uid"], 0, result)
            self.assertEqual(result["euid"], result["uid"], result)
            self.assertNotEqual(result["gid"], 0, result)
            self.assertEqual(result["egid"], result["gid"], result)
            self.assertEqual(result["groups"], [], result)
            self.assertEqual(result["user"], "sbx_user1051", result)
            self.assertEqual(result["home"], "/tmp", result)
            self.assertEqual(result["cap_eff"], "0000000000000000", result)
            self.assertEqual(result["no_new_privs"], "1", result)
            self.assertIn(result["task_write"], (30, 13), result)  # EROFS or EACCES
            self.assertEqual(result["tmp_write"], 0, result)
            self.assertEqual(result["tmp_owner"], result["uid"], result)
            self.assertEqual(result["tmp_mode"], 0o700, result)
            self.assertIn(result["vda_open"], (13, 1), result)  # EACCES or EPERM
            self.assertIn(result["kmsg_read"], (13, 1), result)  # dmesg_restrict
            self.assertEqual(result["kill_agent"], 1, result)  # EPERM: PID 1 is root's

        headers, result = self.invoke("whoami", {})
        self.assertIn("start=cold", headers["x-ember-timing"])
        check(result)
        # Two at once: one takes the warm VM, the other a clone restored from the snapshot
        # taken with the runtime waiting in `next`.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            calls = list(pool.map(lambda _: self.invoke("whoami", {"sleep": 3}), range(2)))
        for headers, result in calls:
            check(result)
        timings = [headers["x-ember-timing"] for headers, _ in calls]
        self.assertTrue(any("start=cold" in t and "boot=0.00" in t for t in timings), timings)

    def test_a_ready_vm_reports_the_restore_it_went_through(self):
        self.create("ready", "python3.11", "app.handler", {"app.py": (
            "import time\n"
            "def handler(event, context):\n"
            "    time.sleep(event.get('sleep', 0))\n    return 'ok'\n", 0o644)},
            MemorySize=512, Timeout=60)
        self.invoke("ready", {})  # boot, init, snapshot; then a clone is restored ahead
        time.sleep(30)  # for the pool's background restore
        # Three at once: the warm VM, the clone the pool had ready, and one restored on demand.
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            calls = list(pool.map(lambda _: self.invoke("ready", {"sleep": 2}), range(3)))
        timings = [timing(headers) for headers, _ in calls]
        cold = [t for t in timings if t["start"] == "cold"]
        self.assertEqual(len(cold), 2, timings)
        self.assertTrue(all(t["boot"] == 0 for t in cold), timings)
        pooled = [t for t in cold if t["pool"] == 1]
        on_demand = [t for t in cold if t["pool"] == 0]
        self.assertEqual((len(pooled), len(on_demand)), (1, 1), timings)
        # The pooled VM's own restore (request to RefreshAck, before this call), not its
        # hand-off (that is in queue): of the order of a restore on demand, and longer than
        # the hand-off. A hand-off reported as a restore is a small fraction of one.
        t = pooled[0]
        self.assertGreater(t["restore"], 0.3 * on_demand[0]["restore"], timings)
        self.assertGreater(t["restore"], t["queue"], timings)

    def test_booted_and_restored_vms_keep_the_hosts_clock_and_draw_their_own_randoms(self):
        # Python's random, Node's Math.random and crypto's generators get their state during
        # init, so it is in the snapshot: unless the runtime reseeds after a restore, a
        # clone's first draw is the booted VM's first draw. The guest's clock must be the host's (a booted guest's
        # starts from the RTC's whole seconds), and the time left never above the timeout.
        functions = {
            "rand-py": ("python3.11", "app.handler", {"app.py": (
                "import random, time\n"
                "def handler(event, context):\n"
                "    time.sleep(event.get('sleep', 0))\n"
                "    return {'random': random.random(), 'now_ms': time.time() * 1000,\n"
                "            'remaining_ms': context.get_remaining_time_in_millis()}\n", 0o644)}),
            # crypto's functions taken during init, and UUIDs Node keeps ready from then.
            "rand-node": ("nodejs18.x", "index.handler", {"index.js": (
                "const { randomBytes, randomUUID, webcrypto } = require('crypto');\n"
                "randomUUID();\n"
                "exports.handler = async (event, context) => {\n"
                "  await new Promise((done) => setTimeout(done, (event.sleep || 0) * 1000));\n"
                "  return { random: Math.random(), now_ms: Date.now(),\n"
                "           bytes: randomBytes(8).toString('hex'), uuid: randomUUID(),\n"
                "           values: Array.from(webcrypto.getRandomValues(new Uint32Array(2))),\n"
                "           remaining_ms: context.getRemainingTimeInMillis() };\n"
                "};\n", 0o644)}),
        }
        timeout_s, slack_ms = 60, 50

        def timed_invoke(name, event):
            before = time.time() * 1000
            headers, result = self.invoke(name, event)
            after = time.time() * 1000
            self.assertIn("now_ms", result, result)
            # The handler's clock reading lies between the host's before and after.
            self.assertGreaterEqual(result["now_ms"], before - slack_ms, (name, before, result))
            self.assertLessEqual(result["now_ms"], after + slack_ms, (name, after, result))
            self.assertLessEqual(result["remaining_ms"], timeout_s * 1000, (name, result))
            self.assertGreater(result["remaining_ms"],
                               timeout_s * 1000 - (after - before) - slack_ms, (name, result))
            return headers, result

        for name, (runtime, handler, files) in functions.items():
            self.create(name, runtime, handler, files, MemorySize=512, Timeout=timeout_s)
            _, first = timed_invoke(name, {})  # booted: its first draw after the snapshot
            # Three at once: the warm VM and two clones (one the pool's, one on demand).
            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                calls = list(pool.map(lambda _: timed_invoke(name, {"sleep": 3}), range(3)))
            restored = [t for t in (timing(headers) for headers, _ in calls)
                        if t["start"] == "cold" and t["boot"] == 0]
            self.assertGreaterEqual(len(restored), 2, [h["x-ember-timing"] for h, _ in calls])
            for key in ("random", "bytes", "uuid", "values"):
                if key not in first:
                    continue
                values = [str(r[key]) for r in [first] + [result for _, result in calls]]
                self.assertEqual(len(set(values)), 4, f"{name}'s {key}: {values}")
            # A clone's first invocation recorded the snapshot's working set for later restores.
            recorded = glob.glob(f"{self.state}/runtime/snapshots/{name}/*/working_set")
            self.assertEqual(len(recorded), 1, self.d.output()[-2000:])
            with open(recorded[0]) as f:
                self.assertTrue(f.readline().startswith("ember-working-set 1 "))
                self.assertGreater(len(f.readlines()), 0)

    def test_zz_restart_keeps_functions(self):
        self.create("keep", "python3.11", "app.handler", {"app.py": (
            "def handler(event, context):\n    return 'kept'\n", 0o644)})
        self.assertEqual(self.invoke("keep", {})[1], "kept")
        self.assertEqual(self.d.stop(), 0)
        type(self).d = Emberd(ARGS, self.state)
        status, _, payload = self.d.request("GET", f"{API}/keep")
        self.assertEqual(status, 200, payload)
        headers, result = self.invoke("keep", {})
        self.assertEqual(result, "kept")
        self.assertIn("start=cold", headers["x-ember-timing"])
        self.assertIn("pool=0", headers["x-ember-timing"])  # restored on demand: no VM ready
        t = timing(headers)
        self.assertGreater(t["restore"], 0)
        # Starting a VMM for it, when no standby one was ready yet, is part of its restore.
        self.assertLess(t["queue"], t["restore"], t)

    def test_zz_small_functions_restored_after_a_restart_answer_in_time(self):
        # At 128 MB a function gets 7 % of a CPU; a clone's first invocation touches its
        # memory anew, and runs at full speed (the README's "CPU"), well inside Lambda's
        # default 3 s timeout even in the emulated test host.
        functions = {
            "small-py": ("python3.11", "app.handler", {"app.py": (
                "def handler(event, context):\n    return {'hello': event['who']}\n", 0o644)}),
            "small-node": ("nodejs18.x", "index.handler", {"index.js": (
                "exports.handler = async (event) => ({ hello: event.who });\n", 0o644)}),
        }
        for name, (runtime, handler, files) in functions.items():
            config = self.create(name, runtime, handler, files, MemorySize=128)
            self.assertEqual(config["Timeout"], 3)
            self.assertEqual(self.invoke(name, {"who": "boot"})[1], {"hello": "boot"})
        self.assertEqual(self.d.stop(), 0)
        type(self).d = Emberd(ARGS, self.state)
        for name in functions:
            headers, result = self.invoke(name, {"who": name}, tail=True)
            self.assertNotIn("x-amz-function-error", headers, result)
            self.assertEqual(result, {"hello": name})
            t = timing(headers)
            self.assertEqual((t["start"], t["boot"]), ("cold", 0), t)  # restored
            log = base64.b64decode(headers["x-amz-log-result"]).decode()
            duration = float(log.split("\tDuration: ")[1].split(" ms")[0])
            self.assertLess(duration, 3000, log)


class MemoryCapTest(unittest.TestCase):
    """emberd with room for one 1769 MB VM: booted, warm and restored VMs share the cap."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="ember-e2e-cap-", dir=os.environ.get("EMBER_E2E_TMP"))
        cls.d = Emberd(ARGS, cls.state, max_vm_memory_mib=2769)

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
                "Code": {"ZipFile": make_zip({"app.py": (
                    "import time\n"
                    "def handler(event, context):\n"
                    "    time.sleep(event.get('sleep', 0))\n"
                    f"    return '{name}'\n", 0o644)})}}
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)

    def invoke(self, name, event=None):
        status, headers, payload = self.d.request("POST", f"{API}/{name}/invocations",
                                                  json.dumps(event or {}).encode())
        return status, headers, json.loads(payload) if payload else None

    def invoke_ok(self, name, event=None):
        status, headers, result = self.invoke(name, event)
        self.assertEqual(status, 200, f"{result} {self.d.output()}")
        self.assertEqual(result, name)
        return headers["x-ember-timing"]

    def test_vms_take_turns_least_recently_used_first(self):
        self.create("cap-a")
        self.create("cap-b")
        self.assertIn("start=cold", self.invoke_ok("cap-a"))
        # cap-a's warm, booted VM holds the only room: it is evicted for cap-b's boot.
        self.assertIn("start=cold", self.invoke_ok("cap-b"))
        timing = self.invoke_ok("cap-a")
        self.assertIn("start=cold", timing)
        self.assertIn("boot=0.00", timing)  # restored from its snapshot, not booted
        self.assertIn("start=warm", self.invoke_ok("cap-a"))

        # While cap-a is busy there is no room, and nothing idle to evict: 429.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            busy = pool.submit(self.invoke, "cap-a", {"sleep": 8})
            time.sleep(2)
            status, headers, result = self.invoke("cap-b")
            self.assertEqual(status, 429, result)
            self.assertEqual(headers["x-amzn-errortype"], "TooManyRequestsException")
            self.assertEqual(busy.result()[0], 200)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
