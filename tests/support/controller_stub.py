# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for automation controller (AWX): the part of its API that ansible-rulebook's run_job_template uses.

Not a controller: it launches nothing. It answers what ansible_rulebook/job_template_runner.py and
shared_job_monitor.py (ansible-rulebook 1.3.2) ask, with the shapes AWX gives, and records each launch:

    GET  /api/v2/config/                          {"version": ...}, asked once at start-up
    GET  /api/v2/unified_job_templates/?name=N    the templates named N, with their organization and launch URL
    POST /api/v2/job_templates/<id>/launch/       records the request body; answers the new job's id and URL
    GET  /api/v2/jobs/?id__in=1,2&page_size=2     the jobs' status: "running" for ``hold`` seconds, then "successful"

Every request without ``Authorization: Bearer <token>`` gets 401.
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class ControllerStub:
    """``with ControllerStub(token, {(name, organization): template_id}) as controller: controller.url, controller.launches``."""

    def __init__(self, token, templates, hold=1.0):
        self.token = token
        self.templates = [{'id': template_id, 'name': name, 'organization': organization}
                          for (name, organization), template_id in templates.items()]
        self.hold = hold
        self.launches = []  # {'template', 'organization', 'job', 'body', 'launched', 'finished'}
        self.refused = 0
        self._jobs = itertools.count(100)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.url = 'http://127.0.0.1:%d/' % self._server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def launched(self, template=None):
        with self._lock:
            return [dict(launch) for launch in self.launches if template in (None, launch['template'])]

    def _template_json(self, template):
        return {
            'id': template['id'], 'type': 'job_template', 'name': template['name'],
            'summary_fields': {'organization': {'id': 1, 'name': template['organization']}},
            'related': {'launch': '/api/v2/job_templates/%d/launch/' % template['id']},
            # As the guide asks: variables prompted on launch; no labels (ansible-rulebook then asks for none).
            'ask_variables_on_launch': True, 'ask_limit_on_launch': False, 'ask_inventory_on_launch': False,
            'ask_labels_on_launch': False,
        }

    def _job_json(self, launch):
        now = time.monotonic()
        done = now - launch['launched'] >= self.hold
        if done and launch['finished'] is None:
            launch['finished'] = now
        return {'id': launch['job'], 'type': 'job', 'url': '/api/v2/jobs/%d/' % launch['job'],
                'status': 'successful' if done else 'running', 'failed': False, 'artifacts': {},
                'created': datetime.datetime.now(datetime.timezone.utc).isoformat()}

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self):
                if self.headers.get('Authorization') == 'Bearer %s' % stub.token:
                    return True
                with stub._lock:
                    stub.refused += 1
                self._answer(401, {'detail': 'Authentication credentials were not provided.'})
                return False

            def do_GET(self):
                if not self._authorized():
                    return
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                if url.path == '/api/v2/config/':
                    return self._answer(200, {'version': '24.6.1-stub'})
                if url.path == '/api/v2/unified_job_templates/':
                    found = [stub._template_json(t) for t in stub.templates if t['name'] == query.get('name')]
                    return self._answer(200, {'count': len(found), 'next': None, 'previous': None, 'results': found})
                if url.path == '/api/v2/jobs/':
                    wanted = set(query.get('id__in', '').split(','))
                    with stub._lock:
                        found = [stub._job_json(launch) for launch in stub.launches if str(launch['job']) in wanted]
                    return self._answer(200, {'count': len(found), 'next': None, 'previous': None, 'results': found})
                return self._answer(404, {'detail': 'Not found.'})

            def do_POST(self):
                if not self._authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get('Content-Length') or 0)) or b'{}')
                [template] = [t for t in stub.templates if self.path == '/api/v2/job_templates/%d/launch/' % t['id']] or [None]
                if template is None:
                    return self._answer(404, {'detail': 'Not found.'})
                with stub._lock:
                    job = next(stub._jobs)
                    stub.launches.append({'template': template['name'], 'organization': template['organization'], 'job': job,
                                          'body': body, 'launched': time.monotonic(), 'finished': None})
                return self._answer(201, {'id': job, 'job': job, 'type': 'job', 'url': '/api/v2/jobs/%d/' % job, 'status': 'pending',
                                          'ignored_fields': {}})

        return Handler
