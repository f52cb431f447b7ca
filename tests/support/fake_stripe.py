"""A local stand-in for Stripe's API (Checkout Sessions) and Stripe-style webhook signing.

`with fake_stripe() as fake:` serves http://127.0.0.1:<port> in a thread. Point the stripe
library at `fake.base` (FILMSPHERE_STRIPE_API_BASE). Every request is recorded (method,
path, headers, form fields); POST /v1/checkout/sessions answers like Stripe does, including
idempotent replays: the same Idempotency-Key returns the same session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]  # Stripe's bracketed keys, e.g. "line_items[0][quantity]"


@dataclass
class FakeStripe:
    base: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set to (status, error type, message) to make the next session creations fail.
    failure: tuple[int, str, str] | None = None
    _by_key: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/checkout/sessions"]

    def create_session(self, form: dict[str, str], key: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if key and key in self._by_key:
                return self._by_key[key]
            if self.failure:
                status, kind, message = self.failure
                answer: tuple[int, dict[str, Any]] = (
                    status,
                    {"error": {"type": kind, "message": message}},
                )
            else:
                session_id = f"cs_test_{secrets.token_hex(12)}"
                metadata = {
                    k[len("metadata[") : -1]: v
                    for k, v in form.items()
                    if k.startswith("metadata[")
                }
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": form.get("mode"),
                    "status": "open",
                    "payment_status": "unpaid",
                    "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                    "currency": form["line_items[0][price_data][currency]"],
                    "client_reference_id": form.get("client_reference_id"),
                    "metadata": metadata,
                    "success_url": form.get("success_url"),
                    "cancel_url": form.get("cancel_url"),
                    "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                    "livemode": False,
                }
                self.sessions[session_id] = session
                answer = (200, session)
            if key:
                self._by_key[key] = answer
            return answer


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = dict(parse_qsl(body, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(RecordedRequest("POST", self.path, headers, form))
            if headers.get("authorization", "") != "Bearer sk_test_fake":
                self._answer(401, {"error": {"type": "invalid_request_error",
                                             "message": "Invalid API Key provided"}})  # fmt: skip
            elif self.path == "/v1/checkout/sessions":
                self._answer(*fake.create_session(form, headers.get("idempotency-key")))
            else:
                self._answer(404, {"error": {"type": "invalid_request_error",
                                             "message": "Unrecognized request URL"}})  # fmt: skip

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


API_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_test_filmsphere"


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send: t=<ts>,v1=<HMAC-SHA256 of "t.payload">."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def checkout_event(
    session: dict[str, Any],
    event_type: str = "checkout.session.completed",
    payment_status: str = "paid",
    event_id: str | None = None,
) -> str:
    """A Stripe event JSON body for a Checkout Session."""
    obj = dict(session, status="complete", payment_status=payment_status)
    if event_type == "checkout.session.expired":
        obj.update(status="expired", payment_status="unpaid")
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": obj},
        }
    )
