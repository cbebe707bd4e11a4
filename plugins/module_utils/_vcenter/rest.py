# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small vSphere Automation (REST) session over requests.

vCenter 7.0 U2 and later serve ``/api/...``; older vCenters and the govmomi
simulator only serve ``/rest/...``. ``VCenterRest.login()`` tries ``/api``
first and falls back to ``/rest`` when it is 404; ``flavor`` then says which
one answered, and ``request()`` unwraps the ``{"value": ...}`` envelope that
``/rest`` puts around every answer.
"""

from __future__ import annotations

import threading
import traceback

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import retryable_status
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, connection_error
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.soap import trusted_ca_file

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import urllib3
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

SESSION_HEADER = 'vmware-api-session-id'
# (connect, read) seconds: a vCenter that accepts no connection in 15 s is down;
# tagging calls on a loaded vCenter can take tens of seconds.
DEFAULT_TIMEOUT = (15, 120)

LOGIN_PATHS = (('api', '/api/session'), ('rest', '/rest/com/vmware/cis/session'))


class VCenterRestError(VCenterError):
    """vCenter answered a REST call with an HTTP error status; retryable for 5xx, 408 and 429."""

    def __init__(self, message, status):
        super().__init__(message, retryable=retryable_status(status))
        self.status = status


def vapi_error_message(body):
    """The first human-readable message of a vAPI error body (``/api`` or ``/rest`` shape), or ''."""
    if not isinstance(body, dict):
        return ''
    # /rest wraps the error in {"type": ..., "value": {"messages": [...]}}; /api does not.
    inner = body.get('value') if isinstance(body.get('value'), dict) else body
    for message in inner.get('messages') or ():
        if isinstance(message, dict) and message.get('default_message'):
            return message['default_message']
    return inner.get('error_type') or body.get('type') or ''


class VCenterRest:
    """One REST session with vCenter; use as a context manager to log out at the end.

    ``verify`` is passed on every request because requests ignores a
    session-level ``verify=False`` whenever REQUESTS_CA_BUNDLE is set.
    ``request()`` may be called from several threads at once: they share the
    session, and a session that expires is renewed by one login.
    """

    def __init__(self, hostname, username, password, port=443, validate_certs=True, timeout=DEFAULT_TIMEOUT, http=None, flavor=None):
        self.hostname = hostname
        self.port = port
        self.username = username
        self._password = password
        host = '[%s]' % hostname if ':' in hostname and not hostname.startswith('[') else hostname
        self.base_url = 'https://%s:%s' % (host, port)
        self.verify = (trusted_ca_file() or True) if validate_certs else False
        if not validate_certs:
            # The user chose not to verify; a warning on every request would only bury the module's output.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.timeout = timeout
        # The flavour learned earlier (the run's session): its login path is tried first.
        self.flavor = flavor
        self._token = None
        # Only a session this object opened is logged out by it; a handed-over one belongs to the run.
        self._owned = False
        self.logins = 0
        self._login_path = None
        self._http = http if http is not None else requests.Session()
        self._login_lock = threading.Lock()

    def __enter__(self):
        self.login()
        return self

    def __exit__(self, *exc_info):
        self.logout()
        return False

    @property
    def where(self):
        return 'vCenter %s:%s' % (self.hostname, self.port)

    def _send(self, method, path, **kwargs):
        try:
            return self._http.request(method, self.base_url + path, verify=self.verify, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise connection_error(exc, self.hostname, self.port) from None

    def attach(self, token, flavor, owned=False):
        """Use the session ``token`` opened by someone else (the run); it is logged out only when ``owned``."""
        paths = dict(LOGIN_PATHS)
        if flavor not in paths or not isinstance(token, str) or not token:
            raise VCenterError('The REST session handed over for %s is not a session this collection opened.' % self.where)
        self.flavor, self._login_path, self._token, self._owned = flavor, paths[flavor], token, owned

    @property
    def token(self):
        return self._token

    def login(self):
        """Open a session: POST /api/session, or /rest/com/vmware/cis/session where /api is 404 (the known flavour first)."""
        for flavor, path in sorted(LOGIN_PATHS, key=lambda item: item[0] != self.flavor):
            response = self._send('POST', path, auth=(self.username, self._password))
            if response.status_code == 404:
                continue
            if response.status_code == 401:
                raise VCenterRestError('%s refused the login of user %r: wrong user name or password.' % (self.where, self.username), 401)
            if response.status_code >= 300:
                raise self._error(response, 'POST', path)
            token = self._json(response, 'POST', path)
            if isinstance(token, dict):
                token = token.get('value')
            if not isinstance(token, str) or not token:
                raise VCenterRestError('%s answered POST %s without a session id.' % (self.where, path), response.status_code)
            self.flavor, self._login_path, self._token, self._owned = flavor, path, token, True
            self.logins += 1
            return
        raise VCenterRestError('%s serves neither /api nor /rest (both answered HTTP 404 to a login).' % self.where, 404)

    def logout(self):
        """Close the session this object opened; best effort, an expired session is already closed."""
        if self._token is None or not self._owned:
            return
        try:
            self._send('DELETE', self._login_path, headers={SESSION_HEADER: self._token})
        except VCenterError:
            pass
        finally:
            self._token = None

    def request(self, method, path, body=None, params=None):
        """Call vCenter and return the decoded answer (``/rest``'s ``value`` envelope removed).

        A 401 means the session expired: log in again once and repeat the call.
        Raises VCenterRestError for any other HTTP error status.
        """
        if self._token is None:
            self._renew(None)
        for attempt in (1, 2):
            token = self._token
            response = self._send(method, path, json=body, params=params, headers={SESSION_HEADER: token})
            if response.status_code != 401 or attempt == 2:
                break
            self._renew(token)
        if response.status_code >= 300:
            raise self._error(response, method, path)
        data = self._json(response, method, path)
        if self.flavor == 'rest' and isinstance(data, dict) and set(data) <= {'value'}:
            return data.get('value')
        return data

    def _renew(self, expired):
        """Log in unless another thread already replaced the session ``expired``."""
        with self._login_lock:
            if self._token == expired:
                self.login()

    def _json(self, response, method, path):
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise VCenterRestError('%s answered %s %s with HTTP %s and a body that is not JSON.'
                                   % (self.where, method, path, response.status_code), response.status_code) from None

    def _error(self, response, method, path):
        try:
            detail = vapi_error_message(response.json())
        except ValueError:
            detail = ''
        status = response.status_code
        if status == 401:
            text = 'the session was rejected again after a new login'
        elif status == 403:
            text = 'user %r lacks the privilege' % self.username
        elif status >= 500:
            text = 'server error'
        else:
            text = response.reason or 'error'
        return VCenterRestError('%s answered %s %s with HTTP %s (%s)%s.'
                                % (self.where, method, path, status, text, ': %s' % detail if detail else ''), status)
