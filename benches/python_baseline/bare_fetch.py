#!/usr/bin/env python3
"""The bare fetch with grpcio's client (C-core): benches/scrape_e2e.rs's reference
for a JobMetrics call made by a different gRPC implementation.

One call per line read on stdin; answers "<microseconds> <bytes of metrics>". The
answer is taken as raw bytes (no protobuf library, no UTF-8 decoding): only the
field's length is read, through a memoryview, so nothing is copied after grpcio.

    bare_fetch.py --controller 127.0.0.1:5116 --job job_x
"""
import argparse
import sys
import time

import grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controller", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--method", default="/arroyo_rpc.JobControllerGrpc/JobMetrics")
    args = parser.parse_args()
    channel = grpc.insecure_channel(
        args.controller, options=[("grpc.max_receive_message_length", -1)]
    )
    job = args.job.encode()
    call = channel.unary_unary(
        args.method,
        request_serializer=lambda j: b"\x0a" + bytes([len(j)]) + j,
        response_deserializer=lambda raw: raw,
    )
    for _ in sys.stdin:
        started = time.perf_counter()
        raw = memoryview(call(job, timeout=60))
        took = time.perf_counter() - started
        # JobMetricsResp { string metrics = 1 }: tag byte, varint length, the text.
        length, shift, pos = 0, 0, 1
        while raw:
            byte = raw[pos]
            length |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if byte < 0x80:
                break
        print(f"{int(took * 1e6)} {length}", flush=True)


if __name__ == "__main__":
    main()
