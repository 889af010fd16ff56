"""Helpers shared by emberd's end-to-end test and benchmark: a running emberd, zips."""
import base64
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import time
import zipfile

API = "/2015-03-31/functions"


def add_binary_flags(parser):
    """--emberd, --vmm, --kernel, --rootfs, --initramfs: what Emberd() runs."""
    for flag in ("emberd", "vmm", "kernel", "rootfs", "initramfs"):
        parser.add_argument("--" + flag, required=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=240, every=1.0):
    """check() until it returns something true; its last value, or a failure after timeout."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            if not value:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            return value
        time.sleep(every)


def make_zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, text)
    return base64.b64encode(buf.getvalue()).decode()


class Emberd:
    """emberd on state_dir with a TCP listener on a free port; args holds the binaries' paths.

    listen_host "0.0.0.0" serves on every address (tests that guests cannot reach it)."""

    def __init__(self, args, state_dir, max_vm_memory_mib=65536, extra_args=(), listen_host="127.0.0.1"):
        self.state_dir = state_dir
        self.port = free_port()
        self.log = open(os.path.join(state_dir, "emberd.log"), "ab")  # closed in stop()
        self.proc = subprocess.Popen(
            [args.emberd, "--state-dir", state_dir, "--socket", os.path.join(state_dir, "ember.sock"),
             "--listen", f"{listen_host}:{self.port}", "--vmm", args.vmm, "--kernel", args.kernel,
             "--rootfs", args.rootfs, "--initramfs", args.initramfs, "--max-vm-memory-mib", str(max_vm_memory_mib),
             *extra_args],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("emberd did not start: " + self.output())

    def output(self):
        with open(os.path.join(self.state_dir, "emberd.log"), "rb") as f:
            return f.read().decode(errors="replace")[-6000:]

    def request(self, method, path, body=None, headers=None, timeout=300):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload

    def kill(self):
        """SIGKILL, as a crash would; then ends the VMMs it leaves behind (they name state_dir)."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        subprocess.run(["pkill", "-KILL", "-f", "--", self.state_dir], check=False)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.log.close()
