#!/usr/bin/env python3
"""boto3 against a real emberd (TCP listener, temporary state directory): create, get, list,
update, delete, Lambda's error codes, the Invoke paths that never reach a VM, a restart
that keeps functions, and SigV4 authentication of the TCP listener (a signed request works;
unsigned, unknown-key, wrong-secret, tampered-body and stale-date requests are refused with
AWS's codes; --insecure-no-auth on 0.0.0.0 is refused). The invoker is given empty stand-ins
for the VMM, kernel and images: no invocation runs here (tests/vm/ does that). Exits 77
(skipped) without boto3.

Usage: tests/api/boto3_test.py --emberd PATH [unittest args]
"""
import argparse
import base64
import datetime
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import socket
import threading
import unittest
import unittest.mock
import urllib.request
import zipfile

try:
    import boto3
    import botocore
    import botocore.auth
    import botocore.awsrequest
    import botocore.config
    import botocore.credentials
    import botocore.exceptions
except ImportError:
    print("boto3 is not installed (Debian: python3-boto3); skipping", file=sys.stderr)
    sys.exit(77)

EMBERD = None  # set from --emberd
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
# The key every test's emberd accepts (its --credentials file) and its clients sign with.
KEY_ID, SECRET = "ember", "ember"


def write_credentials(path):
    with open(path, "w") as f:
        f.write(f"# emberd --credentials, as the AWS CLI writes it\n[default]\n"
                f"aws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\nregion = us-east-1\n")
    os.chmod(path, 0o600)
    return path


