#!/usr/bin/env python3
"""Network workloads, the same code in a guest and on the host: a python3.11 Lambda handler
(net_guest.handler) and a script for the no-VM baseline (`python3 net_guest.py '{event}'`
prints the result as JSON). Standard library only. Events:

  {"op": "throughput", "host", "port": 5201, "mib": N}
        N MiB over one TCP connection to a sink that replies with the byte count it read:
        {"bytes": sent, "acked": the sink's count, "seconds": first byte to reply, "connect_ms"}
  {"op": "latency", "url", "count": K}   K sequential GETs, each on a fresh connection: the
        list of their times in ms (connect + request + whole body)
  {"op": "get", "url", "timeout": 10}    the body, as text
  {"op": "connect", "host", "port", "timeout": 10}
        {"ok": bool, "error": "" or what failed, "ms": time until connected or refused}
  {"op": "resolve", "name"}              the first IPv4 address, or {"error": ..., "ms": ...}
  {"op": "noop"}                          None
"""
import http.client
import json
import socket
import sys
import time
import urllib.parse
import urllib.request

CHUNK = 1 << 20


def _ms_since(start):
    return round((time.monotonic() - start) * 1000, 3)


def throughput(host, port, mib, timeout=120):
    payload = b"\0" * CHUNK
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as s:
        connect_ms = _ms_since(start)
        start = time.monotonic()
        sent = 0
        for _ in range(mib):
            s.sendall(payload)
            sent += CHUNK
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            reply += chunk
        seconds = time.monotonic() - start
    acked = int(reply) if reply.strip().isdigit() else -1
    if acked != sent:
        raise RuntimeError(f"the sink at {host}:{port} read {acked} bytes of the {sent} sent")
    return {"bytes": sent, "acked": acked, "seconds": seconds, "connect_ms": connect_ms}


def _get_once(url, timeout):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                     headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status}")
        return body
    finally:
        conn.close()


def latency(url, count, timeout=30):
    times = []
    for _ in range(count):
        start = time.monotonic()
        _get_once(url, timeout)
        times.append(_ms_since(start))
    return times


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8", "replace")


def connect(host, port, timeout=10):
    start = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return {"ok": True, "error": "", "ms": _ms_since(start)}
    except OSError as e:
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "ms": _ms_since(start)}


def resolve(name):
    start = time.monotonic()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
        return infos[0][4][0]
    except OSError as e:
        return {"error": f"{type(e).__name__}: {e}", "ms": _ms_since(start)}


def run(event):
    op = event.get("op")
    if op == "throughput":
        return throughput(event["host"], int(event.get("port", 5201)), int(event["mib"]),
                          float(event.get("timeout", 120)))
    if op == "latency":
        return latency(event["url"], int(event.get("count", 1)), float(event.get("timeout", 30)))
    if op == "get":
        return get(event["url"], float(event.get("timeout", 10)))
    if op == "connect":
        return connect(event["host"], int(event["port"]), float(event.get("timeout", 10)))
    if op == "resolve":
        return resolve(event["name"])
    if op == "noop":
        return None
    raise ValueError(f"unknown op {op!r}: use throughput, latency, get, connect, resolve or noop")


def handler(event, context):
    return run(event)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: net_guest.py '{\"op\": ...}'  (see the docstring for the events)")
    print(json.dumps(run(json.loads(sys.argv[1]))))
