#!/usr/bin/env python3
"""Network namespaces standing in for "the outside" and for a plain client, for tests and
benchmarks run as root (e.g. inside the KVM test host).

OutsideNetwork: netns ember-test-outside, 198.51.100.10/24 behind a veth pair whose host side
is 198.51.100.1/24 (TEST-NET-2: public as far as egress policies go), with, inside it:
  HTTP on ports 8080 and 8081   GET /hello -> "hello from outside"; GET /bytes?n=N -> N bytes;
                                POST /sink -> the body's length; GET /whoami -> the peer's
                                address (the host's, when NAT did its work)
  a TCP sink on port 5201       reads until the client's EOF, then replies "<bytes>\\n"
  DNS on port 53 (UDP and TCP)  A records of dns_names, NXDOMAIN for the rest
ClientNetwork: netns ember-test-client, 192.0.2.10/24 behind a veth pair whose host side is
192.0.2.1/24, routed (not NATed) by this host to the outside: the no-VM baseline's client.

Both are context managers; everything they make is removed on exit, even after errors, and
what a crashed run left behind is removed first. The host-side links are named tout0 and
tcli0: never emb*, which are emberd's. Run as a script this file is the servers' process
(`outside_network.py serve ...`, started inside the namespace by OutsideNetwork).
"""
import argparse
import http.server
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
HELLO = b"hello from outside"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _netns_exists(name):
    return os.path.exists(os.path.join("/run/netns", name))


