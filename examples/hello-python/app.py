"""Ember's demo function: greets the caller and says where it ran."""
import base64
import json
import platform
import time

GREETING = "Hello"  # computed once, at init: a restored snapshot already has it


def handler(event, context):
    if "Records" in event:  # a batch from an event source mapping (a Redis stream)
        names = [json.loads(base64.b64decode(r["kinesis"]["data"]))["name"] for r in event["Records"]]
        for name in names:
            print(f"greeting {name}")
        return {"greeted": names}
    name = event.get("name", "world")
    time.sleep(event.get("sleep_s", 0))  # lets the demo keep this VM busy
    print(f"greeting {name}")
    return {
        "message": f"{GREETING}, {name}!",
        "request_id": context.aws_request_id,
        "kernel": platform.release(),
        "memory_mb": context.memory_limit_in_mb,
    }
