# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A loopback fault-injection proxy between the collection and the vCenter simulator (or a CloudEvent sink).

    with FaultProxy(sim) as proxy:
        env = proxy.env()                                        # sim.env(), with VMWARE_PORT the proxy's
        proxy.add(rest(), respond=503, times=2)                  # the next two /rest calls answer 503
        proxy.add(soap('PowerOffVM_Task'), forward_then='drop')  # done by vCenter, the answer lost
        proxy.add(soap('RetrievePropertiesEx'), expire_session=True)
        proxy.add(soap('PowerOffVM_Task'), outage=4)             # vCenter unreachable for 4 s from then
        proxy.outage(3)                                          # ... or from now

    with FaultProxy(upstream_url=receiver.url) as front:         # plain HTTP, e.g. an EventReceiver
        front.outage()                                           # the sink is down until front.restore()

In front of a Simulator it listens on 127.0.0.1 and terminates TLS with the
simulator's own server certificate (``Simulator.tls``: for 127.0.0.1, signed by
the harness CA), so clients verify it exactly as they verify the simulator, and
it connects on to the simulator over TLS. Each decoded HTTP request is matched
against the rules in the order they were added; the first rule that matches
and has uses left (``times``, None for always) decides what happens:

``respond=status``       answer ``status`` (a 503, a 500 with a `soap_fault` body...) without forwarding;
``forward_then=status``  forward, let the simulator act, then answer ``status`` instead of its answer;
``forward_then='drop'``  forward, then reset the connection without an answer (the answer is lost);
``forward_then='hold'``  forward, then answer nothing until the proxy stops (the upstream acted, the client
                         never learns it: kill the client meanwhile);
``drop=True``            reset the connection without forwarding;
``delay=seconds``        wait, then forward (a slow vCenter or sink); ``delay=threading.Event()``: forward
                         when the test sets the event (a request held at a known point, released at will,
                         even after its client was killed);
