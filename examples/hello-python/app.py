"""Ember's demo function: greets the caller and says where it ran."""
import platform
import time

GREETING = "Hello"  # computed once, at init: a restored snapshot already has it


def handler(event, context):
    name = event.get("name", "world")
    time.sleep(event.get("sleep_s", 0))  # lets the demo keep this VM busy
    print(f"greeting {name}")
    return {
        "message": f"{GREETING}, {name}!",
        "request_id": context.aws_request_id,
        "kernel": platform.release(),
        "memory_mb": context.memory_limit_in_mb,
    }
