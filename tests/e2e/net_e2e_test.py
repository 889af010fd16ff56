#!/usr/bin/env python3
"""Functions reach the network, end to end: real microVMs behind emberd (run as root where KVM
works, e.g. inside the KVM test host).

"The outside" is a network namespace of the test's own (198.51.100.10) with an HTTP server and
a DNS server; emberd gives every VM a namespace, a tap and NAT, under each function's egress
policy. Checked: a handler's GET and name lookup, the none and allowlist policies, that guests
reach neither emberd, the host's own addresses, link-local addresses nor another VM, four
restored clones fetching at once, and that namespaces and links go with their VMs and emberd.
"""
import argparse
import base64
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from emberd_process import API, Emberd, add_binary_flags, make_zip, wait_for
from outside_network import OutsideNetwork

ARGS = None
ROLE = "arn:aws:iam::000000000000:role/e2e"
HERE = os.path.dirname(os.path.abspath(__file__))
OUTSIDE = "198.51.100.10"
HELLO = f"http://{OUTSIDE}:8080/hello"
# A refusal by the host's rules arrives as a reset or an ICMP error: well under this.
FAST_MS = 3000


def guest_code():
    """The function's code: tests/e2e/net_guest.py as the handler module, plus a counter."""
    with open(os.path.join(HERE, "net_guest.py")) as f:
        workload = f.read()
    wrapper = (
        "import time\n"
        "import net_guest\n"
        "served = 0\n"
        "def handler(event, context):\n"
        "    global served\n"
        "    served += 1\n"
        "    result = net_guest.handler(event, context)\n"
        "    time.sleep(event.get('then_sleep_s', 0))\n"
        "    return {'result': result, 'served_here': served}\n")
    return make_zip({"net_guest.py": (workload, 0o644), "app.py": (wrapper, 0o644)})