``hold=seconds``         answer nothing for that long, then reset the connection, without forwarding (a
                         call that never answers: the client's timeout fires, or the client is killed meanwhile);
``expire_session=True``  forward with the session id replaced by an unknown one, so the simulator itself
                         answers as to an expired session (REST: 401; SOAP: NotAuthenticated, which
                         RetrievePropertiesEx reports per property, in ``missingSet``);
``outage=seconds``       the upstream becomes unreachable (see `outage`) from this request on, which is lost.

Requests matching no rule are forwarded unchanged. ``log`` lists every request
as ``(http method, path, SOAP method or None, action)``, logged when it arrives,
before its action; `wait_for` waits until a request is there (a held one stays held).
`settle`, once the clients are gone (killed), waits until the proxy has read
everything they sent, so that `clear` cannot let through a request a killed
client had already sent but the proxy had not read yet.

`outage` with ``mode='refuse'`` closes the listening socket, so new connections
are refused (ECONNREFUSED) as by a stopped vCenter; ``'reset'`` accepts and
resets them as a dropping firewall would. Both reset every open connection at
once. The proxy listens again on the same port after the given seconds, or
when `restore` is called.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass

SOAP_METHOD = re.compile(rb'<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)')
SOAP_COOKIE = re.compile(r'(vmware_soap_session=)("?)[^";]*("?)')
REST_SESSION_HEADER = 'vmware-api-session-id'
EXPIRED = '00000000-dead-beef-0000-000000000000'
HOP_BY_HOP = ('connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'te', 'upgrade')
MAX_LINE = 65536


class Match:
    """A request predicate: HTTP method, path prefix and/or SOAP method name."""

    def __init__(self, path_prefix=None, soap_method=None, http_method=None, description=''):
        self.path_prefix = path_prefix
        self.soap_method = soap_method
        self.http_method = http_method
        self.description = description

    def __call__(self, request):
        if self.http_method and request.method != self.http_method:
            return False
        if self.path_prefix and not request.path.startswith(self.path_prefix):
            return False
        if self.soap_method and request.soap_method != self.soap_method:
            return False
        return True

    def __repr__(self):
        return self.description or 'Match(%r, %r, %r)' % (self.path_prefix, self.soap_method, self.http_method)


def soap(method=None):
    """Matches SOAP calls (``/sdk``), all of them or those of one method (``PowerOffVM_Task``)."""
    return Match(path_prefix='/sdk', soap_method=method, description='SOAP %s' % (method or '*'))


def rest(path='', method=None):
    """Matches vSphere REST calls under ``/rest`` (``path`` continues the prefix, e.g. ``/com/vmware/cis/tagging``)."""
    return Match(path_prefix='/rest' + path, http_method=method, description='REST %s %s' % (method or '*', path or '*'))


@dataclass
class Rule:
    """What to do with the requests ``match`` accepts, ``times`` times (None: always)."""

    match: Match
    times: int | None
    action: str
    argument: object = None
    used: int = 0

    def take(self, request):
        if (self.times is not None and self.used >= self.times) or not self.match(request):
            return False
        self.used += 1
        return True


@dataclass
class ProxiedRequest:
    method: str
    path: str
    version: str
    headers: list
    body: bytes
    soap_method: str | None = None

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def replace_header(self, name, value):
        self.headers = [(key, value if key.lower() == name.lower() else old) for key, old in self.headers]


def _session_ids(request):
    """The SOAP cookie and REST session ids ``request`` carries."""
    cookie = SOAP_COOKIE.search(request.header('Cookie') or '')
    ids = {cookie.group(0).split('=', 1)[1].strip('"')} if cookie else set()
    return ids | ({request.header(REST_SESSION_HEADER)} if request.header(REST_SESSION_HEADER) else set())


class _Closed(Exception):
    """The client closed the connection (or sent something that is not HTTP)."""


def _read_request(stream):
    line = stream.readline(MAX_LINE)
    if not line:
        raise _Closed()
    parts = line.decode('latin-1').rstrip('\r\n').split()
    if len(parts) != 3:
        raise _Closed()
    method, path, version = parts
    headers = []
    while True:
        raw = stream.readline(MAX_LINE)
        if not raw:
            raise _Closed()
        text = raw.decode('latin-1').rstrip('\r\n')
        if not text:
            break
        name, _sep, value = text.partition(':')
        headers.append((name.strip(), value.strip()))
    request = ProxiedRequest(method, path, version, headers, b'')
    if (request.header('Transfer-Encoding') or '').lower() == 'chunked':
        request.body = _read_chunked(stream)
    else:
        request.body = stream.read(int(request.header('Content-Length') or 0))
    found = SOAP_METHOD.search(request.body[:4096]) if path.startswith('/sdk') else None
    request.soap_method = found.group(1).decode() if found else None
    return request


def _read_chunked(stream):
    body = b''
    while True:
        size = int(stream.readline(MAX_LINE).split(b';')[0].strip() or b'0', 16)
        if size == 0:
            while stream.readline(MAX_LINE) not in (b'\r\n', b'\n', b''):
                pass
            return body
        body += stream.read(size)
        stream.readline(MAX_LINE)


def _reset(sock):
    """Close with a TCP RST, as a dropped connection looks to the client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    """A TLS-terminating HTTP proxy in front of a started Simulator; see the module docstring."""

    def __init__(self, sim=None, upstream_url=None, host='127.0.0.1'):
        if (sim is None) == (upstream_url is None):
            raise ValueError('give either a started Simulator or the http:// URL of another upstream')
        self.sim = sim
        self.host = host
        self.port = None
        self.tls = sim is not None
        if self.tls:
            self.upstream = (sim.host, sim.port)
            self._server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._server_context.load_cert_chain(sim.tls.cert_file, sim.tls.key_file)
            self._client_context = ssl.create_default_context(cafile=sim.ca_file)
        else:
            parts = urllib.parse.urlsplit(upstream_url)
            if parts.scheme != 'http':
                raise ValueError('upstream_url must be a plain http:// URL, not %r' % upstream_url)
            self.upstream = (parts.hostname, parts.port or 80)
        self.log = []
        self.session_ids = set()  # every SOAP cookie and REST session id the client sent, to look for in its output
        self._rules = []
        self._lock = threading.Lock()
        self._listener = None
        self._connections = set()
        self._parked = set()  # connections answering nothing until the proxy stops or their hold ends
        self._stopped = threading.Event()
        self._restore_timer = None
        self._down = None

    # -- set-up

    def add(self, match, times=1, respond=None, forward_then=None, drop=False, delay=None, hold=None, expire_session=False,
            outage=None, body=b'', content_type='text/plain'):
        """Add a rule (see the module docstring); ``times=None`` applies it to every matching request."""
        actions = {'respond': respond, 'forward_then': forward_then, 'drop': drop or None, 'delay': delay, 'hold': hold,
                   'expire_session': expire_session or None, 'outage': outage}
        chosen = [(name, value) for name, value in actions.items() if value is not None]
        if len(chosen) != 1:
            raise ValueError('give exactly one action, not %s' % chosen)
        action, argument = chosen[0]
        if action in ('respond', 'forward_then') and argument not in ('drop', 'hold'):
            argument = (argument, body if isinstance(body, bytes) else body.encode(), content_type)
        rule = Rule(match, times, action, argument)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self):
        """Forget every rule and the log; end any outage."""
        with self._lock:
            self._rules = []
            self.log = []
            self.session_ids = set()
        self.restore()

    @property
    def url(self):
        return '%s://%s:%d/' % ('https' if self.tls else 'http', self.host, self.port)

    def env(self, validate_certs=True):
        """The simulator's environment for Ansible with the proxy as the vCenter."""
        return dict(self.sim.env(validate_certs), VMWARE_PORT=str(self.port))

    def requests(self, soap_method=None, path_prefix=None, action=None):
        with self._lock:
            return [entry for entry in self.log if (soap_method is None or entry[2] == soap_method)
                    and (path_prefix is None or entry[1].startswith(path_prefix)) and (action is None or entry[3] == action)]

    def settle(self, timeout=30):
        """Wait until every request the proxy's (gone) clients sent has been read and acted on: no connection
        waits to be accepted, and every open one is held (``hold``, ``forward_then='hold'``).

        Call it after killing the clients, before `clear`: a killed client's request still unread in its
        socket would otherwise meet no rule and be forwarded. A live client's idle connection never settles.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [listener for listener in [self._listener] if listener is not None]
                with contextlib.suppress(OSError, ValueError):
                    pending = select.select(pending, [], [], 0)[0]
                busy = len(self._connections - self._parked)
                if not pending and not busy:
                    return
            if time.monotonic() > deadline:
                raise AssertionError('the proxy did not settle within %s s: %d connection(s) still being served, %s'
                                     % (timeout, busy, 'connections waiting to be accepted' if pending else 'none waiting'))
            time.sleep(0.01)

    def wait_for(self, timeout=120, **filters):
        """Wait until `requests` (same filters) lists a request; returns them. AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests(**filters)
            if found:
                return found
            time.sleep(0.01)
        raise AssertionError('no request %r reached the proxy within %s s; log: %r' % (filters, timeout, self.log))

    # -- outages

    def outage(self, seconds=None, mode='refuse'):
        """Make the vCenter unreachable now, for ``seconds`` (None: until `restore`)."""
        if mode not in ('refuse', 'reset'):
            raise ValueError("mode must be 'refuse' or 'reset'")
        with self._lock:
            self._down = mode
            listener = None
            if mode == 'refuse':
                listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
            self._parked = set()
            if self._restore_timer is not None:
                self._restore_timer.cancel()
                self._restore_timer = None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()
        for sock in connections:
            _reset(sock)
        if seconds is not None:
            timer = threading.Timer(seconds, self.restore)
            timer.daemon = True
            with self._lock:
                self._restore_timer = timer
            timer.start()

    def restore(self):
        """End an outage: listen again on the same port."""
        with self._lock:
            if self._restore_timer is not None:
                self._restore_timer.cancel()
                self._restore_timer = None
            self._down = None
            need_listener = self._listener is None and not self._stopped.is_set()
        if need_listener:
            self._listen()

    # -- life cycle

    def start(self):
        self._listen()
        return self

    def stop(self):
        self._stopped.set()
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
            self._parked = set()
            if self._restore_timer is not None:
                self._restore_timer.cancel()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()
        for sock in connections:
            _reset(sock)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _listen(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port or 0))
        listener.listen(64)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name='fault-proxy-accept', daemon=True).start()

    def _accept(self, listener):
        while not self._stopped.is_set():
            try:
                if not select.select([listener], [], [], 0.2)[0]:
                    continue
            except (OSError, ValueError):
                return
            with self._lock:
                if self._listener is not listener:
                    return
                # Taken from the queue and tracked in one step, so `settle` sees it either waiting or open.
                try:
                    conn, _addr = listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                down = self._down
                if down != 'reset':
                    self._connections.add(conn)
            if down == 'reset':
                _reset(conn)
                continue
            threading.Thread(target=self._serve, args=(conn,), name='fault-proxy-conn', daemon=True).start()

    # -- one client connection

    def _track(self, sock, add=True):
        with self._lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)
                self._parked.discard(sock)

    def _park(self, sock, parked=True):
        with self._lock:
            if parked:
                self._parked.add(sock)
            else:
                self._parked.discard(sock)

    def _serve(self, raw):
        raw.settimeout(60)
        self._track(raw)
        upstream = client = None
        try:
            client = raw
            if self.tls:
                client = self._server_context.wrap_socket(raw, server_side=True)
                with self._lock:  # in one step, for `settle`
                    self._connections.discard(raw)
                    self._connections.add(client)
            stream = client.makefile('rb')
            while True:
                request = _read_request(stream)
                rule = self._rule_for(request)
                action = rule.action if rule else 'forward'
                with self._lock:
                    self.log.append((request.method, request.path, request.soap_method, action))
                    self.session_ids.update(_session_ids(request))
                    if action == 'hold':
                        self._parked.add(client)
                if action == 'hold':
                    self._stopped.wait(rule.argument)
                    self._park(client, False)
                if action in ('drop', 'hold'):
                    _reset(client)
                    return
                if action == 'outage':
                    self.outage(rule.argument)
                    _reset(client)
                    return
                if action == 'respond':
                    self._send(client, *rule.argument)
                    continue
                if action == 'delay':
                    if isinstance(rule.argument, threading.Event):
                        rule.argument.wait()
                    else:
                        time.sleep(rule.argument)
                if action == 'expire_session':
                    self._expire(request)
                if upstream is None:
                    upstream = (http.client.HTTPSConnection(*self.upstream, context=self._client_context, timeout=300) if self.tls
                                else http.client.HTTPConnection(*self.upstream, timeout=300))
                status, reason, headers, body = self._forward(upstream, request)
                if action == 'forward_then':
                    if rule.argument == 'hold':
                        self._park(client)
                        self._stopped.wait()
                    if rule.argument in ('drop', 'hold'):
                        _reset(client)
                        return
                    self._send(client, *rule.argument)
                    continue
                self._send(client, status, body, None, reason=reason, headers=headers)
        except (_Closed, OSError, ssl.SSLError, http.client.HTTPException, ValueError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            for sock in (raw, client):
                if sock is not None:
                    self._track(sock, add=False)
                    with contextlib.suppress(OSError):
                        sock.close()

    def _rule_for(self, request):
        with self._lock:
            for rule in self._rules:
                if rule.take(request):
                    return rule
        return None

    @staticmethod
    def _expire(request):
        cookie = request.header('Cookie')
        if cookie:
            request.replace_header('Cookie', SOAP_COOKIE.sub(lambda m: m.group(1) + m.group(2) + EXPIRED + m.group(3), cookie))
        if request.header(REST_SESSION_HEADER):
            request.replace_header(REST_SESSION_HEADER, EXPIRED)

    @staticmethod
    def _forward(upstream, request):
        headers = {}
        for name, value in request.headers:
            if name.lower() in HOP_BY_HOP or name.lower() == 'host':
                continue
            headers[name] = value if name not in headers else headers[name] + ', ' + value
        upstream.request(request.method, request.path, body=request.body, headers=headers)
        response = upstream.getresponse()
        body = response.read()
        kept = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
        return response.status, response.reason, kept, body

    @staticmethod
    def _send(client, status, body=b'', content_type='text/plain', reason=None, headers=None):
        lines = ['HTTP/1.1 %d %s' % (status, reason or http.client.responses.get(status, 'Status'))]
        for name, value in headers if headers is not None else [('Content-Type', content_type)]:
            lines.append('%s: %s' % (name, value))
        lines.append('Content-Length: %d' % len(body))
        lines.append('Connection: keep-alive')
        client.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body)


def soap_fault(fault_type='NotAuthenticated', message='The session is not authenticated.'):
    """A vim25 SOAP fault body (HTTP 500) that pyvmomi turns into ``vim.fault.<fault_type>``."""
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>'
            '<detail><%sFault xmlns="urn:vim25" xsi:type="%s"></%sFault></detail>'
            '</soapenv:Fault></soapenv:Body></soapenv:Envelope>' % (message, fault_type, fault_type, fault_type)).encode()
