"""Helpers shared by emberd's end-to-end test and benchmark: a running emberd, zips."""
import base64
import configparser
import http.client
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import zipfile

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

API = "/2015-03-31/functions"
REGION = "us-east-1"


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


def write_credentials(path):
    """An AWS CLI credentials file at path with one random key, made once (mode 0600) and kept
    for later emberds on the same state; returns (access key id, secret access key)."""
    if not os.path.exists(path):
        key_id = "AKIA" + secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(30)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    parser = configparser.ConfigParser()
    parser.read(path)
    return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def sign(key_id, secret, method, url, body=b"", headers=None, service="lambda", region=REGION):
    """headers plus Host, X-Amz-Date and a SigV4 Authorization for the request (botocore's)."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers or {}))
    SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    return dict(request.headers.items())


class Emberd:
    """emberd on state_dir with a TCP listener on a free port; args holds the binaries' paths.

    The listener takes requests signed with the random key of state_dir/credentials
    (access_key_id, secret_access_key; request() and client() sign with it).
    listen_host "0.0.0.0" serves on every address (tests that guests cannot reach it)."""

    def __init__(self, args, state_dir, max_vm_memory_mib=65536, extra_args=(), listen_host="127.0.0.1"):
        self.state_dir = state_dir
        self.port = free_port()
        self.credentials = os.path.join(state_dir, "credentials")
        self.access_key_id, self.secret_access_key = write_credentials(self.credentials)
        self.log = open(os.path.join(state_dir, "emberd.log"), "ab")  # closed in stop()
        self.proc = subprocess.Popen(
            [args.emberd, "--state-dir", state_dir, "--socket", os.path.join(state_dir, "ember.sock"),
             "--listen", f"{listen_host}:{self.port}", "--credentials", self.credentials,
             "--vmm", args.vmm, "--kernel", args.kernel,
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

    def signed(self, method, path, body=b"", headers=None, service="lambda"):
        """headers, signed for a request to path (with its query) on this emberd."""
        return sign(self.access_key_id, self.secret_access_key, method,
                    f"http://127.0.0.1:{self.port}{path}", body, headers, service)

    def client(self, service="lambda", **kwargs):
        """A boto3 client of this emberd with its key (boto3 is imported here, when needed)."""
        import boto3
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.port}",
                            region_name=REGION, aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key, **kwargs)

    def request(self, method, path, body=None, headers=None, timeout=300):
        """One SigV4-signed request; (status, lower-case headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=self.signed(method, path, data, headers))
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload

    def vmm_processes(self):
        """Live (not zombie) processes whose command line names state_dir: its VMMs and jailers."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().decode(errors="replace").split("\0")
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if state != "Z" and int(pid) != self.proc.pid and any(
                    a.startswith(self.state_dir + "/") for a in args[1:]):
                found.append((int(pid), " ".join(args)[:200]))
        return found

    def kill(self, grace=1.0):
        """SIGKILL, as a crash would. Its VMMs stop by themselves (their lifeline hangs up):
        returns those still running `grace` seconds later (killed then) and sets
        vmms_gone_after, the seconds from the SIGKILL to the end of the first scan of /proc
        that found none (an upper bound)."""
        killed_at = time.time()
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        while True:
            survivors = self.vmm_processes()
            self.vmms_gone_after = time.time() - killed_at
            if not survivors or self.vmms_gone_after > grace:
                break
            time.sleep(0.02)
        subprocess.run(["pkill", "-KILL", "-f", "--", self.state_dir], check=False)
        return survivors

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.log.close()
