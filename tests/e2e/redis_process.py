"""A throwaway redis-server for end-to-end tests and benchmarks, and a minimal RESP client."""
import os
import shutil
import socket
import subprocess
import time

from emberd_process import free_port


class Redis:
    """A RESP client over one TCP connection: call("XADD", ...) and pipeline([...])."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._exactly(int(rest))
        if kind == b"*":
            return None if int(rest) < 0 else [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"redis: unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read() for _ in commands]


class RedisServer:
    """redis-server on a free loopback port in its own directory; `durable` makes every write
    reach its append-only file before the reply, so a restart loses nothing."""

    def __init__(self, directory, durable=False):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.durable = durable
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                client = Redis(self.port, timeout=2)
                try:
                    client.call("PING")
                    return
                finally:
                    client.close()
            except (OSError, RuntimeError):  # not listening yet, or LOADING its data
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start; see " + os.path.join(self.dir, "redis.log"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()

    def client(self):
        return Redis(self.port)

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def installed():
        return shutil.which("redis-server") is not None
