# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A real local HTTP CloudEvent sink for tests.

    with EventReceiver(responses=[503, 503], token='s3cret') as sink:
        ...  # point the module / role / rulebook at sink.url
        sink.wait_for(1)
        assert sink.events[0]['type'] == 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'

It listens on 127.0.0.1 on a free port (``tls=True``: HTTPS with a throwaway
CA in ``ca_file``), records every request, parses each with the cloudevents
SDK 2.x (`from_http_event`, binary and structured mode alike, percent-decoding
binary headers as the HTTP binding says), and answers:

1. 401 when ``token`` is set and the request lacks ``Authorization: Bearer <token>``;
2. else the next queued response (``responses=[503, (500, 'boom'), (302, '', {'Location': url}), 204]``, or `respond`);
3. else 400 when the request is not a CloudEvent;
4. else ``status`` (default 204).

``requests`` lists every request (a `Request`); ``events`` holds the events
of the requests answered 2xx, as dicts of their attributes plus ``data``.
"""

from __future__ import annotations

import datetime
import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from requests.structures import CaseInsensitiveDict

from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from tests.support.vcsim.harness import generate_tls


def event_dict(cloud_event):
    """A parsed SDK CloudEvent as one dict: its attributes (``time`` as the collection writes it) plus ``data``."""
    result = dict(cloud_event.get_attributes())
    if isinstance(result.get('time'), datetime.datetime):
        result['time'] = result['time'].astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    result['data'] = cloud_event.get_data()
    return result


def parse_request(headers, body):
    """The event of an HTTP request as the CloudEvents Python SDK 2.x reads it (binary mode decoded as the HTTP binding says)."""
    return event_dict(from_http_event(HTTPMessage(dict(headers), body)))


@dataclass
class Request:
    """One request as it arrived, and what the receiver answered."""

    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes
    status: int
    event: dict = None
    error: str = None
    received: float = field(default_factory=time.time)

    @property
    def accepted(self):
        return 200 <= self.status < 300


class EventReceiver:
    """A CloudEvent HTTP sink on 127.0.0.1; use as a context manager (or `start`/`stop`)."""

    def __init__(self, responses=(), status=204, token=None, tls=False, delay=0.0):
        self.status = status
        self.token = token
        self.tls = tls
        self.delay = delay
        self.ca_file = None
        self._queue = []
        self._requests = []
        self._condition = threading.Condition()
        self._server = None
        self._thread = None
        self._tempdir = None
        self.respond(*responses)

    # -- configuration

    def respond(self, *responses):
        """Queue the answers to the next requests: a status, ``(status, body)`` (body str or bytes) or ``(status, body, headers)``."""
        with self._condition:
            self._queue = [(tuple(item) + ({},))[:3] if isinstance(item, tuple) else (item, b'', {}) for item in responses]

    # -- what arrived

    @property
    def requests(self):
        with self._condition:
            return list(self._requests)

    @property
    def events(self):
        """The events of the accepted (2xx) requests, in arrival order."""
        return [request.event for request in self.requests if request.accepted and request.event is not None]

    def wait_for(self, count, timeout=10.0):
        """Wait until ``count`` requests arrived; AssertionError after ``timeout`` seconds."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError('expected %d requests at %s within %s s, got %d' % (count, self.url, timeout, len(self._requests)))
        return self.requests

    def clear(self):
        with self._condition:
            self._requests = []

    # -- lifecycle

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return '%s://%s:%s/' % ('https' if self.tls else 'http', host, port)

    def start(self):
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler_class())
        self._server.daemon_threads = True
        if self.tls:
            self._tempdir = tempfile.mkdtemp(prefix='event-receiver-')
            self.ca_file, cert_file, key_file = generate_tls(self._tempdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name='event-receiver', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- the HTTP side

    def _answer(self, headers, event):
        """The (status, body, headers) for a request, consuming a queued response when there is one."""
        if self.token is not None and headers.get('Authorization') != 'Bearer %s' % self.token:
            return 401, b'missing or wrong bearer token', {}
        with self._condition:
            if self._queue:
                status, body, extra = self._queue.pop(0)
                return status, body.encode('utf-8') if isinstance(body, str) else body, extra
        if event is None:
            return 400, b'not a CloudEvent', {}
        return self.status, b'', {}

    def _record(self, request):
        with self._condition:
            self._requests.append(request)
            self._condition.notify_all()

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self._read_body()
                headers = CaseInsensitiveDict(self.headers.items())
                event = error = None
                try:
                    event = parse_request(headers, body)
                except Exception as exc:  # anything the SDK rejects is "not a CloudEvent"
                    error = '%s: %s' % (type(exc).__name__, exc)
                status, answer, extra = receiver._answer(headers, event)
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver._record(Request(self.command, self.path, headers, body, status, event, error))
                self.send_response(status)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(answer)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def _read_body(self):
                # CloudEvent senders (requests with a bytes body, webhooks) send Content-Length, never chunks.
                return self.rfile.read(int(self.headers.get('Content-Length') or 0))

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args):
                """Keep test output quiet; `requests` has everything."""

        return Handler
