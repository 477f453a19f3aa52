#!/usr/bin/env python3
"""A JobMetrics server written with grpcio: a second gRPC implementation, independent of
tonic, that serves Arroyo's metrics RPC the way a real controller does, for interop
tests (tests/grpc_interop.rs) and benchmarks.

It speaks the wire format of Arroyo's proto (package ``arroyo_rpc``)::

    message JobMetricsReq  { string job_id  = 1; }
    message JobMetricsResp { string metrics = 1; }

with a few lines of protobuf encoding of its own (no generated code), on
``/arroyo_rpc.ControllerGrpc/JobMetrics`` (Arroyo v0.11 to v0.15) and/or
``/arroyo_rpc.JobControllerGrpc/JobMetrics`` (Arroyo main). A method it does not serve
answers UNIMPLEMENTED, as grpcio does for any unknown method.

Usage::

    grpc_server.py --listen 127.0.0.1:0 --port-file /tmp/port \\
        --serve job_DsH3Sq8cSj=tests/fixtures/arroyo-main-addb390/job_metrics_rpc.json \\
        [--services both|controller|job-controller] [--compression none|gzip] \\
        [--delay JOB_ID=SECONDS] [--fail JOB_ID=CODE[:MESSAGE]] [--exit-with-stdin]

* ``--serve JOB_ID=PATH`` (repeatable): that job's answer is the file's bytes, verbatim,
  as ``metrics``. Any other job id answers NOT_FOUND "No metrics for job", like Arroyo.
* ``--compression gzip``: answers are gzip-compressed when the client accepts gzip
  (grpcio cannot send zstd, which real Arroyo uses).
* ``--delay JOB_ID=SECONDS`` (repeatable): answer that job only after this long (the wait
  ends early when the client cancels or the server stops).
* ``--fail JOB_ID=CODE[:MESSAGE]`` (repeatable): answer that job with this status code
  (a grpc.StatusCode name such as FAILED_PRECONDITION, or its number).
* ``--port-file PATH``: once serving, the bound port is written there (atomically:
  written to a temporary file in the same folder, then renamed).
* ``--exit-with-stdin``: also stop when standard input reaches end of file, so that a
  parent which dies without stopping the server takes it along.

SIGTERM and SIGINT stop the server cleanly (exit status 0). Message size limits are
lifted both ways, so answers of tens of MB go through.
"""

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent import futures

try:
    import grpc
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(
        f"grpc_server.py: cannot import grpcio ({e}). Install the test requirements: "
        "scripts/test.sh, or .tmp/venv/bin/pip install -r scripts/requirements-test.txt\n"
    )
    sys.exit(3)

SERVICES = {
    "controller": ["arroyo_rpc.ControllerGrpc"],
    "job-controller": ["arroyo_rpc.JobControllerGrpc"],
    "both": ["arroyo_rpc.ControllerGrpc", "arroyo_rpc.JobControllerGrpc"],
}


# ---- protobuf wire format, the two messages only ----------------------------------


def _read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _write_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def decode_job_metrics_req(data):
    """JobMetricsReq bytes -> job_id (str). Unknown fields are skipped; the last
    occurrence of field 1 wins, as protobuf says."""
    job_id = ""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            n, pos = _read_varint(data, pos)
            if pos + n > len(data):
                raise ValueError("truncated length-delimited field")
            if field == 1:
                job_id = data[pos : pos + n].decode("utf-8")
            pos += n
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if pos != len(data):
        raise ValueError("truncated fixed-size field")
    return job_id


def encode_job_metrics_resp(metrics):
    """metrics (bytes, UTF-8 JSON) -> JobMetricsResp bytes. proto3 leaves out an empty
    string field."""
    if not metrics:
        return b""
    return b"\x0a" + _write_varint(len(metrics)) + metrics


# ---- the service -------------------------------------------------------------------


def _split_pair(text, flag):
    job, sep, value = text.partition("=")
    if not sep or not job:
        raise argparse.ArgumentTypeError(f"{flag} wants JOB_ID=VALUE, got {text!r}")
    return job, value


def _status_code(text):
    name = text.strip().upper()
    for code in grpc.StatusCode:
        if code.name == name or str(code.value[0]) == name:
            return code
    raise argparse.ArgumentTypeError(f"unknown gRPC status code {text!r}")


class JobMetrics:
    def __init__(self, documents, delays, failures, stopping):
        self.documents = documents
        self.delays = delays
        self.failures = failures
        self.stopping = stopping

    def __call__(self, job_id, context):
        delay = self.delays.get(job_id)
        if delay:
            end = time.monotonic() + delay
            while context.is_active() and not self.stopping.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.stopping.wait(min(left, 0.05))
            if not context.is_active():
                return b""
        failure = self.failures.get(job_id)
        if failure is not None:
            context.abort(failure[0], failure[1])
        doc = self.documents.get(job_id)
        if doc is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "No metrics for job")
        return doc


def parse_args(argv):
    p = argparse.ArgumentParser(description="JobMetrics server (grpcio) for interop tests")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    p.add_argument("--port-file", help="write the bound port here once serving")
    p.add_argument("--serve", action="append", default=[], metavar="JOB_ID=PATH")
    p.add_argument("--services", choices=sorted(SERVICES), default="both")
    p.add_argument("--compression", choices=["none", "gzip"], default="none")
    p.add_argument("--delay", action="append", default=[], metavar="JOB_ID=SECONDS")
    p.add_argument("--fail", action="append", default=[], metavar="JOB_ID=CODE[:MESSAGE]")
    p.add_argument("--max-workers", type=int, default=32, help="handler threads (default 32)")
    p.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="also stop when standard input reaches end of file",
    )
    args = p.parse_args(argv)

    documents = {}
    for item in args.serve:
        job, path = _split_pair(item, "--serve")
        with open(path, "rb") as f:
            documents[job] = f.read()
    delays = {}
    for item in args.delay:
        job, secs = _split_pair(item, "--delay")
        delays[job] = float(secs)
    failures = {}
    for item in args.fail:
        job, spec = _split_pair(item, "--fail")
        code, _, message = spec.partition(":")
        failures[job] = (_status_code(code), message or f"simulated {code.strip().upper()}")
    return args, documents, delays, failures


def write_port_file(path, port):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=folder)
    with os.fdopen(fd, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    args, documents, delays, failures = parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    compression = grpc.Compression.Gzip if args.compression == "gzip" else grpc.Compression.NoCompression
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.max_workers),
        options=[
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
        ],
        compression=compression,
    )
    handler = grpc.unary_unary_rpc_method_handler(
        JobMetrics(documents, delays, failures, stopping),
        request_deserializer=decode_job_metrics_req,
        response_serializer=encode_job_metrics_resp,
    )
    for service in SERVICES[args.services]:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"JobMetrics": handler}),)
        )
    port = server.add_insecure_port(args.listen)
    if port == 0:
        sys.stderr.write(f"grpc_server.py: cannot listen on {args.listen}\n")
        return 2
    server.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write(
        f"grpc_server.py: serving {args.services} on port {port}, "
        f"{len(documents)} job(s), compression {args.compression}\n"
    )
    sys.stderr.flush()

    if args.exit_with_stdin:

        def watch_stdin():
            # os.read on the descriptor, not sys.stdin: a daemon thread blocked inside
            # the buffered reader aborts the interpreter at exit.
            fd = sys.stdin.fileno()
            try:
                while os.read(fd, 65536):
                    pass
            except (OSError, ValueError):
                pass
            stopping.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    while not stopping.wait(0.5):
        pass
    server.stop(grace=1.0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