def _remove_netns(name, host_link):
    """Ends what runs inside netns `name` (our own servers from a run that crashed), then
    removes it and the host side of its veth pair."""
    if _netns_exists(name):
        pids = _ip("netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for pid in pids:  # the namespace (and its veth end) lives while they do
            deadline = time.time() + 5
            while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
                time.sleep(0.05)
        _ip("netns", "del", name, check=False)
    if os.path.exists(f"/sys/class/net/{host_link}"):
        _ip("link", "del", host_link, check=False)


_FORWARDING = {"users": 0, "was": None}


def _forwarding(on):
    """IPv4 forwarding on for the first user; back to what it was when the last one leaves."""
    path = "/proc/sys/net/ipv4/ip_forward"
    if on:
        if _FORWARDING["users"] == 0:
            with open(path) as f:
                _FORWARDING["was"] = f.read().strip()
            with open(path, "w") as f:
                f.write("1")
        _FORWARDING["users"] += 1
        return
    _FORWARDING["users"] -= 1
    if _FORWARDING["users"] == 0 and _FORWARDING["was"] is not None:
        with open(path, "w") as f:
            f.write(_FORWARDING["was"])


class _VethNetns:
    """netns `name` joined to this host by a veth pair: host_link with host_cidr here,
    `eth0` with cidr inside, a default route back through this host; forwarding on."""

    name = host_link = host_cidr = cidr = None

    def __init__(self):
        self._forwarding_on = False

    @property
    def host_ip(self):
        return self.host_cidr.split("/")[0]

    @property
    def ip(self):
        return self.cidr.split("/")[0]

    def __enter__(self):
        if os.geteuid() != 0:
            raise PermissionError(f"{type(self).__name__} needs root (network namespaces, veth links)")
        _remove_netns(self.name, self.host_link)
        try:
            self._create()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc):
        self._remove()

    def _create(self):
        _ip("netns", "add", self.name)
        _ip("link", "add", "name", self.host_link, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        _ip("addr", "add", self.host_cidr, "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        _ip("-n", self.name, "addr", "add", self.cidr, "dev", "eth0")
        _ip("-n", self.name, "link", "set", "eth0", "up")
        _ip("-n", self.name, "route", "add", "default", "via", self.host_ip)
        _forwarding(True)
        self._forwarding_on = True

    def _remove(self):
        _remove_netns(self.name, self.host_link)
        if self._forwarding_on:
            _forwarding(False)
            self._forwarding_on = False

    def exec_args(self, *command):
        """argv running command inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, *command, **kwargs):
        """subprocess.run of command inside the namespace."""
        return subprocess.run(self.exec_args(*command), **kwargs)


class OutsideNetwork(_VethNetns):
    """The outside: ember-test-outside with its HTTP, TCP sink and DNS servers running."""

    name, host_link = "ember-test-outside", "tout0"
    host_cidr, cidr = "198.51.100.1/24", "198.51.100.10/24"
    HTTP_PORTS = (8080, 8081)
    SINK_PORT = 5201
    DNS_PORT = 53

    def __init__(self, dns_names=None, log_path=None):
        super().__init__()
        self.dns_names = dict(dns_names or {"outside.test": self.ip})
        self.log_path = log_path
        self.proc = None

    def url(self, path="/hello", port=8080):
        return f"http://{self.ip}:{port}{path}"

    def _create(self):
        super()._create()
        command = [sys.executable, "-u", os.path.join(HERE, "outside_network.py"), "serve",
                   "--address", self.ip, "--http", ",".join(map(str, self.HTTP_PORTS)),
                   "--sink", str(self.SINK_PORT), "--dns", str(self.DNS_PORT)]
        for name, address in self.dns_names.items():
            command += ["--name", f"{name}={address}"]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.exec_args(*command), stdout=subprocess.PIPE, stderr=log)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        # "ready" once every socket is bound; anything else (or nothing) is a failure.
        ready = {}
        reader = threading.Thread(target=lambda: ready.update(line=self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        if ready.get("line", b"").strip() != b"ready":
            raise RuntimeError("the outside network's servers did not start (port taken, or python3 "
                               f"failed in the namespace){'; see ' + self.log_path if self.log_path else ''}")
        # Reachable from this host through the veth pair, which is what every test relies on.
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection((self.ip, self.HTTP_PORTS[0]), timeout=2).close()
                break
            except OSError as e:
                if time.time() > deadline:
                    raise RuntimeError(f"the outside network's HTTP server is not reachable from this host: {e}")
                time.sleep(0.1)

    def _remove(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        super()._remove()


class ClientNetwork(_VethNetns):
    """A bare client: ember-test-client, routed by this host (no NAT) to the outside."""

    name, host_link = "ember-test-client", "tcli0"
    host_cidr, cidr = "192.0.2.1/24", "192.0.2.10/24"


# --- the servers, run inside the outside namespace -------------------------------------------

class _HttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ember-test-outside"

    def log_message(self, *args):
        pass

    def _reply(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/hello":
            return self._reply(200, HELLO)
        if url.path == "/whoami":
            return self._reply(200, self.client_address[0].encode())
        if url.path == "/bytes":
            try:
                n = int(urllib.parse.parse_qs(url.query).get("n", ["0"])[0])
            except ValueError:
                n = -1
            if not 0 <= n <= 1 << 34:
                return self._reply(400, b"n must be 0..2^34\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * (1 << 20)
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= len(chunk)
            return None
        return self._reply(404, b"not found\n")

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/sink":
            return self._reply(404, b"not found\n")
        remaining = int(self.headers.get("Content-Length") or 0)
        total = 0
        while remaining > 0:
            data = self.rfile.read(min(remaining, 1 << 20))
            if not data:
                break
            total += len(data)
            remaining -= len(data)
        return self._reply(200, str(total).encode())


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _SinkHandler(socketserver.BaseRequestHandler):
    def handle(self):
        buf = bytearray(1 << 20)
        total = 0
        while True:
            n = self.request.recv_into(buf)
            if n == 0:
                break
            total += n
        self.request.sendall(f"{total}\n".encode())


class _SinkServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(argv):
    from dns_server import DnsServer

    p = argparse.ArgumentParser(prog="outside_network.py serve")
    p.add_argument("--address", required=True)
    p.add_argument("--http", default="8080,8081", help="comma-separated ports")
    p.add_argument("--sink", type=int, default=5201)
    p.add_argument("--dns", type=int, default=53)
    p.add_argument("--name", action="append", default=[], metavar="NAME=IP")
    args = p.parse_args(argv)
    records = {}
    for item in args.name:
        name, _, address = item.partition("=")
        records.setdefault(name, []).append(address)
    servers = [_HttpServer((args.address, int(port)), _HttpHandler) for port in args.http.split(",")]
    servers.append(_SinkServer((args.address, args.sink), _SinkHandler))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    dns = DnsServer(records, host=args.address, port=args.dns)
    dns.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    dns.stop()
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        sys.exit("usage: outside_network.py serve --address IP [--http 8080,8081] [--sink 5201] "
                 "[--dns 53] [--name NAME=IP]...  (OutsideNetwork starts this inside its namespace)")
    serve(sys.argv[2:])
