#!/usr/bin/env python3
"""A straightforward Arroyo exporter in Python: the baseline of benches/scrape_e2e.rs.

What one would write first with grpcio, json and prometheus_client: on every scrape,
call the controller's JobMetrics RPC for each job, json.loads the document, keep the
newest point of each series and expose per-subtask and per-operator gauges, served by
prometheus_client's own HTTP server (OpenMetrics and gzip when asked, like ours).

    exporter.py --listen 127.0.0.1:9500 --controller 127.0.0.1:5116 --job job_x

Prints READY on stdout once it serves. Needs grpcio and prometheus_client
(scripts/requirements-test.txt).
"""
import argparse
import json
import threading

import grpc
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily

# Arroyo's metric group name -> (family suffix, operator aggregate, unit).
GROUPS = {
    "messages_recv": ("received_messages_per_second", sum, ""),
    "messages_sent": ("sent_messages_per_second", sum, ""),
    "bytes_recv": ("received_bytes_per_second", sum, ""),
    "bytes_sent": ("sent_bytes_per_second", sum, ""),
    "backpressure": ("backpressure_ratio", max, "ratio"),
}


def encode_request(job_id):
    """JobMetricsReq { string job_id = 1 } (job ids are short: one length byte)."""
    data = job_id.encode()
    return b"\x0a" + bytes([len(data)]) + data


def decode_response(data):
    """JobMetricsResp { string metrics = 1 }: the JSON text."""
    if not data:
        return ""
    length, shift, pos = 0, 0, 1
    while True:
        byte = data[pos]
        length |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return data[pos : pos + length].decode("utf-8")


class ArroyoCollector:
    def __init__(self, controller, method, jobs):
        options = [("grpc.max_receive_message_length", -1)]
        self.channel = grpc.insecure_channel(controller, options=options)
        self.call = self.channel.unary_unary(
            method, request_serializer=encode_request, response_deserializer=decode_response
        )
        self.jobs = jobs

    def collect(self):
        up = 1
        subtask, operator = {}, {}
        for name, (suffix, _, unit) in GROUPS.items():
            subtask[name] = GaugeMetricFamily(
                "arroyo_subtask_" + suffix, name + " per subtask",
                labels=["job_id", "node_id", "subtask_idx"], unit=unit)
            operator[name] = GaugeMetricFamily(
                "arroyo_operator_" + suffix, name + " per operator",
                labels=["job_id", "node_id"], unit=unit)
        for job in self.jobs:
            try:
                doc = json.loads(self.call(job, timeout=60))
            except grpc.RpcError:
                up = 0
                continue
            for op in doc:
                node = str(op["node_id"])
                for group in op["metric_groups"]:
                    if group["name"] not in GROUPS:
                        continue
                    values = []
                    for st in group["subtasks"]:
                        points = [p for p in st["metrics"] if p.get("value") is not None]
                        if points:
                            value = max(points, key=lambda p: p["time"])["value"]
                            subtask[group["name"]].add_metric([job, node, str(st["index"])], value)
                            values.append(value)
                    if values:
                        aggregate = GROUPS[group["name"]][1]
                        operator[group["name"]].add_metric([job, node], aggregate(values))
        yield GaugeMetricFamily("arroyo_up", "1 when the controller answered", value=up)
        yield from subtask.values()
        yield from operator.values()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9500")
    parser.add_argument("--controller", default="127.0.0.1:5116")
    parser.add_argument("--method", default="/arroyo_rpc.JobControllerGrpc/JobMetrics")
    parser.add_argument("--job", action="append", default=[])
    args = parser.parse_args()
    REGISTRY.register(ArroyoCollector(args.controller, args.method, args.job))
    host, port = args.listen.rsplit(":", 1)
    start_http_server(int(port), addr=host)
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
