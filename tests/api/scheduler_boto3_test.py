#!/usr/bin/env python3
"""boto3's EventBridge Scheduler client against a real emberd (TCP listener, temporary state
directory, stand-in guest files: no VM runs): create, get, update, list with pagination and
filters, delete, validation errors, a conflict, the default group, a one-time schedule that
fires and deletes itself, and a restart that keeps schedules. Exits 77 (skipped) without
boto3.

Usage: tests/api/scheduler_boto3_test.py --emberd PATH [unittest args]
"""
import argparse
import datetime
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boto3_test  # noqa: E402  (exits 77 without boto3; its Emberd runs the daemon)

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/scheduler-role"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:tick"


def scheduler_client(emberd):
    return boto3.client(
        "scheduler", endpoint_url=f"http://127.0.0.1:{emberd.port}", region_name="us-east-1",
        aws_access_key_id="ember", aws_secret_access_key="ember",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60))


class SchedulerBoto3Test(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ember-scheduler-boto3-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.emberd = boto3_test.Emberd(self.workdir)
        self.client = scheduler_client(self.emberd)

    def tearDown(self):
        if self.emberd.process.poll() is None:
            self.emberd.stop()

    def create(self, name, expression="rate(5 minutes)", **extra):
        args = dict(Name=name, ScheduleExpression=expression,
                    FlexibleTimeWindow={"Mode": "OFF"},
                    Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE})
        args.update(extra)
        return self.client.create_schedule(**args)

    def assert_error(self, code, call, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        self.assertTrue(error["Message"])
        return error["Message"]

    def test_create_get_update_delete(self):
        start = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
        created = self.create(
            "nightly", "cron(0 2 * * ? *)", ScheduleExpressionTimezone="Europe/Berlin",
            StartDate=start, EndDate=start + datetime.timedelta(days=30), State="ENABLED",
            Description="every night", ActionAfterCompletion="NONE",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
            Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE, "Input": '{"job": "backup"}',
                    "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}})
        arn = "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly"
        self.assertEqual(created["ScheduleArn"], arn)

        got = self.client.get_schedule(Name="nightly")
        self.assertEqual(got["Arn"], arn)
        self.assertEqual(got["GroupName"], "default")
        self.assertEqual(got["ScheduleExpression"], "cron(0 2 * * ? *)")
        self.assertEqual(got["ScheduleExpressionTimezone"], "Europe/Berlin")
        self.assertEqual(got["StartDate"], start)
        self.assertEqual(got["EndDate"], start + datetime.timedelta(days=30))
        self.assertEqual(got["Description"], "every night")
        self.assertEqual(got["FlexibleTimeWindow"], {"Mode": "FLEXIBLE",
                                                     "MaximumWindowInMinutes": 10})
        self.assertEqual(got["Target"]["Input"], '{"job": "backup"}')
        self.assertEqual(got["Target"]["RetryPolicy"],
                         {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600})
        self.assertIsInstance(got["CreationDate"], datetime.datetime)
        self.assertLess(abs(got["CreationDate"].timestamp() - time.time()), 120)

        # UpdateSchedule replaces the whole schedule: what it leaves out is gone.
        self.client.update_schedule(Name="nightly", ScheduleExpression="rate(1 hour)",
                                    FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED",
                                    Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE})
        got = self.client.get_schedule(Name="nightly", GroupName="default")
        self.assertEqual(got["ScheduleExpression"], "rate(1 hour)")
        self.assertEqual(got["State"], "DISABLED")
        self.assertNotIn("Description", got)
        self.assertNotIn("StartDate", got)
        self.assertNotIn("Input", got["Target"])
        self.assertEqual(got["Target"]["RetryPolicy"],
                         {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400})

        self.client.delete_schedule(Name="nightly")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_schedule(Name="nightly")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_schedule(Name="nightly")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.update_schedule(Name="nightly", ScheduleExpression="rate(1 hour)",
                                        FlexibleTimeWindow={"Mode": "OFF"},
                                        Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE})

    def test_list_paginates_and_filters(self):
        for name in ["job-c", "job-a", "other", "job-b", "job-d"]:
            self.create(name)
        self.create("job-off", State="DISABLED")
        pages = list(self.client.get_paginator("list_schedules").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 3)
        names = [s["Name"] for page in pages for s in page["Schedules"]]
        self.assertEqual(names, ["job-a", "job-b", "job-c", "job-d", "job-off", "other"])
        summary = pages[0]["Schedules"][0]
        self.assertEqual(summary["Arn"],
                         "arn:aws:scheduler:us-east-1:000000000000:schedule/default/job-a")
        self.assertEqual(summary["Target"], {"Arn": FUNCTION_ARN})
        self.assertEqual(summary["State"], "ENABLED")

        prefixed = self.client.list_schedules(NamePrefix="job-", MaxResults=3)
        self.assertEqual([s["Name"] for s in prefixed["Schedules"]], ["job-a", "job-b", "job-c"])
        rest = self.client.list_schedules(NamePrefix="job-", NextToken=prefixed["NextToken"])
        self.assertEqual([s["Name"] for s in rest["Schedules"]], ["job-d", "job-off"])
        self.assertNotIn("NextToken", rest)
        disabled = self.client.list_schedules(State="DISABLED")
        self.assertEqual([s["Name"] for s in disabled["Schedules"]], ["job-off"])
        self.assert_error("ValidationException", self.client.list_schedules, MaxResults=101)
        self.assert_error("ResourceNotFoundException", self.client.list_schedules,
                          GroupName="mine")

    def test_validation_errors_and_a_conflict(self):
        message = self.assert_error("ValidationException", self.create, "bad", "rate(0 hours)")
        self.assertIn("rate(0 hours)", message)
        self.assert_error("ValidationException", self.create, "bad", "sometimes")
        message = self.assert_error("ValidationException", self.create, "bad",
                                    ScheduleExpressionTimezone="Nowhere/Special")
        self.assertIn("Nowhere/Special", message)
        message = self.assert_error(
            "ValidationException", self.create, "bad",
            Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:queue", "RoleArn": ROLE})
        self.assertIn("only Lambda targets", message)
        self.assert_error("ValidationException", self.create, "bad",
                          FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441})
        self.assert_error("ValidationException", self.create, "bad",
                          FlexibleTimeWindow={"Mode": "FLEXIBLE"})
        self.assert_error("ValidationException", self.create, "bad",
                          Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE,
                                  "RetryPolicy": {"MaximumRetryAttempts": 186}})
        self.assert_error("ValidationException", self.create, "bad", Description="d" * 513)
        self.assert_error("ValidationException", self.create, "bad name")
        self.assert_error("ResourceNotFoundException", self.create, "grouped", GroupName="mine")
        self.assertEqual(self.client.list_schedules()["Schedules"], [])

        self.create("taken")
        with self.assertRaises(self.client.exceptions.ConflictException):
            self.create("taken")

    def test_the_default_group(self):
        group = self.client.get_schedule_group(Name="default")
        self.assertEqual(group["Arn"],
                         "arn:aws:scheduler:us-east-1:000000000000:schedule-group/default")
        self.assertEqual(group["State"], "ACTIVE")
        groups = self.client.list_schedule_groups()["ScheduleGroups"]
        self.assertEqual([g["Name"] for g in groups], ["default"])
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_schedule_group(Name="other")
        self.create("x")
        with self.assertRaises(self.client.exceptions.ResourceNotFoundException):
            self.client.get_schedule(Name="x", GroupName="other")

    def test_a_one_time_schedule_fires_and_deletes_itself(self):
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        self.create("soon", "at(" + when.strftime("%Y-%m-%dT%H:%M:%S") + ")",
                    ActionAfterCompletion="DELETE",
                    Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE, "Input": '{"n": 1}'})
        self.assertEqual(self.client.get_schedule(Name="soon")["ActionAfterCompletion"],
                         "DELETE")
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.client.get_schedule(Name="soon")
            except self.client.exceptions.ResourceNotFoundException:
                break
            time.sleep(0.2)
        else:
            self.fail("the at() schedule was not deleted after its time:\n" +
                      "".join(self.emberd.lines))
        # The firing went into the async queue (still waiting, or already finished there).
        db = sqlite3.connect(os.path.join(self.workdir, "state", "events.db"))
        try:
            waiting = db.execute("SELECT COUNT(*) FROM events WHERE source = 'schedule:soon'"
                                 " AND payload = '{\"n\": 1}'").fetchone()[0]
            finished = db.execute("SELECT COUNT(*) FROM history WHERE function_name = 'tick'"
                                  ).fetchone()[0]
        finally:
            db.close()
        self.assertEqual(waiting + finished, 1)

    def test_restart_keeps_schedules(self):
        self.create("durable", "rate(7 days)", Description="kept")
        self.assertEqual(self.emberd.stop(), 0)
        self.emberd = boto3_test.Emberd(self.workdir)
        client = scheduler_client(self.emberd)
        got = client.get_schedule(Name="durable")
        self.assertEqual(got["Description"], "kept")
        self.assertEqual(got["ScheduleExpression"], "rate(7 days)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emberd", required=True)
    args, rest = parser.parse_known_args()
    boto3_test.EMBERD = os.path.abspath(args.emberd)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
