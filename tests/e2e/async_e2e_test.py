#!/usr/bin/env python3
"""Events in, end to end: real microVMs behind emberd, driven by boto3 (run where KVM works).

Asynchronous invokes with retries, destinations and a dead-letter target; an at() schedule
that fires exactly once; a function URL round trip, also with AuthType AWS_IAM and requests
signed by botocore's SigV4Auth; and 50 Event invokes with emberd killed
by SIGKILL in the middle: every event that got its 202 runs at least once after a restart.
"""
import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials

from emberd_process import API, Emberd, add_binary_flags, make_zip, wait_for

ARGS = None
ROLE = "arn:aws:iam::000000000000:role/e2e"
RETRY_DELAY_S = 2  # --async-retry-delay-seconds: the first retry after 2 s, the second after 4

# Prints one line per attempt and fails when asked to.
WORKER = (
    "def handler(event, context):\n"
    "    print('attempt', event['id'])\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('boom ' + event['id'])\n"
    "    print('handled', event['id'])\n"
    "    return {'id': event['id']}\n")
# Records what reaches it: destination records and dead letters.
SINK = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('SINK ' + json.dumps(event, sort_keys=True))\n")
# Echoes what a function URL request looked like, and answers with a status, headers and cookies.
WEB = (
    "import base64, hashlib, json\n"
    "def handler(event, context):\n"
    "    body = event.get('body', '')\n"
    "    raw = base64.b64decode(body) if event.get('isBase64Encoded') else body.encode()\n"
    "    seen = {'rawPath': event['rawPath'], 'rawQuery': event['rawQueryString'],\n"
    "            'query': event.get('queryStringParameters'), 'cookies': event.get('cookies'),\n"
    "            'custom': event['headers'].get('x-custom'), 'method': event['requestContext']['http']['method'],\n"
    "            'version': event['version'], 'b64': event['isBase64Encoded'], 'length': len(raw),\n"
    "            'sha256': hashlib.sha256(raw).hexdigest()}\n"
    "    return {'statusCode': 201, 'headers': {'content-type': 'application/json', 'x-answered': 'yes'},\n"
    "            'cookies': ['seen=1; Path=/'], 'body': json.dumps(seen)}\n")


class AsyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="ember-e2e-async-", dir=os.environ.get("EMBER_E2E_TMP"))
        cls.start_emberd()
        for name, source in (("worker", WORKER), ("sink", SINK), ("counter", WORKER), ("web", WEB)):
            cls.lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                    Role=ROLE, MemorySize=1769, Timeout=30,
                                    Code={"ZipFile": base64.b64decode(make_zip({"app.py": (source, 0o644)}))})

    @classmethod
    def start_emberd(cls):
        cls.d = Emberd(ARGS, cls.state, extra_args=["--async-retry-delay-seconds", str(RETRY_DELAY_S)])
        config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=300)
        common = dict(endpoint_url=f"http://127.0.0.1:{cls.d.port}", region_name="us-east-1",
                      aws_access_key_id=cls.d.access_key_id,
                      aws_secret_access_key=cls.d.secret_access_key, config=config)
        cls.lam = boto3.client("lambda", **common)
        cls.scheduler = boto3.client("scheduler", **common)

    @classmethod
    def tearDownClass(cls):
        code = cls.d.stop()
        if code != 0:
            print(cls.d.output(), file=sys.stderr)
        if not os.environ.get("EMBER_E2E_TMP"):
            shutil.rmtree(cls.state, ignore_errors=True)

    def arn(self, name):
        return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"

    def log_of(self, name):
        _, _, body = self.d.request("GET", f"/ember/v1/functions/{name}/logs?offset=0")
        return body.decode(errors="replace")

    def sink_records(self):
        return [json.loads(line[len("SINK "):]) for line in self.log_of("sink").splitlines()
                if line.startswith("SINK ")]

    def send_event(self, name, event):
        response = self.lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
        self.assertEqual(response["StatusCode"], 202)
        self.assertEqual(response["Payload"].read(), b"")
        return response["ResponseMetadata"]["RequestId"]

    def test_1_event_success_failure_destinations_and_dead_letter(self):
        self.lam.put_function_event_invoke_config(
            FunctionName="worker", MaximumRetryAttempts=1,
            DestinationConfig={"OnSuccess": {"Destination": self.arn("sink")},
                               "OnFailure": {"Destination": self.arn("sink")}})
        self.lam.update_function_configuration(FunctionName="worker",
                                               DeadLetterConfig={"TargetArn": self.arn("sink")})
        got = self.lam.get_function_event_invoke_config(FunctionName="worker")
        self.assertEqual(got["MaximumRetryAttempts"], 1)

        ok_id = self.send_event("worker", {"id": "ok-1"})
        bad_id = self.send_event("worker", {"id": "bad-1", "fail": True})

        wait_for("the success record", lambda: [r for r in self.sink_records()
                                                 if r.get("requestContext", {}).get("requestId") == ok_id])
        failure = wait_for("the failure record", lambda: [
            r for r in self.sink_records() if r.get("requestContext", {}).get("requestId") == bad_id])
        dead_letter = wait_for("the dead letter", lambda: [
            r for r in self.sink_records() if r == {"id": "bad-1", "fail": True}])
        self.assertEqual(len(dead_letter), 1)

        success = [r for r in self.sink_records() if r.get("requestContext", {}).get("requestId") == ok_id][0]
        self.assertEqual(success["version"], "1.0")
        self.assertEqual(success["requestContext"]["condition"], "Success")
        self.assertEqual(success["requestContext"]["approximateInvokeCount"], 1)
        self.assertEqual(success["requestContext"]["functionArn"], self.arn("worker") + ":$LATEST")
        self.assertEqual(success["requestPayload"], {"id": "ok-1"})
        self.assertEqual(success["responsePayload"], {"id": "ok-1"})
        self.assertEqual(success["responseContext"]["statusCode"], 200)

        record = failure[0]
        self.assertEqual(record["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(record["responsePayload"]["errorType"], "ValueError")
        self.assertEqual(record["requestPayload"], {"id": "bad-1", "fail": True})

        worker_log = self.log_of("worker")
        self.assertEqual(worker_log.count("attempt bad-1"), 2, worker_log)  # the first run and one retry
        self.assertIn("handled ok-1", worker_log)
        self.assertIn(f"START RequestId: {ok_id}", worker_log)
        self.assertIn(f"REPORT RequestId: {ok_id}", worker_log)
        self.assertIn(f"ASYNC RequestId: {bad_id}\tCondition: RetriesExhausted\tAttempts: 2", worker_log)

        _, _, body = self.d.request("GET", "/ember/v1/functions/worker/async")
        queue = json.loads(body)
        fates = {entry["RequestId"]: entry["Fate"] for entry in queue["Recent"]}
        self.assertEqual(fates[ok_id], "Success")
        self.assertEqual(fates[bad_id], "RetriesExhausted")

    def test_2_at_schedule_fires_exactly_once(self):
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=8)
        self.scheduler.create_schedule(
            Name="once", ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": self.arn("counter"), "RoleArn": ROLE, "Input": json.dumps({"id": "sched-1"})})
        self.assertEqual(self.scheduler.get_schedule(Name="once")["State"], "ENABLED")
        wait_for("the schedule's firing", lambda: "handled sched-1" in self.log_of("counter"), timeout=180)
        time.sleep(10)
        self.assertEqual(self.log_of("counter").count("handled sched-1"), 1)

    def test_3_function_url_round_trip(self):
        url = self.lam.create_function_url_config(FunctionName="web", AuthType="NONE")["FunctionUrl"]
        request = urllib.request.Request(url + "some/path?a=1&b=two&a=3",
                                         headers={"X-Custom": "hello", "Cookie": "c1=v1; c2=v2"})
        with urllib.request.urlopen(request, timeout=300) as response:
            self.assertEqual(response.status, 201)
            self.assertEqual(response.headers["x-answered"], "yes")
            self.assertIn("seen=1", response.headers.get_all("Set-Cookie")[0])
            seen = json.loads(response.read())
        self.assertEqual(seen["version"], "2.0")
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["rawPath"], "/some/path")
        self.assertEqual(seen["rawQuery"], "a=1&b=two&a=3")
        self.assertEqual(seen["query"], {"a": "1,3", "b": "two"})
        self.assertEqual(seen["cookies"], ["c1=v1", "c2=v2"])
        self.assertEqual(seen["custom"], "hello")

        binary = bytes(range(256)) * 4
        post = urllib.request.Request(url, data=binary, method="POST",
                                      headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(post, timeout=300) as response:
            seen = json.loads(response.read())
        self.assertEqual(seen["method"], "POST")
        self.assertTrue(seen["b64"])
        self.assertEqual(seen["length"], len(binary))
        self.assertEqual(seen["sha256"], hashlib.sha256(binary).hexdigest())

        # AuthType AWS_IAM: signed as awscurl and botocore sign for service lambda, it runs;
        # unsigned, it is Lambda's 403 and the function does not run.
        self.lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
        signer = botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(self.d.access_key_id, self.d.secret_access_key),
            "lambda", "us-east-1")

        def signed(method, target, body=None, headers=None):
            request = botocore.awsrequest.AWSRequest(method=method, url=target, data=body,
                                                     headers=dict(headers or {}))
            signer.add_auth(request)
            return urllib.request.Request(target, data=body, method=method,
                                          headers=dict(request.headers.items()))

        with urllib.request.urlopen(signed("GET", url + "signed?x=1"), timeout=300) as response:
            self.assertEqual(response.status, 201)
            seen = json.loads(response.read())
        self.assertEqual(seen["rawPath"], "/signed")
        with urllib.request.urlopen(signed("POST", url, binary,
                                           {"Content-Type": "application/octet-stream"}),
                                    timeout=300) as response:
            self.assertEqual(json.loads(response.read())["sha256"],
                             hashlib.sha256(binary).hexdigest())
        before = self.log_of("web").count("START RequestId")
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + "unsigned"), timeout=300)
        self.assertEqual(refused.exception.code, 403)
        self.assertEqual(json.loads(refused.exception.read()), {"Message": "Forbidden"})
        self.assertEqual(self.log_of("web").count("START RequestId"), before)

    def test_4_accepted_events_survive_sigkill(self):
        accepted, lock = [], threading.Lock()
        half = threading.Event()

        def send(i):
            try:
                request_id = self.send_event("counter", {"id": f"kill-{i}"})
            except Exception:  # emberd is gone: this one got no 202, nothing is promised
                return
            with lock:
                accepted.append(f"kill-{i}")
                if len(accepted) >= 25:
                    half.set()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(send, i) for i in range(50)]
            half.wait(timeout=120)
            type(self).d.kill()
            concurrent.futures.wait(futures)
        self.assertGreaterEqual(len(accepted), 25)
        type(self).start_emberd()

        def all_ran():
            log = self.log_of("counter")
            return all(f"handled {event_id}\n" in log for event_id in accepted)
        wait_for(f"all {len(accepted)} accepted events to run", all_ran, timeout=400, every=2)
        print(f"{len(accepted)} of 50 events got a 202 before SIGKILL; all ran after the restart",
              file=sys.stderr)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    add_binary_flags(p)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
