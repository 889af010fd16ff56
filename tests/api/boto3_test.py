#!/usr/bin/env python3
"""boto3 against a real emberd (TCP listener, temporary state directory): create, get, list,
update, delete, Lambda's error codes, the Invoke paths that never reach a VM, and a restart
that keeps functions. The invoker is given empty stand-ins for the VMM, kernel and images:
no invocation runs here (tests/vm/ does that). Exits 77 (skipped) without boto3.

Usage: tests/api/boto3_test.py --emberd PATH [unittest args]
"""
import argparse
import base64
import hashlib
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request
import zipfile

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError:
    print("boto3 is not installed (Debian: python3-boto3); skipping", file=sys.stderr)
    sys.exit(77)

EMBERD = None  # set from --emberd
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def make_zip(source="def lambda_handler(event, context):\n    return event\n"):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", source)
    return data.getvalue()


class Emberd:
    """One emberd process on a state directory, serving TCP on a free port."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "run", "ember.sock")
        self.lines = []
        self.port = None
        guest = os.path.join(workdir, "guest")
        os.makedirs(guest, exist_ok=True)
        for name in ["vmlinux", "rootfs.erofs", "initramfs.cpio"]:
            open(os.path.join(guest, name), "wb").close()
        self.process = subprocess.Popen(
            [EMBERD, "--socket", self.socket, "--state-dir", os.path.join(workdir, "state"),
             "--listen", "127.0.0.1:0", "--drain-timeout-s", "5", "--vmm", "/bin/false",
             "--network", "off",  # no VM runs here: leave this host's network alone
             "--kernel", os.path.join(guest, "vmlinux"),
             "--rootfs", os.path.join(guest, "rootfs.erofs"),
             "--initramfs", os.path.join(guest, "initramfs.cpio")],
            stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read_stderr():
            for line in self.process.stderr:
                self.lines.append(line)
                found = re.search(r"tcp:127\.0\.0\.1:(\d+)", line)
                if found and self.port is None:
                    self.port = int(found.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read_stderr, daemon=True)
        self.reader.start()
        if not ready.wait(15) or self.port is None:
            self.process.kill()
            raise RuntimeError("emberd did not start:\n" + "".join(self.lines))

    def client(self):
        return boto3.client(
            "lambda", endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
            aws_access_key_id="ember", aws_secret_access_key="ember",
            config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60))

    def stop(self):
        """SIGTERM; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(30)
        self.reader.join(5)
        self.process.stderr.close()
        return status


