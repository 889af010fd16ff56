#!/usr/bin/env python3
"""A tiny authoritative DNS server for tests, over UDP and TCP (RFC 1035 wire format).

It answers A queries for the names it is given and NXDOMAIN for every other name; a name it
knows asked for another type (AAAA, say) gets an empty NOERROR answer, as a real zone would
give. Every question it receives is recorded in `queries` as (name, type).

    server = DnsServer({"outside.test": "198.51.100.10"}, host="198.51.100.10", port=53)
    server.start() ... server.stop()      (or: with DnsServer(...) as server: ...)

Run as a script it serves until SIGTERM/SIGINT and prints "ready" once listening:
    python3 dns_server.py --listen 198.51.100.10:53 --name outside.test=198.51.100.10
"""
import argparse
import signal
import socket
import struct
import sys
import threading

TYPE_A = 1
TYPE_ANY = 255
CLASS_IN = 1
RCODE_OK, RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_NOTIMP = 0, 1, 3, 4
TTL = 60


class FormatError(Exception):
    pass


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"DNS name {name!r} has an empty or too long label")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(message, offset):
    """The name at offset (compression pointers followed) and the offset after it."""
    labels, end, jumps = [], None, 0
    while True:
        if offset >= len(message):
            raise FormatError("name runs past the message")
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(message) or jumps > 16:
                raise FormatError("bad compression pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise FormatError("unknown label type")
        offset += 1
        if length == 0:
            return ".".join(labels), end if end is not None else offset
        labels.append(message[offset:offset + length].decode("ascii", "replace"))
        offset += length


def build_query(name, qtype=TYPE_A, query_id=0x4242):
    """A standard query with recursion desired, as a stub resolver sends it."""
    return struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + encode_name(name) + \
        struct.pack("!HH", qtype, CLASS_IN)


def parse_response(message):
    """(rcode, [IPv4 addresses of the A answers]) of a response."""
    _, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", message[:12])
    offset = 12
    for _ in range(qdcount):
        _, offset = decode_name(message, offset)
        offset += 4
    addresses = []
    for _ in range(ancount):
        _, offset = decode_name(message, offset)
        rtype, _, _, rdlength = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        if rtype == TYPE_A and rdlength == 4:
            addresses.append(socket.inet_ntoa(message[offset:offset + 4]))
        offset += rdlength
    return flags & 0xF, addresses


def query(name, server, port=53, tcp=False, timeout=5):
    """Asks server for name's A records: (rcode, addresses). For tests and readiness checks."""
    message = build_query(name)
    if tcp:
        with socket.create_connection((server, port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(message)) + message)
            length = struct.unpack("!H", _recv_exactly(s, 2))[0]
            return parse_response(_recv_exactly(s, length))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(message, (server, port))
        return parse_response(s.recv(65535))


def _recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the DNS peer closed the connection mid-message")
        data += chunk
    return data


class DnsServer:
    """Authoritative answers for records {name: ip or [ips]} on host:port, UDP and TCP."""

    def __init__(self, records, host="127.0.0.1", port=53, tcp=True):
        self.records = {}
        for name, value in records.items():
            addresses = [value] if isinstance(value, str) else list(value)
            for address in addresses:
                socket.inet_aton(address)  # a ValueError-like OSError for a bad address, early
            self.records[name.rstrip(".").lower()] = addresses
        self.host, self.port, self.tcp = host, port, tcp
        self.queries = []
        self._lock = threading.Lock()
        self._udp = self._tcp = None
        self._threads = []
        self._stopping = threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.host, self.port))
        self.port = self._udp.getsockname()[1]  # port 0: the one the kernel chose
        self._spawn(self._serve_udp)
        if self.tcp:
            self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._tcp.bind((self.host, self.port))
            self._tcp.listen(64)
            self._spawn(self._serve_tcp)

    def stop(self):
        self._stopping.set()
        for sock in (self._udp, self._tcp):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._udp = self._tcp = None
        self._threads = []

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _serve_udp(self):
        while not self._stopping.is_set():
            try:
                message, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            reply = self.answer(message)
            if reply is not None:
                try:
                    self._udp.sendto(reply, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_tcp_connection, args=(conn,), daemon=True).start()

    def _serve_tcp_connection(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                while True:
                    header = conn.recv(2)
                    if not header:
                        return
                    if len(header) == 1:
                        header += _recv_exactly(conn, 1)
                    reply = self.answer(_recv_exactly(conn, struct.unpack("!H", header)[0]))
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, ConnectionError):
                return

    def answer(self, message):
        """The response to one query message, or None for one too broken to answer."""
        if len(message) < 12:
            return None
        query_id, flags, qdcount = struct.unpack("!HHH", message[:6])
        if flags & 0x8000:
            return None  # a response, not a query: never answer those
        opcode = (flags >> 11) & 0xF
        # QR, the opcode, AA, and RD copied from the query; RA clear (no recursion here).
        reply_flags = 0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100)
        if opcode != 0:
            return struct.pack("!HHHHHH", query_id, reply_flags | RCODE_NOTIMP, 0, 0, 0, 0)
        if qdcount != 1:
            return struct.pack("!HHHHHH", query_id, reply_flags | RCODE_FORMERR, 0, 0, 0, 0)
        try:
            name, offset = decode_name(message, 12)
            if offset + 4 > len(message):
                raise FormatError("question runs past the message")
            qtype, qclass = struct.unpack("!HH", message[offset:offset + 4])
        except FormatError:
            return struct.pack("!HHHHHH", query_id, reply_flags | RCODE_FORMERR, 0, 0, 0, 0)
        question = message[12:offset + 4]
        with self._lock:
            self.queries.append((name.lower(), qtype))
        addresses = self.records.get(name.rstrip(".").lower())
        if addresses is None:
            return struct.pack("!HHHHHH", query_id, reply_flags | RCODE_NXDOMAIN, 1, 0, 0, 0) + question
        answers = b""
        if qtype in (TYPE_A, TYPE_ANY) and qclass == CLASS_IN:
            for address in addresses:
                # The owner name is a pointer to the question's name at offset 12.
                answers += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(address)
        count = len(answers) // 16
        return struct.pack("!HHHHHH", query_id, reply_flags | RCODE_OK, 1, count, 0, 0) + question + answers


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", default="127.0.0.1:53", help="ADDRESS:PORT (default 127.0.0.1:53)")
    p.add_argument("--name", action="append", default=[], metavar="NAME=IP",
                   help="an A record; repeat for more")
    p.add_argument("--no-tcp", action="store_true", help="UDP only")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    records = {}
    for item in args.name:
        name, sep, address = item.partition("=")
        if not sep:
            p.error(f"--name needs NAME=IP, got {item!r}")
        records.setdefault(name, []).append(address)
    server = DnsServer(records, host=host, port=int(port), tcp=not args.no_tcp)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    server.stop()


if __name__ == "__main__":
    sys.exit(main())
