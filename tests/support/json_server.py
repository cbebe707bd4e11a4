# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A loopback HTTP(S) server answering JSON, for the fakes of vCenter's REST API and of event sinks.

    server = JsonServer(answer, tls=generate_tls(tmp))   # answer(request) -> (status, payload)
    ... requests to https://127.0.0.1:<server.port>/ ...
    server.requests                                      # every request, in arrival order
    server.close()

A request is a dict: ``method``, ``path`` (as sent), ``query``, ``headers`` (dict) and ``body`` (bytes).
The payload goes out as JSON with ``Content-Type: application/json``; ``None`` sends an empty body.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class _Server(ThreadingHTTPServer):

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout under test) is not the fake's error. Printing its traceback from this
        # thread would also race the test's own compile(): CPython 3.11 parses source lines for the carets.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class JsonServer:
    """Answers every GET, POST, PUT, PATCH and DELETE with ``answer(request)``; ``tls`` (cert_file, key_file) makes it HTTPS."""

    def __init__(self, answer, tls=None):
        self.requests = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'   # keep-alive, as vCenter: one TLS handshake per connection

            def setup(self):
                super().setup()
                # Headers and body go in two writes: without this, each answer waits for a delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self):
                length = int(self.headers.get('Content-Length') or 0)
                url = urlsplit(self.path)
                request = {'method': self.command, 'path': url.path, 'query': url.query, 'headers': dict(self.headers),
                           'body': self.rfile.read(length) if length else b''}
                with server._lock:
                    server.requests.append(request)
                status, payload = answer(request)
                data = b'' if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.httpd = _Server(('127.0.0.1', 0), Handler)
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls.cert_file, tls.key_file)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedServer(JsonServer):
    """Answers each (method, path) with the next scripted (status, payload), the last one again and again; 404 when nothing is scripted."""

    def __init__(self, tls=None):
        self.script = {}
        super().__init__(self._next, tls)

    def _next(self, request):
        answers = self.script.get((request['method'], request['path'])) or [(404, None)]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def on(self, method, path, *answers):
        self.script[(method, path)] = list(answers)

    def calls(self, method, path):
        return [r for r in self.requests if (r['method'], r['path']) == (method, path)]
