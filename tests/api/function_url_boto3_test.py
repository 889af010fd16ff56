#!/usr/bin/env python3
"""boto3's function URL operations against a real emberd (TCP listener, temporary state, no
VM): create, get, update, list, delete, their errors, a deleted function taking its URL with
it, and HTTP requests to the returned FunctionUrl reaching emberd's URL route: a CORS
preflight answered from the config, an unknown URL, and a GET whose invocation cannot run
here, answered in Lambda's shape. AuthType AWS_IAM URLs: a request signed with botocore's
SigV4Auth (service lambda) gets past the check, unsigned, wrong-secret, tampered and stale
ones get Lambda's 403s and are logged, and with --insecure-no-auth every request is refused.
Runs a function through a URL only in tests/vm/. Exits 77 (skipped) without boto3.

Usage: tests/api/function_url_boto3_test.py --emberd PATH [unittest args]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boto3_test  # noqa: E402  (Emberd and make_zip; exits 77 itself without boto3)
import botocore.exceptions  # noqa: E402

URL_ID = r"[a-z0-9]{32}"


def http(method, url, headers=None, body=None):
    """(status, headers, body) of one request, errors included."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_for_log(emberd, text, timeout=10):
    """Whether emberd's stderr shows text within timeout seconds."""
    deadline = time.monotonic() + timeout
    while text not in "".join(emberd.lines):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class FunctionUrlBoto3Test(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-url-boto3-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.emberd = boto3_test.Emberd(self.workdir)
        self.client = self.emberd.client()

    def tearDown(self):
        if self.emberd.process.poll() is None:
            self.emberd.stop()

    def create_function(self, name):
        self.client.create_function(FunctionName=name, Runtime="python3.11", Role=boto3_test.ROLE,
                                    Handler="lambda_function.lambda_handler",
                                    Code={"ZipFile": boto3_test.make_zip()})

    def assert_error(self, code, call, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(**kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code)
        self.assertTrue(caught.exception.response["Error"]["Message"])
        return caught.exception.response

    def test_create_get_update_list_delete(self):
        self.create_function("web")
        created = self.client.create_function_url_config(
            FunctionName="web", AuthType="NONE",
            Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"]})
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 201)
        url = created["FunctionUrl"]
        self.assertRegex(url, rf"^http://127\.0\.0\.1:{self.emberd.port}/lambda-url/{URL_ID}/$")
        self.assertEqual(created["FunctionArn"],
                         "arn:aws:lambda:us-east-1:000000000000:function:web")
        self.assertEqual(created["AuthType"], "NONE")
        self.assertEqual(created["Cors"]["AllowOrigins"], ["https://app.example"])
        self.assertRegex(created["CreationTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

        got = self.client.get_function_url_config(FunctionName="web")
        self.assertEqual(got["FunctionUrl"], url)
        self.assertEqual(got["InvokeMode"], "BUFFERED")
        self.assertIn("LastModifiedTime", got)

        updated = self.client.update_function_url_config(FunctionName="web",
                                                         Cors={"AllowOrigins": ["*"], "MaxAge": 60})
        self.assertEqual(updated["FunctionUrl"], url)
        self.assertEqual(updated["Cors"]["MaxAge"], 60)
        self.assertEqual(
            self.client.get_function_url_config(FunctionName="web")["Cors"]["AllowOrigins"], ["*"])

        pages = list(self.client.get_paginator("list_function_url_configs").paginate(
            FunctionName="web", PaginationConfig={"PageSize": 1}))
        listed = [config["FunctionUrl"] for page in pages for config in page["FunctionUrlConfigs"]]
        self.assertEqual(listed, [url])

        deleted = self.client.delete_function_url_config(FunctionName="web")
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assert_error("ResourceNotFoundException", self.client.get_function_url_config,
                          FunctionName="web")
        self.assertEqual(self.client.list_function_url_configs(FunctionName="web")
                         ["FunctionUrlConfigs"], [])
        status, _, _ = http("GET", url)
        self.assertEqual(status, 403)  # a deleted URL answers as an unknown one

    def test_errors(self):
        self.create_function("web")
        self.assert_error("ResourceNotFoundException", self.client.create_function_url_config,
                          FunctionName="nobody", AuthType="NONE")
        self.assert_error("ValidationException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="IAM")
        self.assert_error("InvalidParameterValueException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="NONE", InvokeMode="RESPONSE_STREAM")
        self.assert_error("ValidationException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="NONE", Cors={"MaxAge": 86401})
        self.assert_error("InvalidParameterValueException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="NONE", Cors={"AllowMethods": ["FETCH"]})
        self.assert_error("ValidationException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="NONE", Qualifier="$LATEST")
        self.assert_error("ResourceNotFoundException", self.client.create_function_url_config,
                          FunctionName="web", AuthType="NONE", Qualifier="prod")
        self.assert_error("ResourceNotFoundException", self.client.get_function_url_config,
                          FunctionName="web")
        self.assert_error("ResourceNotFoundException", self.client.update_function_url_config,
                          FunctionName="web", AuthType="NONE")
        self.assert_error("ResourceNotFoundException", self.client.delete_function_url_config,
                          FunctionName="web")
        self.assert_error("ResourceNotFoundException", self.client.list_function_url_configs,
                          FunctionName="nobody")

        self.client.create_function_url_config(FunctionName="web", AuthType="NONE")
        conflict = self.assert_error("ResourceConflictException",
                                     self.client.create_function_url_config,
                                     FunctionName="web", AuthType="NONE")
        self.assertEqual(conflict["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.assert_error("ValidationException", self.client.update_function_url_config,
                          FunctionName="web", AuthType="IAM")

    def test_deleting_the_function_deletes_its_url(self):
        self.create_function("web")
        url = self.client.create_function_url_config(FunctionName="web",
                                                     AuthType="NONE")["FunctionUrl"]
        self.client.delete_function(FunctionName="web")
        self.create_function("web")
        self.assert_error("ResourceNotFoundException", self.client.get_function_url_config,
                          FunctionName="web")
        again = self.client.create_function_url_config(FunctionName="web", AuthType="NONE")
        self.assertNotEqual(again["FunctionUrl"], url)

    def test_the_url_reaches_emberd(self):
        self.create_function("web")
        url = self.client.create_function_url_config(
            FunctionName="web", AuthType="NONE",
            Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"],
                  "MaxAge": 300})["FunctionUrl"]

        # A preflight is answered from the Cors config, without running the function.
        status, headers, _ = http("OPTIONS", url + "items", {
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["Access-Control-Allow-Origin"], "https://app.example")
        self.assertEqual(headers["Access-Control-Allow-Methods"], "POST")
        self.assertEqual(headers["Access-Control-Max-Age"], "300")

        # The invocation needs a VM, which this test has not: the answer is Lambda-shaped.
        status, headers, body = http("GET", url + "items/7?tag=a&tag=b",
                                     {"Origin": "https://app.example"})
        self.assertEqual(status, 500, body)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(headers["x-amzn-ErrorType"], "ServiceException")
        self.assertIn(headers["x-amzn-RequestId"], json.loads(body)["Message"])
        self.assertEqual(headers["Access-Control-Allow-Origin"], "https://app.example")
        # The cause is in emberd's log (read by a thread: the line may lag the answer).
        self.assertTrue(wait_for_log(self.emberd, headers["x-amzn-RequestId"]),
                        "".join(self.emberd.lines))

        unknown = re.sub(URL_ID, "0" * 32, url)
        status, headers, body = http("GET", unknown)
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-amzn-ErrorType"], "AccessDeniedException")
        self.assertIsInstance(json.loads(body)["Message"], str)


class FunctionUrlIamTest(unittest.TestCase):
    """AuthType AWS_IAM: only requests SigV4-signed for lambda with a --credentials key run."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-url-iam-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def start(self, auth=("--credentials", None)):
        self.emberd = boto3_test.Emberd(self.workdir, auth)
        self.addCleanup(lambda: self.emberd.process.poll() is None and self.emberd.stop())
        client = self.emberd.client()
        client.create_function(FunctionName="web", Runtime="python3.11", Role=boto3_test.ROLE,
                               Handler="lambda_function.lambda_handler",
                               Code={"ZipFile": boto3_test.make_zip()})
        created = client.create_function_url_config(FunctionName="web", AuthType="AWS_IAM")
        self.assertEqual(created["AuthType"], "AWS_IAM")
        self.url = created["FunctionUrl"]
        self.path = self.url[len(f"http://127.0.0.1:{self.emberd.port}"):]
        return client

    def send(self, method, suffix="", body=b"", headers=None):
        return boto3_test.raw_request(self.emberd.port, method, self.path + suffix, body, headers)

    def assert_forbidden(self, answer, error_type, key, message):
        status, headers, body = answer
        self.assertEqual(status, 403, body)
        self.assertEqual(headers["x-amzn-errortype"], error_type)
        self.assertTrue(headers.get("x-amzn-requestid"))
        if isinstance(message, re.Pattern):
            self.assertRegex(json.loads(body)[key], message)
        else:
            self.assertEqual(json.loads(body), {key: message})

    def assert_ran(self, answer):
        # The invocation needs a VM, which this test has not: past the signature check, the
        # answer is the invoker's 500, not a 403.
        status, headers, body = answer
        self.assertEqual(status, 500, body)
        self.assertEqual(headers["x-amzn-errortype"], "ServiceException")

    def test_signed_requests_run_and_others_are_forbidden(self):
        client = self.start()
        mismatch = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.")
        target = self.url + "items/7?tag=a&tag=b"
        self.assert_ran(self.send("GET", "items/7?tag=a&tag=b",
                                  headers=boto3_test.signed_headers("GET", target)))
        body = b'{"amount":1}'
        signed_post = boto3_test.signed_headers("POST", self.url, body)
        self.assert_ran(self.send("POST", body=body, headers=signed_post))

        self.assert_forbidden(self.send("GET"), "AccessDeniedException", "Message", "Forbidden")
        self.assert_forbidden(
            self.send("GET", headers=boto3_test.signed_headers("GET", self.url,
                                                               secret="not-the-secret")),
            "InvalidSignatureException", "message", mismatch)
        self.assert_forbidden(
            self.send("GET", headers=boto3_test.signed_headers("GET", self.url,
                                                               key_id="AKIASTRANGER")),
            "UnrecognizedClientException", "message",
            "The security token included in the request is invalid.")
        self.assert_forbidden(self.send("POST", body=b'{"amount":9}', headers=signed_post),
                              "InvalidSignatureException", "message", mismatch)
        stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
        self.assert_forbidden(
            self.send("GET", headers=boto3_test.signed_headers("GET", self.url, at=stale)),
            "InvalidSignatureException", "message", re.compile(r"^Signature expired: "))
        self.assert_forbidden(
            self.send("GET", headers=boto3_test.signed_headers("GET", self.url,
                                                               service="scheduler")),
            "InvalidSignatureException", "message",
            re.compile(r"^Credential should be scoped to correct service: 'lambda', not "))
        self.assertTrue(wait_for_log(self.emberd, "refused function URL POST"))
        log = "".join(self.emberd.lines)
        self.assertIn(f"refused function URL GET {self.path} from 127.0.0.1: "
                      "MissingAuthenticationTokenException", log)
        self.assertIn(f"refused function URL POST {self.path} from 127.0.0.1: "
                      "InvalidSignatureException", log)

        # Back to NONE: the same unsigned request gets past the check.
        client.update_function_url_config(FunctionName="web", AuthType="NONE")
        self.assert_ran(self.send("GET"))

    def test_without_credentials_every_request_is_refused(self):
        self.start(auth=("--insecure-no-auth",))
        for headers in [None, boto3_test.signed_headers("GET", self.url)]:
            status, answer_headers, body = self.send("GET", headers=headers)
            self.assertEqual(status, 403, body)
            self.assertEqual(answer_headers["x-amzn-errortype"], "AccessDeniedException")
            self.assertIn("without --credentials", json.loads(body)["Message"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emberd", required=True)
    args, rest = parser.parse_known_args()
    boto3_test.EMBERD = os.path.abspath(args.emberd)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
