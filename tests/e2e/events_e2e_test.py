#!/usr/bin/env python3
"""Events pulled, end to end: event source mappings over a real redis-server, real microVMs
behind emberd, driven by boto3 (run where KVM works).

A stream read in order in full batches; ReportBatchItemFailures; bisecting to a poison record
that goes to an OnFailure stream; a queue's batches running in parallel; a filter; Redis
restarted mid-run and emberd killed mid-run, with every entry processed at least once.
"""
import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import boto3
import botocore.config

from emberd_process import Emberd, add_binary_flags, make_zip, wait_for
from redis_process import RedisServer

ARGS = None
ROLE = "arn:aws:iam::000000000000:role/e2e"

# Prints each batch as "BATCH <key> [n, ...]"; MODE (an environment variable) picks a behaviour.
RECORDER = (
    "import base64, json, os, time\n"
    "DONE = set()\n"
    "def n_of(record):\n"
    "    raw = base64.b64decode(record['kinesis']['data']) if 'kinesis' in record else record['body']\n"
    "    return json.loads(raw)['n']\n"
    "def handler(event, context):\n"
    "    records = event['Records']\n"
    "    ns = [n_of(r) for r in records]\n"
    "    key = records[0]['eventSourceARN'].rsplit('/', 1)[1]\n"
    "    print('BATCH ' + key + ' ' + json.dumps(ns))\n"
    "    mode = os.environ.get('MODE', '')\n"
    "    if mode == 'poison' and 5 in ns:\n"
    "        raise ValueError('poison record 5')\n"
    "    if mode == 'partial' and 3 in ns and 'partial' not in DONE:\n"
    "        DONE.add('partial')\n"
    "        return {'batchItemFailures': [{'itemIdentifier': records[ns.index(3)]['kinesis']['sequenceNumber']}]}\n"
    "    if mode == 'slow':\n"
    "        time.sleep(1.5)\n"
    "    return {'batchItemFailures': []}\n")


class EventSourceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="ember-e2e-events-", dir=os.environ.get("EMBER_E2E_TMP"))
        # Outside the state directory: Emberd.kill() ends every process that names it.
        cls.redis_dir = tempfile.mkdtemp(prefix="ember-e2e-redis-", dir=os.environ.get("EMBER_E2E_TMP"))
        cls.redis = RedisServer(cls.redis_dir, durable=True)
        cls.start_emberd()
        for name, mode, memory in (("ordered", "", 1769), ("partial", "partial", 1769),
                                   ("poison", "poison", 1769), ("slow", "slow", 1024)):
            cls.lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                    Role=ROLE, MemorySize=memory, Timeout=60,
                                    Environment={"Variables": {"MODE": mode}},
                                    Code={"ZipFile": base64.b64decode(make_zip({"app.py": (RECORDER, 0o644)}))})

    @classmethod
    def start_emberd(cls):
        cls.d = Emberd(ARGS, cls.state, extra_args=["--redis", "default=" + cls.redis.url()])
        config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=300)
        cls.lam = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{cls.d.port}",
                               region_name="us-east-1", aws_access_key_id=cls.d.access_key_id,
                               aws_secret_access_key=cls.d.secret_access_key, config=config)

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        if code != 0:
            print(cls.d.output(), file=sys.stderr)
        cls.redis.stop()
        if not os.environ.get("EMBER_E2E_TMP"):
            shutil.rmtree(cls.state, ignore_errors=True)
            shutil.rmtree(cls.redis_dir, ignore_errors=True)

    def add(self, key, ns, extra=None):
        client = self.redis.client()
        ids = client.pipeline([["XADD", key, "*", "data", json.dumps({"n": n, **(extra(n) if extra else {})})]
                               for n in ns])
        client.close()
        return [i.decode() for i in ids]

    def batches(self, function, key):
        _, _, body = self.d.request("GET", f"/ember/v1/functions/{function}/logs?offset=0")
        found = []
        for line in body.decode(errors="replace").splitlines():
            if line.startswith(f"BATCH {key} "):
                found.append(json.loads(line[len(f"BATCH {key} "):]))
        return found

    def seen(self, function, key):
        return [n for batch in self.batches(function, key) for n in batch]

    def map(self, function, key, kind="stream", **extra):
        args = dict(FunctionName=function, EventSourceArn=f"arn:ember:redis:::default/{kind}/{key}", **extra)
        if kind == "stream":
            args.setdefault("StartingPosition", "TRIM_HORIZON")
        mapping = self.lam.create_event_source_mapping(**args)
        self.assertIn(mapping["State"], ("Creating", "Enabled"))
        return mapping["UUID"]

    def test_1_stream_in_order_in_full_batches(self):
        self.add("s-order", range(1000))
        uuid = self.map("ordered", "s-order", BatchSize=100, MaximumBatchingWindowInSeconds=1)
        wait_for("1000 records", lambda: len(self.seen("ordered", "s-order")) >= 1000)
        self.assertEqual(self.seen("ordered", "s-order"), list(range(1000)))  # once each, in order
        invocations = len(self.batches("ordered", "s-order"))
        self.assertLessEqual(invocations, 15, f"{invocations} invocations for 1000 records")
        got = wait_for("Enabled", lambda: (m := self.lam.get_event_source_mapping(UUID=uuid))["State"] == "Enabled" and m)
        self.assertEqual(got["LastProcessingResult"], "OK")
        print(f"1000 records in {invocations} invocations", file=sys.stderr)

    def test_2_reported_failures_retry_from_the_first(self):
        self.add("s-partial", range(6))
        self.map("partial", "s-partial", BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
        wait_for("the retry", lambda: len(self.seen("partial", "s-partial")) >= 9)
        self.assertEqual(self.batches("partial", "s-partial"), [[0, 1, 2, 3, 4, 5], [3, 4, 5]])

    def test_3_bisect_isolates_a_poison_record_for_on_failure(self):
        ids = self.add("s-poison", range(10))
        self.map("poison", "s-poison", BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                 DestinationConfig={"OnFailure": {"Destination": "arn:ember:redis:::default/stream/s-dead"}})
        client = self.redis.client()
        dead = wait_for("the OnFailure record", lambda: client.call("XRANGE", "s-dead", "-", "+"), timeout=300)
        record = json.loads(dict(zip(dead[0][1][::2], dead[0][1][1::2]))[b"data"])
        info = record["RedisStreamBatchInfo"]
        self.assertEqual(info["batchSize"], 1)
        self.assertEqual(info["startSequenceNumber"], ids[5])
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.add("s-poison", [10, 11])  # processing goes on past it
        wait_for("records after the poison one", lambda: 11 in self.seen("poison", "s-poison"))
        seen = set(self.seen("poison", "s-poison"))
        self.assertTrue(set(range(12)) <= seen, seen)
        client.close()

    def test_4_queue_batches_run_in_parallel(self):
        self.add("q-work", range(40))
        uuid = self.map("slow", "q-work", kind="queue", BatchSize=5, ScalingConfig={"MaximumConcurrency": 4})
        most = 0
        deadline = time.time() + 400
        while len(set(self.seen("slow", "q-work"))) < 40 and time.time() < deadline:
            _, _, body = self.d.request("GET", f"/ember/v1/event-source-mappings/{uuid}/status")
            most = max(most, json.loads(body).get("BatchesInFlight", 0))
            time.sleep(0.2)
        self.assertEqual(set(self.seen("slow", "q-work")), set(range(40)))
        self.assertGreaterEqual(most, 2, "batches never overlapped")
        print(f"queue: up to {most} batches at once", file=sys.stderr)

    def test_5_filter_drops_records_that_do_not_match(self):
        self.add("s-filter", range(20), extra=lambda n: {"keep": n % 4 == 0})
        self.map("ordered", "s-filter", BatchSize=100,
                 FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"keep": [True]}})}]})
        wait_for("the kept records", lambda: len(self.seen("ordered", "s-filter")) >= 5)
        time.sleep(3)
        self.assertEqual(self.seen("ordered", "s-filter"), [0, 4, 8, 12, 16])

    def test_6_redis_restarted_mid_run_loses_nothing(self):
        self.add("s-restart", range(200))
        self.map("ordered", "s-restart", BatchSize=10)
        wait_for("a first batch", lambda: self.seen("ordered", "s-restart"))
        self.redis.stop()
        time.sleep(3)
        self.redis.start()
        wait_for("all 200 after the restart", lambda: set(self.seen("ordered", "s-restart")) >= set(range(200)))

    def test_7_emberd_killed_mid_run_processes_everything(self):
        self.add("s-kill", range(200))
        self.map("ordered", "s-kill", BatchSize=10)
        wait_for("a first batch", lambda: self.seen("ordered", "s-kill"))
        type(self).d.kill()
        type(self).start_emberd()
        wait_for("all 200 after the restart", lambda: set(self.seen("ordered", "s-kill")) >= set(range(200)))


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    if not RedisServer.installed():
        print("redis-server is not installed (scripts/setup installs it)", file=sys.stderr)
        sys.exit(1)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
