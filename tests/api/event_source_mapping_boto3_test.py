#!/usr/bin/env python3
"""boto3's event source mapping operations against a real emberd (TCP listener, temporary state
directory, stand-in guest files: no VM runs, and nothing connects to Redis here): create, get,
update, list with pagination and filters, delete, validation errors, a conflict, a deleted
function taking its mappings along, a restart, and that a --redis URL's password never appears
in an answer. emberd is given --redis default=redis://127.0.0.1:1 and
--redis x=redis://:PASSWORD@127.0.0.1:1/0. Exits 77 (skipped) without boto3.

Usage: tests/api/event_source_mapping_boto3_test.py --emberd PATH [unittest args]
"""
import argparse
import datetime
import os
import shutil
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boto3_test  # noqa: E402  (exits 77 without boto3; its Emberd runs the daemon)

import botocore.exceptions  # noqa: E402

PASSWORD = "s3cret-Redis-pw"
REDIS_FLAGS = ["--redis", "default=redis://127.0.0.1:1",
               "--redis", f"x=redis://:{PASSWORD}@127.0.0.1:1/0"]
STREAM = "arn:ember:redis:::default/stream/orders"
QUEUE = "arn:ember:redis:::default/queue/jobs"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:worker"


def wrap_emberd(workdir, emberd):
    """A script that runs emberd with boto3_test's flags plus the --redis flags."""
    path = os.path.join(workdir, "emberd-with-redis")
    with open(path, "w") as script:
        script.write("#!/bin/sh\nexec " + " ".join(["'" + emberd + "'", '"$@"'] +
                                                   ["'" + f + "'" for f in REDIS_FLAGS]) + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class EventSourceMappingBoto3Test(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-esm-boto3-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        boto3_test.EMBERD = wrap_emberd(self.workdir, EMBERD)
        self.start()
        self.create_function("worker")
        self.create_function("other")

    def start(self):
        self.emberd = boto3_test.Emberd(self.workdir)
        self.client = self.emberd.client()
        self.answers = []  # every raw response body, for the password check

        def keep(http_response, **_):
            self.answers.append(http_response.content.decode("utf-8", "replace"))
        self.client.meta.events.register("after-call.lambda", keep)
        self.client.meta.events.register("after-call-error.lambda", keep)

    def tearDown(self):
        if self.emberd.process.poll() is None:
            self.emberd.stop()

    def create_function(self, name):
        self.client.create_function(
            FunctionName=name, Runtime="python3.11", Role=boto3_test.ROLE,
            Handler="lambda_function.lambda_handler", Code={"ZipFile": boto3_test.make_zip()})

    def assert_error(self, code, call, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        self.assertTrue(error["Message"])
        return error["Message"]

    def test_create_get_update_list_delete(self):
        created = self.client.create_event_source_mapping(
            FunctionName="worker", EventSourceArn=STREAM, StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=3, BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": "arn:ember:redis:::x/stream/dead"}},
            FilterCriteria={"Filters": [{"Pattern": '{"data": {"kind": ["order"]}}'}]})
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 202)
        uuid = created["UUID"]
        self.assertRegex(uuid, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                               r"[0-9a-f]{12}$")
        self.assertEqual(created["State"], "Creating")
        self.assertEqual(created["StateTransitionReason"], "USER_INITIATED")
        self.assertEqual(created["LastProcessingResult"], "No records processed")
        self.assertEqual(created["FunctionArn"], FUNCTION_ARN)
        self.assertEqual(created["EventSourceArn"], STREAM)
        self.assertEqual(created["BatchSize"], 100)
        self.assertEqual(created["StartingPosition"], "TRIM_HORIZON")
        self.assertEqual(created["MaximumRetryAttempts"], 3)
        self.assertEqual(created["MaximumRecordAgeInSeconds"], -1)
        self.assertTrue(created["BisectBatchOnFunctionError"])
        self.assertEqual(created["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(created["DestinationConfig"]["OnFailure"]["Destination"],
                         "arn:ember:redis:::x/stream/dead")
        self.assertEqual(created["FilterCriteria"]["Filters"][0]["Pattern"],
                         '{"data": {"kind": ["order"]}}')
        self.assertIsInstance(created["LastModified"], datetime.datetime)
        self.assertLess(abs(created["LastModified"].timestamp() - time.time()), 120)

        got = self.client.get_event_source_mapping(UUID=uuid)
        self.assertEqual(got["UUID"], uuid)
        self.assertEqual(got["MaximumRetryAttempts"], 3)

        updated = self.client.update_event_source_mapping(UUID=uuid, BatchSize=50, Enabled=False)
        self.assertEqual(updated["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertEqual(updated["State"], "Disabling")
        self.assertEqual(updated["BatchSize"], 50)
        self.assertEqual(updated["MaximumRetryAttempts"], 3)  # kept

        queue = self.client.create_event_source_mapping(
            FunctionName="other", EventSourceArn=QUEUE, ScalingConfig={"MaximumConcurrency": 4})
        self.assertEqual(queue["BatchSize"], 10)
        self.assertEqual(queue["ScalingConfig"], {"MaximumConcurrency": 4})
        self.assertNotIn("StartingPosition", queue)
        when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        at = self.client.create_event_source_mapping(
            FunctionName="other", EventSourceArn=STREAM, StartingPosition="AT_TIMESTAMP",
            StartingPositionTimestamp=when)
        self.assertEqual(at["StartingPositionTimestamp"], when)

        pages = list(self.client.get_paginator("list_event_source_mappings").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 2)
        listed = [m["UUID"] for page in pages for m in page["EventSourceMappings"]]
        self.assertEqual(listed, [uuid, queue["UUID"], at["UUID"]])
        by_function = self.client.list_event_source_mappings(FunctionName="other")
        self.assertEqual([m["UUID"] for m in by_function["EventSourceMappings"]],
                         [queue["UUID"], at["UUID"]])
        by_source = self.client.list_event_source_mappings(EventSourceArn=STREAM)
        self.assertEqual([m["UUID"] for m in by_source["EventSourceMappings"]],
                         [uuid, at["UUID"]])
        both = self.client.list_event_source_mappings(FunctionName=FUNCTION_ARN,
                                                      EventSourceArn=STREAM)
        self.assertEqual([m["UUID"] for m in both["EventSourceMappings"]], [uuid])
        self.assert_error("ValidationException", self.client.list_event_source_mappings,
                          MaxItems=10001)

        deleted = self.client.delete_event_source_mapping(UUID=uuid)
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertEqual(deleted["State"], "Deleting")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_event_source_mapping(UUID=uuid)
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_event_source_mapping(UUID=uuid)
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.update_event_source_mapping(UUID=uuid, BatchSize=5)

    def test_validation_errors_and_a_conflict(self):
        create = self.client.create_event_source_mapping
        message = self.assert_error("InvalidParameterValueException", create,
                                    FunctionName="worker", StartingPosition="LATEST",
                                    EventSourceArn="arn:ember:redis:::nowhere/stream/s")
        self.assertIn("emberd has no Redis server named 'nowhere'; start it with "
                      "--redis nowhere=redis://host:port", message)
        message = self.assert_error("InvalidParameterValueException", create,
                                    FunctionName="worker",
                                    EventSourceArn="arn:aws:sqs:us-east-1:123456789012:q")
        self.assertIn("arn:ember:redis:::SERVER/queue/KEY", message)
        message = self.assert_error("InvalidParameterValueException", create,
                                    FunctionName="worker", EventSourceArn=STREAM)
        self.assertIn("StartingPosition is required", message)
        self.assert_error("InvalidParameterValueException", create, FunctionName="worker",
                          EventSourceArn=QUEUE, StartingPosition="LATEST")
        self.assert_error("ValidationException", create, FunctionName="worker",
                          EventSourceArn=STREAM, StartingPosition="LATEST", BatchSize=10001)
        self.assert_error("InvalidParameterValueException", create, FunctionName="worker",
                          EventSourceArn=QUEUE, BatchSize=11)
        self.assert_error("InvalidParameterValueException", create, FunctionName="worker",
                          EventSourceArn=QUEUE, BisectBatchOnFunctionError=True)
        message = self.assert_error("InvalidParameterValueException", create,
                                    FunctionName="worker", EventSourceArn=STREAM,
                                    StartingPosition="LATEST", Topics=["t"])
        self.assertIn("Topics", message)
        self.assert_error("InvalidParameterValueException", create, FunctionName="worker",
                          EventSourceArn=STREAM, StartingPosition="LATEST",
                          FilterCriteria={"Filters": [{"Pattern": "[1]"}]})
        self.assert_error("ResourceNotFoundException", create, FunctionName="nope",
                          EventSourceArn=QUEUE)
        self.assert_error("ResourceNotFoundException", self.client.get_event_source_mapping,
                          UUID="00000000-0000-4000-8000-000000000000")
        self.assertEqual(self.client.list_event_source_mappings()["EventSourceMappings"], [])

        first = create(FunctionName="worker", EventSourceArn=QUEUE)
        with self.assertRaises(self.client.exceptions.ResourceConflictException) as caught:
            create(FunctionName="worker", EventSourceArn=QUEUE)
        self.assertIn(first["UUID"], str(caught.exception))

    def test_a_deleted_function_takes_its_mappings(self):
        self.client.create_event_source_mapping(FunctionName="worker", EventSourceArn=QUEUE)
        kept = self.client.create_event_source_mapping(FunctionName="other", EventSourceArn=QUEUE)
        self.client.delete_function(FunctionName="worker")
        left = self.client.list_event_source_mappings()["EventSourceMappings"]
        self.assertEqual([m["UUID"] for m in left], [kept["UUID"]])

    def test_restart_keeps_mappings(self):
        created = self.client.create_event_source_mapping(
            FunctionName="worker", EventSourceArn=QUEUE, BatchSize=7)
        self.assertEqual(self.emberd.stop(), 0)
        self.start()
        got = self.client.get_event_source_mapping(UUID=created["UUID"])
        self.assertEqual(got["BatchSize"], 7)
        self.assertEqual(got["EventSourceArn"], QUEUE)

    def test_the_redis_password_is_never_answered(self):
        create = self.client.create_event_source_mapping
        uuid = create(FunctionName="worker", EventSourceArn="arn:ember:redis:::x/queue/q")["UUID"]
        self.client.get_event_source_mapping(UUID=uuid)
        self.client.list_event_source_mappings()
        self.client.update_event_source_mapping(UUID=uuid, BatchSize=3)
        # Errors that name the servers emberd has.
        message = self.assert_error("InvalidParameterValueException", create,
                                    FunctionName="worker",
                                    EventSourceArn="arn:ember:redis:::y/queue/q")
        self.assertIn("x", message)
        self.assert_error("InvalidParameterValueException", create, FunctionName="worker",
                          EventSourceArn="arn:ember:redis:::x/stream/s",
                          StartingPosition="LATEST",
                          DestinationConfig={"OnFailure": {"Destination":
                                                           "arn:ember:redis:::z/stream/d"}})
        self.client.delete_event_source_mapping(UUID=uuid)
        self.assertGreaterEqual(len(self.answers), 7)
        for answer in self.answers:
            self.assertNotIn(PASSWORD, answer)


def main():
    global EMBERD
    parser = argparse.ArgumentParser()
    parser.add_argument("--emberd", required=True)
    args, rest = parser.parse_known_args()
    EMBERD = os.path.abspath(args.emberd)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


EMBERD = None  # set from --emberd; each test wraps it with the --redis flags

if __name__ == "__main__":
    main()