def host_addresses():
    """This host's own IPv4 addresses outside loopback (emberd listens on all of them)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                         check=True).stdout
    found = []
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            found.append(address)
    return found


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.startswith("ember-vm-"))


def ember_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
            if line.split(":")[1].strip().startswith("emb")]


class NetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ember-net-e2e-")
        cls.outside = OutsideNetwork(dns_names={"outside.test": OUTSIDE})
        cls.outside.__enter__()
        cls.emberd = Emberd(ARGS, cls.dir, listen_host="0.0.0.0",
                            extra_args=("--dns", OUTSIDE, "--standby-vmms", "2"))
        cls.code = guest_code()

    @classmethod
    def tearDownClass(cls):
        if cls.emberd.proc.poll() is None:
            cls.emberd.stop()
        cls.outside.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def create(self, name, egress=None):
        body = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                "Timeout": 60, "Code": {"ZipFile": self.code}}
        if egress is not None:
            body["Egress"] = egress
        status, _, payload = self.emberd.request("POST", API, body)
        self.assertEqual(status, 201, payload)
        return json.loads(payload)

    def invoke(self, name, event):
        status, headers, payload = self.emberd.request(
            "POST", f"{API}/{name}/invocations", json.dumps(event).encode(),
            {"X-Amz-Log-Type": "Tail"})
        self.assertEqual(status, 200, payload)
        self.assertNotIn("x-amz-function-error", headers,
                         payload.decode() + base64.b64decode(headers.get("x-amz-log-result", "")).decode())
        return json.loads(payload)

    def connect(self, name, host, port):
        return self.invoke(name, {"op": "connect", "host": host, "port": port, "timeout": 10})["result"]

    def assert_refused_fast(self, name, host, port):
        outcome = self.connect(name, host, port)
        self.assertFalse(outcome["ok"], f"{name} reached {host}:{port}")
        self.assertLess(outcome["ms"], FAST_MS, f"{host}:{port}: refused only after {outcome['ms']} ms")

    def test_1_get_and_resolve(self):
        config = self.create("web")
        self.assertNotIn("Egress", config)  # follows --egress-default (internet)
        got = self.invoke("web", {"op": "get", "url": HELLO})["result"]
        self.assertEqual(got, "hello from outside")
        self.assertEqual(self.invoke("web", {"op": "resolve", "name": "outside.test"})["result"], OUTSIDE)
        by_name = self.invoke("web", {"op": "get", "url": "http://outside.test:8080/hello"})["result"]
        self.assertEqual(by_name, "hello from outside")

    def test_2_none_fails_fast(self):
        config = self.create("sealed", "none")
        self.assertEqual(config["Egress"], "none")
        self.assert_refused_fast("sealed", OUTSIDE, 8080)
        resolved = self.invoke("sealed", {"op": "resolve", "name": "outside.test"})["result"]
        self.assertNotEqual(resolved, OUTSIDE)

    def test_3_allowlist_admits_one_port(self):
        config = self.create("listed", f"{OUTSIDE}/32:8080")
        self.assertEqual(config["Egress"], f"{OUTSIDE}/32:8080")
        self.assertEqual(self.invoke("listed", {"op": "get", "url": HELLO})["result"], "hello from outside")
        self.assertTrue(self.connect("listed", OUTSIDE, 8080)["ok"])
        self.assert_refused_fast("listed", OUTSIDE, 8081)
        # Changing the policy makes a new revision: its VMs get the new rules.
        status, _, payload = self.emberd.request(
            "PUT", f"{API}/listed/configuration", {"Egress": f"{OUTSIDE}/32:8081"})
        self.assertEqual(status, 200, payload)
        self.assertTrue(self.connect("listed", OUTSIDE, 8081)["ok"])
        self.assert_refused_fast("listed", OUTSIDE, 8080)

    def test_4_host_and_metadata_unreachable(self):
        self.create("prober")
        targets = [(address, self.emberd.port) for address in host_addresses()]
        targets += [("172.16.0.1", self.emberd.port), ("127.0.0.1", self.emberd.port),
                    ("169.254.169.254", 80)]
        for host, port in targets:
            with self.subTest(target=f"{host}:{port}"):
                self.assertFalse(self.connect("prober", host, port)["ok"], f"the guest reached {host}:{port}")
        self.assertTrue(self.connect("prober", OUTSIDE, 8080)["ok"])  # the network itself works

    def test_5_other_vms_unreachable(self):
        self.create("neighbour")
        self.invoke("neighbour", {"op": "get", "url": HELLO})
        # A server in every VM namespace on its host-facing address: no guest reaches any of
        # them (its own namespace's included).
        names = netns_names()
        self.assertGreaterEqual(len(names), 2, names)
        servers, addresses = [], []
        try:
            for name in names:
                out = subprocess.run(["ip", "-n", name, "-4", "-o", "addr", "show", "dev", "veth0"],
                                     capture_output=True, text=True, check=True).stdout
                address = out.split()[3].split("/")[0]
                addresses.append(address)
                servers.append(subprocess.Popen(
                    ["ip", "netns", "exec", name, sys.executable, "-c",
                     "import socket,time\ns=socket.socket()\n"
                     "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                     f"s.bind(('{address}',9999));s.listen();time.sleep(600)"]))
            for name, address in zip(names, addresses):  # listening (seen from inside)
                wait_for(f"the server on {address}", lambda: subprocess.run(
                    ["ip", "netns", "exec", name, sys.executable, "-c",
                     f"import socket;socket.create_connection(('{address}',9999),2)"]
                ).returncode == 0, timeout=30)
            for address in addresses:
                with self.subTest(address=address):
                    self.assertFalse(self.connect("neighbour", address, 9999)["ok"],
                                     f"a guest reached the VM namespace at {address}:9999")
        finally:
            for server in servers:
                server.kill()
                server.wait()

    def test_6_four_clones_fetch_at_once(self):
        self.create("clones")
        self.assertEqual(self.invoke("clones", {"op": "get", "url": HELLO})["result"], "hello from outside")
        event = {"op": "get", "url": HELLO, "then_sleep_s": 3}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: self.invoke("clones", event), range(4)))
        self.assertEqual([r["result"] for r in results], ["hello from outside"] * 4)
        # At most one ran in the warm VM of the first call; the others were restored clones
        # whose first request this was.
        first_in_clone = [r for r in results if r["served_here"] == 1]
        self.assertGreaterEqual(len(first_in_clone), 3, results)

    def test_7_namespaces_go_with_vms_and_emberd(self):
        self.create("brief")
        self.invoke("brief", {"op": "get", "url": HELLO})
        before = netns_names()
        status, _, _ = self.emberd.request("DELETE", f"{API}/brief")
        self.assertEqual(status, 204)
        wait_for("the deleted function's namespace to go", lambda: len(netns_names()) < len(before), timeout=60)
        # A crash leaves namespaces behind; the next start removes them.
        self.emberd.kill()
        self.assertTrue(netns_names(), "expected the killed emberd's namespaces to remain")
        type(self).emberd = Emberd(ARGS, self.dir, listen_host="0.0.0.0",
                                   extra_args=("--dns", OUTSIDE, "--standby-vmms", "0"))
        self.assertEqual(netns_names(), [])
        self.assertEqual(self.invoke("web", {"op": "get", "url": HELLO})["result"], "hello from outside")
        self.assertTrue(netns_names())
        self.assertEqual(self.emberd.stop(), 0)
        self.assertEqual(netns_names(), [])
        self.assertEqual(ember_links(), [])
        table = subprocess.run(["nft", "list", "table", "inet", "ember"], capture_output=True)
        self.assertNotEqual(table.returncode, 0, "emberd left its nftables table behind")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
