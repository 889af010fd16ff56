#!/usr/bin/env python3
"""The jail under emberd (run where KVM works, as root): every kind of ember-vmm emberd runs
(booted, restored by a fresh `--restore` process, restored on a standby, and a standby still
waiting) is checked from the outside through /proc: a non-zero uid and gid of its own, no
supplementary groups, no capabilities, no_new_privs, seccomp on every thread, its own mount,
PID, network, IPC and UTS namespaces, its root the jail directory holding nothing of the
host's, and its rlimits. Then the functions still answer, and the jail directories go with
their VMs.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import unittest

from emberd_process import API, Emberd, add_binary_flags, make_zip, wait_for

ARGS = None
NAMESPACES = ("mnt", "pid", "net", "ipc", "uts")
HANDLER = {"app.py": ("def handler(event, context):\n    return {'echo': event}\n", 0o644)}


def status_of(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def vmm_processes(emberd_pid):
    """{pid: argv} of emberd's ember-vmm children."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if status_of(f"/proc/{entry}/status").get("PPid") != str(emberd_pid):
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode().split("\0")[:-1]
        except OSError:
            continue
        if argv and argv[0].endswith("ember-vmm"):
            found[int(entry)] = argv
    return found


def kind(argv):
    if "--kernel" in argv:
        return "booted"
    if "--restore" in argv:
        return "restored"
    return "standby"


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def restored_standby(argv):
    """Whether a standby VMM has restored a VM: its vsock socket is in its run directory."""
    run = os.path.dirname(argv[argv.index("--api-sock") + 1])
    try:
        return any(name.endswith(".vsock") for name in os.listdir(run))
    except OSError:
        return False


