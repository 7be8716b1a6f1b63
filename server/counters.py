"""Process-wide Prometheus counters, kept by the code that does the work.

A module of its own (only prometheus-client) so that anything may count without
importing the app; server/metrics.py serves them at GET /metrics.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter

PROCESS = CollectorRegistry()  # counters kept by the code that does the work
ERRORS = Counter(
    "costream_errors",
    "Error answers by protocol code (HTTP responses and Socket.IO acks)",
    ["code", "transport"],
    registry=PROCESS,
)
DELIVERIES = Counter(
    "costream_socketio_deliveries",
    "Socket.IO event deliveries to this process's connections (one per receiver)",
    ["event"],
    registry=PROCESS,
)
PREPARED_WRITES = Counter(
    "costream_socketio_prepared_writes",
    "Deliveries written as prepared frames straight to an idle websocket (no queue)",
    registry=PROCESS,
)
WEBSOCKET_WRITES = Counter(
    "costream_socketio_websocket_writes",
    "Writes of prepared frames to websockets (what one loop turn sends a connection shares one)",
    registry=PROCESS,
)
SLOW_CLIENTS_DROPPED = Counter(
    "costream_slow_clients_dropped",
    "Socket.IO connections dropped because client_queue_limit packets waited for them",
    registry=PROCESS,
)
ORDERS = Counter("costream_orders", "Orders placed through this process", registry=PROCESS)
HTTP_REQUESTS = Counter(
    "costream_http_requests", "HTTP requests answered", ["method", "status"], registry=PROCESS
)


def count_error(code: str, transport: str) -> None:
    _labelled(ERRORS, code, transport).inc()


def count_request(method: str, status: int) -> None:
    _labelled(HTTP_REQUESTS, method, str(status)).inc()


@functools.lru_cache(maxsize=1024)
def _labelled(counter: Counter, *values: str) -> Counter:
    """One labelled child, looked up once (labels() costs more than the count)."""
    return counter.labels(*values)
