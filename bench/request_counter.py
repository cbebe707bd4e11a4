# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Count the HTTP requests a vCenter client makes: a TLS-terminating loopback proxy.

The simulator does not count requests itself (vcsim's ``-trace`` logs SOAP only,
not the ``/rest`` tagging calls), and counting inside the client would depend on
which HTTP library a module uses. So the benchmark puts this proxy between the
client and the simulator and counts what vCenter would receive: each SOAP call
by its method (``RetrieveProperties``, ``PowerOffVM_Task``...) and each REST call
by verb and path (``/rest`` tagging, ``/sdk/vimServiceVersions.xml``...), plus the TLS connections opened.

It serves TLS with the simulator's own certificate (issued for 127.0.0.1 by the
harness's CA), so the client still validates certificates, and re-encrypts
towards the simulator. Requests are parsed (Content-Length or chunked bodies);
responses are piped through untouched. It runs an asyncio loop in a daemon
thread: one thread owns every TLS object, so no SSL socket is shared between
threads.

The proxy adds latency, so the benchmark counts calls in separate runs from the
timed ones. It can also add the latency of a real vCenter on purpose: each request
is held ``latency_ms`` before it is forwarded (the bench uses 15 ms, a vCenter a
few hops away), and a login (SOAP ``Login``, the REST session ``POST``) is held
``login_latency_ms`` instead (300 ms: an SSO login). ``logins`` counts those.

    with RequestCounter(sim) as counter:
        env = dict(sim.env(), VMWARE_PORT=str(counter.port))
        ...                        # run the module
        print(counter.summary())   # {'SOAP Login': 1, 'HTTP POST /rest/com/vmware/cis/session': 1, ...}
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
import threading
import urllib.parse

# What the bench uses for "a real vCenter": per request, and per login.
DEFAULT_LATENCY_MS = 15
DEFAULT_LOGIN_LATENCY_MS = 300
LOGIN_REQUESTS = ('SOAP Login', 'HTTP POST /api/session', 'HTTP POST /rest/com/vmware/cis/session')
LOGOUT_REQUESTS = ('SOAP Logout', 'HTTP DELETE /api/session', 'HTTP DELETE /rest/com/vmware/cis/session')

_SOAP_METHOD_RE = re.compile(rb'<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([A-Za-z_][\w]*)')
_MOID_IN_PATH_RE = re.compile(r'/id:[^/?]+')


def request_name(method: str, target: str, body: bytes) -> str:
    """A stable name for one request: ``SOAP <Method>`` for a POST to /sdk, else ``HTTP <VERB> <path>?~action=<action>``.

    Object ids in REST paths (``/id:urn:vmomi:...``) become ``/id:*`` so calls on different tags group together.
    """
    parsed = urllib.parse.urlsplit(target)
    if parsed.path.startswith('/sdk') and method == 'POST':
        match = _SOAP_METHOD_RE.search(body)
        return 'SOAP %s' % (match.group(1).decode() if match else '?')
    path = _MOID_IN_PATH_RE.sub('/id:*', parsed.path)
    action = urllib.parse.parse_qs(parsed.query).get('~action')
    if action:
        path += '?~action=%s' % action[0]
    return 'HTTP %s %s' % (method, path)


class RequestCounter:
    """A loopback TLS proxy in front of a started ``tests.support.vcsim.harness.Simulator`` that counts requests."""

    def __init__(self, sim, latency_ms: float = 0, login_latency_ms: float = 0):
        self.upstream_host = sim.host
        self.upstream_port = sim.port
        self.host = '127.0.0.1'
        self.port: int | None = None
        self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_ctx.load_cert_chain(sim.tls.cert_file, sim.tls.key_file)
        self._client_ctx = ssl.create_default_context(cafile=sim.ca_file)
        self.latency = latency_ms / 1000.0
        self.login_latency = login_latency_ms / 1000.0
        self._lock = threading.Lock()
        self._calls: list[str] = []
        self._connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    # -- results
    def reset(self) -> None:
        with self._lock:
            self._calls = []
            self._connections = 0

    @property
    def calls(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    @property
    def logins(self) -> int:
        """SOAP and REST logins since the last reset."""
        with self._lock:
            return sum(1 for call in self._calls if call in LOGIN_REQUESTS)

    @property
    def logouts(self) -> int:
        """SOAP and REST logouts since the last reset: a run that closes what it opened has as many as logins."""
        with self._lock:
            return sum(1 for call in self._calls if call in LOGOUT_REQUESTS)

    def counts(self) -> dict:
        """Requests, connections, logins and logouts since the last reset, and the requests by name."""
        return {'total': len(self.calls), 'connections': self.connections, 'logins': self.logins, 'logouts': self.logouts,
                'by_request': self.summary()}

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def summary(self) -> dict:
        """``{request name: count}``, most frequent first."""
        return dict(collections.Counter(self.calls).most_common())

    # -- proxy
    async def _pipe(self, reader, writer) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    async def _read_request(self, reader):
        """One request as (method, target, raw bytes, body); None at end of stream."""
        head = await reader.readuntil(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        method, target, _version = lines[0].split(' ', 2)
        headers = {}
        for line in lines[1:]:
            if ':' in line:
                name, value = line.split(':', 1)
                headers[name.strip().lower()] = value.strip()
        raw = [head]
        body = b''
        if headers.get('transfer-encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size_line = await reader.readuntil(b'\r\n')
                raw.append(size_line)
                size = int(size_line.split(b';')[0].strip(), 16)
                data = await reader.readexactly(size + 2)
                raw.append(data)
                chunks.append(data[:-2])
                if size == 0:
                    break
            body = b''.join(chunks)
        elif headers.get('content-length'):
            body = await reader.readexactly(int(headers['content-length']))
            raw.append(body)
        return method, target, b''.join(raw), body

    async def _handle(self, client_reader, client_writer) -> None:
        with self._lock:
            self._connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port, ssl=self._client_ctx,
                                                                 server_hostname=self.upstream_host)
        except (ConnectionError, ssl.SSLError, OSError):
            client_writer.close()
            return
        responses = asyncio.ensure_future(self._pipe(up_reader, client_writer))
        try:
            while True:
                try:
                    method, target, raw, body = await self._read_request(client_reader)
                except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError, ssl.SSLError, OSError):
                    # CancelledError: the proxy is stopping; end this connection quietly.
                    break
                name = request_name(method, target, body)
                with self._lock:
                    self._calls.append(name)
                hold = self.login_latency if name in LOGIN_REQUESTS else self.latency
                if hold:
                    # Held on this connection only: the client's other connections go on meanwhile, as they would.
                    await asyncio.sleep(hold)
                up_writer.write(raw)
                await up_writer.drain()
        finally:
            up_writer.close()
            await asyncio.gather(responses, return_exceptions=True)

    def start(self) -> 'RequestCounter':
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, 0, ssl=self._server_ctx, limit=1 << 24))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, name='request-counter', daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError('the request-counting proxy did not start')
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> 'RequestCounter':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