class JailTest(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="ember-jail-", dir=os.environ.get("EMBER_E2E_TMP"))
        with open(os.path.join(self.state, "host-secret"), "w") as f:
            f.write("not for guests\n")
        self.d = None

    def tearDown(self):
        if self.d is not None:
            code = self.d.stop()
            if code != 0:
                print(self.d.output(), file=sys.stderr)
            self.assertEqual(code, 0)
            # Every VM is gone: so are their jail directories (no mounts were left behind).
            jail_dir = os.path.join(self.state, "jail")
            self.assertEqual(os.listdir(jail_dir), [], "jail directories left behind")
        if not os.environ.get("EMBER_E2E_TMP"):
            shutil.rmtree(self.state, ignore_errors=True)

    def start(self, standby_vmms, *extra):
        self.d = Emberd(ARGS, self.state, extra_args=("--jail", "on", "--jail-uids", "930000-930099",
                                                      "--standby-vmms", str(standby_vmms)) + extra)

    def deploy_and_invoke(self, name):
        body = {"FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/e2e", "MemorySize": 1769,
                "Code": {"ZipFile": make_zip(HANDLER)}}
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)
        status, headers, payload = self.d.request("POST", f"{API}/{name}/invocations",
                                                  json.dumps({"n": 1}).encode())
        self.assertEqual(status, 200, payload + self.d.output().encode())
        self.assertEqual(json.loads(payload), {"echo": {"n": 1}})
        return headers

    def check_jailed(self, pid, argv):
        what = f"{kind(argv)} VMM {pid} ({' '.join(argv)})"
        emberd = self.d.proc.pid
        status = status_of(f"/proc/{pid}/status")
        uids, gids = status["Uid"].split(), status["Gid"].split()
        self.assertEqual(len(uids), 4, what)
        for value in uids + gids:
            self.assertNotEqual(value, "0", f"{what}: Uid {uids} Gid {gids}")
        self.assertEqual(len(set(uids)), 1, what)
        self.assertEqual(uids, gids, what)
        self.assertTrue(930000 <= int(uids[0]) <= 930099, f"{what}: uid {uids[0]} outside --jail-uids")
        self.assertEqual(status["Groups"], "", what)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[cap], 16), 0, f"{what}: {cap} {status[cap]}")
        self.assertEqual(status["NoNewPrivs"], "1", what)
        for tid in os.listdir(f"/proc/{pid}/task"):
            thread = status_of(f"/proc/{pid}/task/{tid}/status")
            self.assertEqual(thread["Seccomp"], "2", f"{what}: thread {tid} {thread.get('Name')}")
            self.assertNotEqual(thread["Uid"].split()[0], "0", f"{what}: thread {tid}")
        for ns in NAMESPACES:
            self.assertNotEqual(os.readlink(f"/proc/{pid}/ns/{ns}"),
                                os.readlink(f"/proc/{emberd}/ns/{ns}"), f"{what}: {ns} namespace")
        # Its root is its jail directory: <state>/jail/N/root, N from its socket's path.
        sock = argv[argv.index("--api-sock") + 1]
        jail = os.path.dirname(os.path.dirname(sock))
        self.assertEqual(os.path.dirname(jail), os.path.join(self.state, "jail"), what)
        root, jail_root = os.stat(f"/proc/{pid}/root/"), os.stat(os.path.join(jail, "root"))
        self.assertEqual((root.st_dev, root.st_ino), (jail_root.st_dev, jail_root.st_ino), what)
        # Nothing of the host beyond what it needs: not emberd's state, keys, or /etc.
        for host_path in (os.path.join(self.state, "host-secret"),
                          os.path.join(self.state, "credentials"),
                          os.path.join(self.state, "functions.db"), "/etc/passwd", "/usr/bin",
                          ARGS.emberd):
            self.assertFalse(os.path.exists(f"/proc/{pid}/root{host_path}"),
                             f"{what} sees {host_path}")
        self.assertEqual(sorted(os.listdir(f"/proc/{pid}/root/dev")), ["kvm"], what)
        self.assertTrue(os.path.exists(f"/proc/{pid}/root{os.path.realpath(ARGS.vmm)}"), what)
        with open(f"/proc/{pid}/limits") as f:
            limits = {line[:26].strip(): line[26:].split() for line in f.readlines()[1:]}
        self.assertEqual(limits["Max core file size"][0], "0", what)
        self.assertNotEqual(limits["Max file size"][0], "unlimited", what)
        self.assertNotEqual(limits["Max processes"][0], "unlimited", what)
        nofile = int(limits["Max open files"][0])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.assertLess(fds, nofile, what)
        # Its own cgroup with limits, from its start: a standby the VMM's overhead and one CPU
        # until its restore, the others their guest's memory plus that overhead.
        memory_max, cpu_max = self.cgroup_limits(pid, what)
        overhead = 64 << 20
        if kind(argv) == "standby" and not restored_standby(argv):
            # (or, caught in the middle of its restore, already the guest's)
            self.assertIn(memory_max, (overhead, (1769 << 20) + overhead), what)
        elif kind(argv) == "booted":  # room for the snapshot it writes, too
            self.assertEqual(memory_max, 2 * (1769 << 20) + overhead, what)
        else:
            self.assertEqual(memory_max, (1769 << 20) + overhead, what)
        print(f"  {what.split(' (')[0]}: uid {uids[0]}, {threads(pid)} threads, {fds} fds open "
              f"(NOFILE {nofile}), FSIZE {limits['Max file size'][0]}, NPROC "
              f"{limits['Max processes'][0]}, memory.max {memory_max >> 20} MiB, cpu.max {cpu_max}",
              file=sys.stderr)
        return int(uids[0])

    def cgroup_limits(self, pid, what):
        """memory.max (bytes) and cpu.max of pid's cgroup, which must be an ember/vm-* one."""
        with open(f"/proc/{pid}/cgroup") as f:
            path = f.read().strip().partition("::")[2]
        self.assertTrue(path.startswith("/ember/vm-"), f"{what}: in cgroup {path!r}")
        with open(f"/sys/fs/cgroup{path}/memory.max") as f:
            memory_max = int(f.read())
        with open(f"/sys/fs/cgroup{path}/cpu.max") as f:
            cpu_max = f.read().strip()
        return memory_max, cpu_max

    def check_all(self, want):
        """Waits until emberd's VMMs include each kind in want (booted and restored ones
        running their guest: more than one thread), checks every such VMM and every standby
        one; their uids are distinct."""
        def ready():
            kinds, started = {}, {}
            for pid, argv in vmm_processes(self.d.proc.pid).items():
                k = kind(argv)
                if k == "standby" and restored_standby(argv):
                    k = "standby-restored"
                # Still starting (its start-up filter comes first): a booted or restored VMM
                # until its vCPU thread runs, a standby one until it listens.
                try:
                    if k in ("booted", "restored"):
                        starting = threads(pid) < 2
                    else:
                        starting = not os.path.exists(argv[argv.index("--api-sock") + 1])
                except OSError:
                    continue  # gone
                if starting:
                    continue
                kinds.setdefault(k, []).append(pid)
                started[pid] = argv
            return started if all(k in kinds for k in want) else None
        found = wait_for(f"VMMs of kinds {want}", ready, timeout=600)
        uids = [self.check_jailed(pid, argv) for pid, argv in sorted(found.items())]
        self.assertEqual(len(uids), len(set(uids)), f"two live VMMs share a uid: {uids}")

    def test_booted_standby_and_standby_restored(self):
        self.start(standby_vmms=1)
        self.assertIn("start=cold", self.deploy_and_invoke("jailed")["x-ember-timing"])
        # The booted VM (warm), a clone restored on a standby for the pool, a standby waiting.
        self.check_all({"booted", "standby-restored", "standby"})
        # Two at once: one warm (booted), one the jailed restored clone; both answer.
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(self.d.request, "POST", f"{API}/jailed/invocations",
                                 json.dumps({"n": i}).encode()) for i in range(2)]
            for call in calls:
                status, headers, payload = call.result()
                self.assertEqual(status, 200, payload)

    def test_booted_and_restored_by_a_fresh_vmm(self):
        self.start(standby_vmms=0)
        self.deploy_and_invoke("fresh")
        self.check_all({"booted", "restored"})
        # emberd's kill of a jailed VMM (PID 1 of its namespace) still works: SIGKILL on delete.
        status, _, _ = self.d.request("DELETE", f"{API}/fresh")
        self.assertEqual(status, 204)
        wait_for("the function's VMMs to go", lambda: not vmm_processes(self.d.proc.pid), timeout=60)

    def test_a_vmm_killed_by_seccomp_fails_its_call_only(self):
        # emberd's test hook: VMMs booted for "doomed" make a forbidden call on a vCPU thread.
        self.start(0, "--test-forbidden-syscall-in", "doomed")
        body = {"FunctionName": "doomed", "Runtime": "python3.11", "Handler": "app.handler",
                "Role": "arn:aws:iam::000000000000:role/e2e", "MemorySize": 1769,
                "Code": {"ZipFile": make_zip(HANDLER)}}
        status, _, payload = self.d.request("POST", API, body)
        self.assertEqual(status, 201, payload)
        status, headers, payload = self.d.request("POST", f"{API}/doomed/invocations", b"{}")
        self.assertEqual(status, 500, payload)
        error = json.loads(payload)
        self.assertEqual(headers.get("x-amzn-errortype"), "ServiceException", headers)
        self.assertIn("SIGSYS", error["message"], error)
        self.assertIn("seccomp", error["message"], error)
        # The rest of emberd is untouched: another function boots, runs and answers.
        self.assertIsNone(self.d.proc.poll())
        self.deploy_and_invoke("healthy")
        self.assertFalse([argv for argv in vmm_processes(self.d.proc.pid).values()
                          if "--test-forbidden-syscall-on-vcpu" in argv])


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    if os.geteuid() != 0:
        print("skipped: the jail needs root", file=sys.stderr)
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
