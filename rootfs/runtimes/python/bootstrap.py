"""Ember's python3.11 runtime: imports the function's handler, then serves invocations
from the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API until the agent goes away.

Python 3.11 standard library only. Started by ember-agent as
`/usr/bin/python3 /opt/ember/runtimes/python/bootstrap.py` with cwd LAMBDA_TASK_ROOT.
"""

import decimal
import importlib
import io
import json
import logging
import os
import random
import socket
import sys
import time
import traceback

API_VERSION = "/2018-06-01/runtime"
THIS_FILE = os.path.abspath(__file__)


class FaultError(Exception):
    """An error of the runtime itself (not of the handler), with Lambda's error type."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def unbuffered_stdio():
    """stdout and stderr straight to their fds, so every print reaches the log at once."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
        setattr(sys, name, stream)
        setattr(sys, "__%s__" % name, stream)


class RuntimeApi:
    """One keep-alive HTTP/1.1 connection to the Runtime API, spoken directly on a socket.

    The agent's server always sends Content-Length, and "Connection: close" when it ends a
    connection. http.client parsed each response's headers with the email package: this
    takes a quarter off the agent <-> runtime hop of a warm invocation (bench-invoke)."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.host_header = address.encode("ascii")
        self.sock = None
        self.buffer = b""

    def connect(self):
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def receive(self):
        data = self.sock.recv(65536)
        if not data:
            self.close()
            raise ConnectionError("the Runtime API closed the connection mid-response")
        self.buffer += data

    def request(self, method, path, body=None, headers=None):
        """(status, headers with lower-case names, body bytes)."""
        if self.sock is None:
            self.connect()
        lines = [("%s %s%s HTTP/1.1" % (method, API_VERSION, path)).encode("ascii"),
                 b"Host: " + self.host_header]
        for name, value in (headers or {}).items():
            lines.append(("%s: %s" % (name, value)).encode("latin-1"))
        if body is not None:
            lines.append(b"Content-Length: %d" % len(body))
        self.sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            self.receive()
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4:]
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        while len(self.buffer) < length:
            self.receive()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, fields, payload

    def next(self):
        status, headers, body = self.request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError("invocation/next answered %d: %r" % (status, body[:200]))
        return headers, body

    def post_response(self, request_id, body):
        return self.request("POST", "/invocation/%s/response" % request_id, body,
                            {"Content-Type": "application/json"})

    def post_error(self, request_id, error):
        return self.request("POST", "/invocation/%s/error" % request_id, to_json(error),
                            {"Content-Type": "application/json",
                             "Lambda-Runtime-Function-Error-Type": error["errorType"]})

    def post_init_error(self, error):
        return self.request("POST", "/init/error", to_json(error),
                            {"Content-Type": "application/json",
                             "Lambda-Runtime-Function-Error-Type": error["errorType"]})


def to_json(value):
    def default(obj):
        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)
    return json.dumps(value, default=default).encode("utf-8")


def user_frames(tb):
    """The traceback's frames without this file's own or the import machinery's."""
    return [frame for frame in traceback.extract_tb(tb)
            if frame.filename != THIS_FILE and not frame.filename.startswith("<frozen ")]


def error_document(error):
    """Lambda's error JSON for an exception: errorMessage, errorType, stackTrace."""
    if isinstance(error, FaultError):
        return {"errorMessage": error.message, "errorType": error.error_type,
                "stackTrace": error.stack_trace}
    return {"errorMessage": str(error), "errorType": type(error).__name__,
            "stackTrace": traceback.format_list(user_frames(error.__traceback__))}


def log_error(document):
    """The error in the function's log, as Lambda prints it."""
    lines = ["[ERROR] %s: %s" % (document["errorType"], document["errorMessage"])]
    if document["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in document["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


def load_handler(handler_name, task_root):
    """Imports 'pkg.mod.fn' (or 'dir/mod.fn') from task_root; FaultError when it cannot."""
    module_name, dot, function_name = handler_name.rpartition(".")
    if not dot or not module_name or not function_name:
        raise FaultError("Runtime.MalformedHandlerName",
                         "Bad handler '%s': expected module.function" % handler_name)
    module_name = module_name.replace("/", ".")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         "Cannot use built-in module %s as a handler module" % module_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (module_name, e)) from e
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, (e.text or "").strip())]
        raise FaultError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (module_name, e), trace) from e
    function = getattr(module, function_name, None)
    if function is None:
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (function_name, module_name))
    if not callable(function):
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' on module '%s' is not callable" % (function_name, module_name))
    return function


class CognitoIdentity:
    def __init__(self, fields):
        self.cognito_identity_id = fields.get("cognitoIdentityId")
        self.cognito_identity_pool_id = fields.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, fields):
        self.installation_id = fields.get("installation_id")
        self.app_title = fields.get("app_title")
        self.app_version_name = fields.get("app_version_name")
        self.app_version_code = fields.get("app_version_code")
        self.app_package_name = fields.get("app_package_name")


class ClientContext:
    def __init__(self, fields):
        self.client = Client(fields["client"]) if fields.get("client") else None
        self.custom = fields.get("custom")
        self.env = fields.get("env")


def parse_json_header(value):
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class LambdaContext:
    """The handler's `context`, with the attributes of Lambda's Python runtime."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context,
                 cognito_identity):
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME",
                                      "/aws/lambda/%s" % (self.function_name or ""))
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        context = parse_json_header(client_context)
        self.client_context = ClientContext(context) if context is not None else None
        self.identity = CognitoIdentity(parse_json_header(cognito_identity) or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self):
        return "LambdaContext(aws_request_id=%r, function_name=%r)" % (
            self.aws_request_id, self.function_name)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on log records, for Lambda's log line format."""
    request_id = None

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def configure_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def run_invocation(api, handler, headers, body):
    request_id = headers.get("lambda-runtime-aws-request-id")
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    RequestIdFilter.request_id = request_id
    context = LambdaContext(request_id, int(headers.get("lambda-runtime-deadline-ms") or 0),
                            headers.get("lambda-runtime-invoked-function-arn"),
                            headers.get("lambda-runtime-client-context"),
                            headers.get("lambda-runtime-cognito-identity"))
    try:
        try:
            event = json.loads(body) if body else {}
        except ValueError as e:
            raise FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e) from e
        result = handler(event, context)
        try:
            payload = to_json(result)
        except (TypeError, ValueError) as e:
            raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % e) from e
    except Exception as e:  # the handler's errors go back to the caller, the loop goes on
        document = error_document(e)
        log_error(document)
        api.post_error(request_id, document)
        return
    api.post_response(request_id, payload)


def reseed_after_restore():
    """Every clone of a snapshot starts with the state `random` got during init: give it
    fresh state from the kernel's RNG, which the agent's Refresh reseeded. (os.urandom,
    secrets and uuid4 read the kernel's RNG already.)"""
    random.seed()


def main():
    unbuffered_stdio()
    configure_logging()
    api = RuntimeApi(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""), task_root)
    except Exception as e:  # import-time errors of any kind end the init
        document = error_document(e)
        log_error(document)
        api.post_init_error(document)
        sys.exit(1)
    restores_seen = 0
    while True:
        headers, body = api.next()
        restores = int(headers.get("ember-restore-count") or 0)
        if restores != restores_seen:  # restored from a snapshot since the last invocation
            restores_seen = restores
            reseed_after_restore()
        run_invocation(api, handler, headers, body)


if __name__ == "__main__":
    main()