class Boto3Test(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-boto3-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)  # also if setUp fails
        self.emberd = Emberd(self.workdir)
        self.client = self.emberd.client()

    def tearDown(self):
        if self.emberd.process.poll() is None:
            self.emberd.stop()

    def create(self, name, **extra):
        args = dict(FunctionName=name, Runtime="python3.11", Role=ROLE,
                    Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip()})
        args.update(extra)
        return self.client.create_function(**args)

    def assert_error(self, code, call, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code)
        self.assertTrue(caught.exception.response["Error"]["Message"])
        return caught.exception

    def test_create_get_and_waiters(self):
        zip_bytes = make_zip()
        created = self.create("hello", MemorySize=256, Timeout=10, Description="greets",
                              Environment={"Variables": {"GREETING": "hi"}},
                              EphemeralStorage={"Size": 1024}, Publish=True)
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 201)
        self.assertEqual(created["FunctionArn"],
                         "arn:aws:lambda:us-east-1:000000000000:function:hello")
        self.assertEqual(created["CodeSha256"],
                         base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode())
        self.assertEqual(created["CodeSize"], len(zip_bytes))
        self.assertEqual(created["MemorySize"], 256)
        self.assertEqual(created["Timeout"], 10)
        self.assertEqual(created["Environment"]["Variables"], {"GREETING": "hi"})
        self.assertEqual(created["EphemeralStorage"]["Size"], 1024)
        self.assertEqual(created["State"], "Active")
        self.assertEqual(created["Version"], "$LATEST")
        self.assertRegex(created["LastModified"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
        self.client.get_waiter("function_active_v2").wait(FunctionName="hello")
        self.client.get_waiter("function_exists").wait(FunctionName="hello")

        got = self.client.get_function(FunctionName=created["FunctionArn"])
        self.assertEqual(got["Configuration"]["RevisionId"], created["RevisionId"])
        self.assertEqual(got["Code"]["RepositoryType"], "S3")
        with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
            self.assertEqual(response.read(), zip_bytes)
        config = self.client.get_function_configuration(FunctionName="hello", Qualifier="$LATEST")
        self.assertEqual(config["Description"], "greets")

    def test_list_paginates(self):
        for name in ["c-fn", "a-fn", "b-fn"]:
            self.create(name)
        paginator = self.client.get_paginator("list_functions")
        pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 2)
        names = [f["FunctionName"] for page in pages for f in page["Functions"]]
        self.assertEqual(names, ["a-fn", "b-fn", "c-fn"])

    def test_updates(self):
        created = self.create("changing")
        updated = self.client.update_function_configuration(
            FunctionName="changing", MemorySize=512, Environment={"Variables": {"AB": "1"}},
            RevisionId=created["RevisionId"])
        self.assertEqual(updated["MemorySize"], 512)
        self.assertNotEqual(updated["RevisionId"], created["RevisionId"])
        self.client.get_waiter("function_updated_v2").wait(FunctionName="changing")
        new_zip = make_zip("def lambda_handler(event, context):\n    return 2\n")
        coded = self.client.update_function_code(FunctionName="changing", ZipFile=new_zip)
        self.assertEqual(coded["CodeSha256"],
                         base64.b64encode(hashlib.sha256(new_zip).digest()).decode())
        self.assertEqual(coded["MemorySize"], 512)
        self.assert_error("PreconditionFailedException", self.client.update_function_configuration,
                          FunctionName="changing", Timeout=5, RevisionId=created["RevisionId"])

    def test_delete(self):
        self.create("short-lived")
        deleted = self.client.delete_function(FunctionName="short-lived")
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_function(FunctionName="short-lived")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_function(FunctionName="short-lived")

    def test_error_codes(self):
        self.create("exists")
        with self.assertRaises(self.client.exceptions.ResourceConflictException):
            self.create("exists")
        with self.assertRaises(self.client.exceptions.InvalidParameterValueException):
            self.create("bad-runtime", Runtime="java17")
        error = self.assert_error("ValidationException", self.create, "too-big", MemorySize=20000)
        self.assertIn("memorySize", error.response["Error"]["Message"])
        self.assert_error("ValidationException", self.create, "too-long", Timeout=901)
        with self.assertRaises(self.client.exceptions.InvalidParameterValueException) as bad_zip:
            self.create("bad-zip", Code={"ZipFile": b"not a zip"})
        self.assertIn("Could not unzip", str(bad_zip.exception))
        with self.assertRaises(self.client.exceptions.InvalidParameterValueException):
            self.create("big-env", Environment={"Variables": {"BIG": "x" * 5000}})
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_function_configuration(FunctionName="nope")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_function(FunctionName="exists", Qualifier="7")
        names = [f["FunctionName"] for f in self.client.list_functions()["Functions"]]
        self.assertEqual(names, ["exists"])

    def test_invoke_paths_that_reach_no_vm(self):
        self.create("invoked")
        dry = self.client.invoke(FunctionName="invoked", InvocationType="DryRun")
        self.assertEqual(dry["StatusCode"], 204)
        event = self.client.invoke(FunctionName="invoked", InvocationType="Event", Payload=b'{"a":1}')
        self.assertEqual(event["StatusCode"], 202)
        self.assertEqual(event["Payload"].read(), b"")
        self.assertTrue(event["ResponseMetadata"]["RequestId"])
        with self.assertRaises(self.client.exceptions.RequestTooLargeException):
            self.client.invoke(FunctionName="invoked", InvocationType="Event",
                               Payload=b'"' + b"x" * 2**20 + b'"')
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.invoke(FunctionName="missing", Payload=b"{}")
        with self.assertRaises(self.client.exceptions.RequestTooLargeException):
            self.client.invoke(FunctionName="invoked", Payload=b'"' + b"x" * (6 * 2**20) + b'"')
        with self.assertRaises(self.client.exceptions.InvalidRequestContentException):
            self.client.invoke(FunctionName="invoked", Payload=b"not json")

    def test_event_invoke_config(self):
        self.create("async-config")
        target = "arn:aws:lambda:us-east-1:000000000000:function:async-config"
        put = self.client.put_function_event_invoke_config(
            FunctionName="async-config", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=300,
            DestinationConfig={"OnFailure": {"Destination": target}})
        self.assertEqual(put["MaximumRetryAttempts"], 0)
        self.assertEqual(put["FunctionArn"], target + ":$LATEST")
        updated = self.client.update_function_event_invoke_config(FunctionName="async-config",
                                                                   MaximumRetryAttempts=2)
        self.assertEqual(updated["MaximumEventAgeInSeconds"], 300)
        self.assertEqual(updated["DestinationConfig"]["OnFailure"]["Destination"], target)
        got = self.client.get_function_event_invoke_config(FunctionName="async-config")
        self.assertEqual(got["MaximumRetryAttempts"], 2)
        listed = self.client.list_function_event_invoke_configs(FunctionName="async-config")
        self.assertEqual(len(listed["FunctionEventInvokeConfigs"]), 1)
        with self.assertRaises(self.client.exceptions.InvalidParameterValueException):
            self.client.put_function_event_invoke_config(
                FunctionName="async-config",
                DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}})
        self.client.delete_function_event_invoke_config(FunctionName="async-config")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_function_event_invoke_config(FunctionName="async-config")
        created = self.create("with-dlq", DeadLetterConfig={"TargetArn": target})
        self.assertEqual(created["DeadLetterConfig"]["TargetArn"], target)

    def test_restart_keeps_functions_and_sigterm_exits_0(self):
        created = self.create("durable", MemorySize=384)
        mode = stat.S_IMODE(os.stat(self.emberd.socket).st_mode)
        self.assertEqual(mode, 0o660)
        self.assertEqual(self.emberd.stop(), 0)
        self.assertFalse(os.path.exists(self.emberd.socket))
        self.emberd = Emberd(self.workdir)
        client = self.emberd.client()
        config = client.get_function_configuration(FunctionName="durable")
        self.assertEqual(config["MemorySize"], 384)
        self.assertEqual(config["RevisionId"], created["RevisionId"])
        self.assertEqual(config["CodeSha256"], created["CodeSha256"])


def main():
    global EMBERD
    parser = argparse.ArgumentParser()
    parser.add_argument("--emberd", required=True)
    args, rest = parser.parse_known_args()
    EMBERD = os.path.abspath(args.emberd)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