def signed_headers(method, url, body=b"", headers=None, key_id=KEY_ID, secret=SECRET, at=None,
                   service="lambda"):
    """Headers with botocore's SigV4 Authorization for the request; `at` fakes the clock."""
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                             headers=dict(headers or {}))
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), service,
                                     "us-east-1")
    if at is None:
        signer.add_auth(request)
    else:
        class Clock(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return at.replace(tzinfo=None)

            @classmethod
            def now(cls, tz=None):
                return at if tz else at.replace(tzinfo=None)
        with unittest.mock.patch.object(botocore.auth.datetime, "datetime", Clock):
            signer.add_auth(request)
    return dict(request.headers.items())


def raw_request(port, method, path, body=b"", headers=None):
    """(status, lower-case headers, body) of one request sent as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, payload


def make_zip(source="def lambda_handler(event, context):\n    return event\n"):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", source)
    return data.getvalue()


class Emberd:
    """One emberd process on a state directory, serving TCP on a free port."""

    def __init__(self, workdir, auth=("--credentials", None)):
        """auth: the authentication flags; None in them is a credentials file with KEY_ID."""
        self.workdir = workdir
        self.socket = os.path.join(workdir, "run", "ember.sock")
        credentials = write_credentials(os.path.join(workdir, "credentials"))
        auth = [credentials if flag is None else flag for flag in auth]
        self.lines = []
        self.port = None
        guest = os.path.join(workdir, "guest")
        os.makedirs(guest, exist_ok=True)
        for name in ["vmlinux", "rootfs.erofs", "initramfs.cpio"]:
            open(os.path.join(guest, name), "wb").close()
        self.process = subprocess.Popen(
            [EMBERD, "--socket", self.socket, "--state-dir", os.path.join(workdir, "state"),
             "--listen", "127.0.0.1:0", *auth, "--drain-timeout-s", "5", "--vmm", "/bin/false",
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
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
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
        location = got["Code"]["Location"]  # on the TCP listener: a signed GET
        request = urllib.request.Request(location, headers=signed_headers("GET", location))
        with urllib.request.urlopen(request, timeout=10) as response:
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


class AuthTest(unittest.TestCase):
    """The TCP listener takes only requests SigV4-signed with a key of --credentials."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-auth-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.emberd = Emberd(self.workdir)
        self.url = f"http://127.0.0.1:{self.emberd.port}"

    def tearDown(self):
        if self.emberd.process.poll() is None:
            self.emberd.stop()

    def client(self, **keys):
        return boto3.client("lambda", endpoint_url=self.url, region_name="us-east-1",
                            config=botocore.config.Config(retries={"max_attempts": 1}), **keys)

    def assert_refused(self, status, headers, body, error_type, message):
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-amzn-errortype"], error_type)
        self.assertTrue(headers.get("x-amzn-requestid"))
        answer = json.loads(body)
        self.assertEqual(answer["Type"], "User")
        self.assertEqual(answer["message"], answer["Message"])
        if isinstance(message, re.Pattern):
            self.assertRegex(answer["message"], message)
        else:
            self.assertEqual(answer["message"], message)

    def assert_client_error(self, code, call, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(**kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        return caught.exception.response["Error"]["Message"]

    def function_names(self):
        client = self.client(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
        return [f["FunctionName"] for f in client.list_functions()["Functions"]]

    def create_body(self, name):
        return json.dumps({"FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
                           "Handler": "lambda_function.lambda_handler",
                           "Code": {"ZipFile": base64.b64encode(make_zip()).decode()}}).encode()

    def test_a_signed_request_works(self):
        client = self.client(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
        client.create_function(FunctionName="signed", Runtime="python3.11", Role=ROLE,
                               Handler="lambda_function.lambda_handler",
                               Code={"ZipFile": make_zip()})
        self.assertEqual(self.function_names(), ["signed"])
        # Signed with the scheduler's service name it reaches the scheduler API too.
        scheduler = boto3.client("scheduler", endpoint_url=self.url, region_name="us-east-1",
                                 aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
        self.assertEqual(scheduler.list_schedules()["Schedules"], [])
        self.assertIn("TCP requests must be signed (SigV4) with one of 1 keys",
                      "".join(self.emberd.lines))

    def test_unsigned_requests_are_refused(self):
        self.assert_refused(*raw_request(self.emberd.port, "GET", "/2015-03-31/functions/"),
                            "MissingAuthenticationTokenException", "Missing Authentication Token")
        anonymous = boto3.client("lambda", endpoint_url=self.url, region_name="us-east-1",
                                 config=botocore.config.Config(signature_version=botocore.UNSIGNED))
        self.assert_client_error("MissingAuthenticationTokenException", anonymous.list_functions)
        status, _, _ = raw_request(self.emberd.port, "POST", "/2015-03-31/functions",
                                   self.create_body("unsigned"))
        self.assertEqual(status, 403)
        self.assertEqual(self.function_names(), [])  # nothing was done

    def test_an_unknown_key_is_refused(self):
        stranger = self.client(aws_access_key_id="AKIASTRANGER", aws_secret_access_key=SECRET)
        message = self.assert_client_error("UnrecognizedClientException", stranger.list_functions)
        self.assertEqual(message, "The security token included in the request is invalid.")

    def test_a_wrong_secret_or_tampered_body_has_an_invalid_signature(self):
        mismatch = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.")
        wrong = self.client(aws_access_key_id=KEY_ID, aws_secret_access_key="not-the-secret")
        self.assertEqual(self.assert_client_error("InvalidSignatureException", wrong.list_functions),
                         mismatch)
        url = self.url + "/2015-03-31/functions"
        headers = signed_headers("POST", url, self.create_body("honest"),
                                 {"Content-Type": "application/json"})
        status, answer_headers, body = raw_request(self.emberd.port, "POST", "/2015-03-31/functions",
                                                   self.create_body("tampered"), headers)
        self.assert_refused(status, answer_headers, body, "InvalidSignatureException", mismatch)
        self.assertEqual(self.function_names(), [])  # nothing was created
        # The same signature with the body it was made for is accepted.
        status, _, _ = raw_request(self.emberd.port, "POST", "/2015-03-31/functions",
                                   self.create_body("honest"), headers)
        self.assertEqual(status, 201)
        self.assertIn("refused POST /2015-03-31/functions from 127.0.0.1: InvalidSignatureException",
                      "".join(self.emberd.lines))

    def test_a_stale_or_future_date_is_refused(self):
        url = self.url + "/2015-03-31/functions/"
        now = datetime.datetime.now(datetime.timezone.utc)
        stale = signed_headers("GET", url, at=now - datetime.timedelta(minutes=10))
        self.assert_refused(*raw_request(self.emberd.port, "GET", "/2015-03-31/functions/",
                                         headers=stale),
                            "InvalidSignatureException",
                            re.compile(r"^Signature expired: \d{8}T\d{6}Z is now earlier than "
                                       r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$"))
        future = signed_headers("GET", url, at=now + datetime.timedelta(minutes=10))
        self.assert_refused(*raw_request(self.emberd.port, "GET", "/2015-03-31/functions/",
                                         headers=future),
                            "InvalidSignatureException",
                            re.compile(r"^Signature not yet current: \d{8}T\d{6}Z is still later "
                                       r"than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$"))
        recent = signed_headers("GET", url, at=now - datetime.timedelta(minutes=2))
        self.assertEqual(raw_request(self.emberd.port, "GET", "/2015-03-31/functions/",
                                     headers=recent)[0], 200)

    def test_the_unix_socket_needs_no_signature(self):
        conn = http.client.HTTPConnection("localhost", timeout=30)
        conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.sock.connect(self.emberd.socket)
        conn.request("GET", "/2015-03-31/functions/")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()


class AuthFlagsTest(unittest.TestCase):
    """emberd's start-up refusals: no key source, --insecure-no-auth off loopback, bad files."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-auth-flags-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def run_emberd(self, *flags):
        return subprocess.run(
            [EMBERD, "--socket", os.path.join(self.workdir, "ember.sock"), "--state-dir",
             os.path.join(self.workdir, "state"), "--network", "off", "--vmm", "/bin/false",
             *flags], capture_output=True, text=True, timeout=30)

    def test_insecure_no_auth_on_every_address_is_refused(self):
        for listen in ("0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:9000"):
            run = self.run_emberd("--listen", listen, "--insecure-no-auth")
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn(f"--insecure-no-auth is refused with --listen {listen}", run.stderr)

    def test_listen_needs_credentials_or_insecure_no_auth(self):
        run = self.run_emberd("--listen", "127.0.0.1:0")
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("--credentials FILE", run.stderr)
        self.assertIn("--insecure-no-auth", run.stderr)

    def test_unusable_credentials_files_stop_the_start(self):
        missing = self.run_emberd("--listen", "127.0.0.1:0", "--credentials",
                                  os.path.join(self.workdir, "absent"))
        self.assertEqual(missing.returncode, 1)
        self.assertIn("read credentials", missing.stderr)
        self.assertIn("No such file or directory", missing.stderr)
        empty = os.path.join(self.workdir, "empty")
        with open(empty, "w") as f:
            f.write("[default]\nregion = us-east-1\n")
        run = self.run_emberd("--listen", "127.0.0.1:0", "--credentials", empty)
        self.assertEqual(run.returncode, 1)
        self.assertIn("no access keys in it", run.stderr)
        broken = os.path.join(self.workdir, "broken")
        with open(broken, "w") as f:
            f.write("aws_access_key_id = A\n")
        run = self.run_emberd("--listen", "127.0.0.1:0", "--credentials", broken)
        self.assertEqual(run.returncode, 1)
        self.assertIn(broken + ":1", run.stderr)

    def test_insecure_no_auth_on_loopback_serves_unsigned_requests(self):
        emberd = Emberd(self.workdir, auth=("--insecure-no-auth",))
        try:
            status, _, _ = raw_request(emberd.port, "GET", "/2015-03-31/functions/")
            self.assertEqual(status, 200)
            self.assertIn("--insecure-no-auth: TCP requests are not authenticated",
                          "".join(emberd.lines))
        finally:
            self.assertEqual(emberd.stop(), 0)


def main():
    global EMBERD
    parser = argparse.ArgumentParser()
    parser.add_argument("--emberd", required=True)
    args, rest = parser.parse_known_args()
    EMBERD = os.path.abspath(args.emberd)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
