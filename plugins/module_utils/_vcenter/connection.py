# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vCenter sessions of one module process: the run's, handed over in the ``session`` option, or its own.

A run of the role logs in once per API (the ``vcenter_session`` step) and hands
``session`` (``{hostname, port, soap: {id, version}, rest: {id, flavor}}``,
encoded as one opaque string, a ``no_log`` option) to every later module. A module attaches to it without a
login; where vCenter expired or terminated it, the module logs in once with the
password for its own work and logs that session out at its end (it returns
``session_renewed: true``). A module given no session logs in and out by
itself, as it always did. ``close()`` logs out only what this object opened.
"""

from __future__ import annotations

import base64
import json

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter import soap as vcenter_soap
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError, connection_error, fault_retryable
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.rest import VCenterRest

try:
    from pyVmomi import vim, vmodl
except ImportError:
    # vcenter_soap.PYVMOMI_IMPORT_ERROR carries the traceback; modules check it before calling here.
    vim = vmodl = None


def encode_session(session):
    """The hand-over of a run's sessions as one opaque string (one ``no_log`` value: Ansible masks the whole of it).

    Base64, so that no template engine takes the JSON inside for a dict.
    """
    return base64.urlsafe_b64encode(json.dumps(session, sort_keys=True).encode()).decode()


def handed_session(params):
    """The run's session decoded from ``params['session']`` ({} when none); refused when malformed or another vCenter's."""
    token = params.get('session')
    if not token:
        return {}
    try:
        session = json.loads(base64.urlsafe_b64decode(token.encode()))
        where = (session['hostname'], session['port'])
    except (ValueError, TypeError, KeyError, AttributeError):
        # Never shown: it may hold a session id.
        raise VCenterError('The session handed over is not a session of vsphere.preemption.vcenter_session.') from None
    if where != (params['hostname'], params['port']):
        # Never send one vCenter's session id to another.
        raise VCenterError('The session handed over belongs to vCenter %s:%s, not to %s:%s.'
                           % (where + (params['hostname'], params['port'])))
    return session


def session_ids(session):
    """The secret parts of a decoded hand-over."""
    return {part['id'] for part in (session.get('soap'), session.get('rest')) if isinstance(part, dict) and part.get('id')}


class VCenterConnection:
    """``soap()`` and ``rest()`` open (or attach) on first use; use as a context manager so ``close()`` always runs."""

    def __init__(self, params, pool_size=None):
        self._params = params
        self._pool_size = pool_size
        self._session = handed_session(params)
        # Masked in whatever the module returns, as the ``no_log`` option that carried them is.
        self.secrets = session_ids(self._session)
        self._si = None
        self._content = None
        self._own_soap = False
        self._rest = None
        self.renewed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def _login(self):
        """Log in with the password: this module's own session, logged out by ``close()``."""
        params = self._params
        self._si, self._content = vcenter_soap.login(params['hostname'], params['username'], params['password'], port=params['port'],
                                                     validate_certs=params['validate_certs'], pool_size=self._pool_size)
        self._own_soap = True

    def soap(self):
        """The ServiceInstance; its ServiceContent, read once, is ``content()``."""
        if self._si is None:
            handed = self._session.get('soap')
            if handed:
                self._attach(handed)
            else:
                self._login()
        return self._si

    def content(self):
        self.soap()
        return self._content

    def _attach(self, handed):
        params = self._params
        try:
            self._si = vcenter_soap.attach(params['hostname'], handed.get('id'), handed.get('version'), port=params['port'],
                                           validate_certs=params['validate_certs'], pool_size=self._pool_size)
        except Exception:  # a malformed hand-over: never shown, it holds the session id
            raise VCenterError('The SOAP session handed over for vCenter %s:%s is not a session this collection opened.'
                               % (params['hostname'], params['port'])) from None
        self._content = self._read_content()
        if self._alive():
            return
        # Expired or terminated by vCenter: one password login, this module's own.
        self.renewed = True
        self._si._stub.DropConnections()
        self._login()

    def _read_content(self):
        return self._call('read the service content', self._si.RetrieveContent)

    def _alive(self):
        try:
            return self._call('read the current session', lambda: self._content.sessionManager.currentSession) is not None
        except VCenterError as exc:
            if isinstance(exc.__cause__, vim.fault.NotAuthenticated):
                return False
            raise

    def _call(self, what, call):
        params = self._params
        try:
            return call()
        except vim.fault.NotAuthenticated as fault:
            raise VCenterError('vCenter %s:%s: the session expired while trying to %s.' % (params['hostname'], params['port'], what),
                               retryable=True) from fault
        except vmodl.MethodFault as fault:
            raise VCenterError('vCenter %s:%s refused to %s: %s' % (params['hostname'], params['port'], what, fault.msg or fault._wsdlName),
                               retryable=fault_retryable(fault)) from None
        except Exception as exc:  # transport errors come in many shapes; describe them all the same way
            raise connection_error(exc, params['hostname'], params['port']) from None

    def rest(self):
        """The VCenterRest session: the run's (renewed by one login on a 401) or this module's own."""
        if self._rest is None:
            params = self._params
            handed = self._session.get('rest')
            rest = VCenterRest(params['hostname'], params['username'], params['password'], port=params['port'],
                               validate_certs=params['validate_certs'])
            if handed:
                rest.attach(handed.get('id'), handed.get('flavor'))
            else:
                rest.login()
            self._rest = rest
        return self._rest

    def close(self):
        """Log out the sessions this module opened; the run's stay open for the next step."""
        if self._rest is not None:
            self.renewed = self.renewed or (bool(self._session.get('rest')) and self._rest.logins > 0)
            self._rest.logout()
            self._rest = None
        if self._si is not None:
            if self._own_soap:
                vcenter_soap.logout(self._si, self._content)
            else:
                self._si._stub.DropConnections()
            self._si = None


def rest_flavor(api_version):
    """The REST flavour a vCenter of this SOAP ``about.apiVersion`` serves: ``/api`` from 7.0 U2 (7.0.2), else ``/rest``."""
    try:
        return 'api' if tuple(int(part) for part in api_version.split('.')[:3]) >= (7, 0, 2) else 'rest'
    except (AttributeError, ValueError):
        return None


def open_run_session(params, rest=True):
    """Log in once per API for a whole run; return the hand-over ``{hostname, port, soap, rest}`` (a secret).

    The REST flavour is known before the REST login, from the API version the SOAP login read anyway
    (``rest_flavor`` given wins), so no login is spent on a path vCenter does not serve; a wrong guess
    still falls back to the other path. A login that fails logs the other session out again.
    """
    service_instance, content = vcenter_soap.login(params['hostname'], params['username'], params['password'], port=params['port'],
                                                   validate_certs=params['validate_certs'])
    session = dict(hostname=params['hostname'], port=params['port'], soap=vcenter_soap.session_of(service_instance), rest=None)
    try:
        if rest:
            client = VCenterRest(params['hostname'], params['username'], params['password'], port=params['port'],
                                 validate_certs=params['validate_certs'],
                                 flavor=params.get('rest_flavor') or rest_flavor(getattr(content.about, 'apiVersion', None)))
            client.login()
            session['rest'] = dict(id=client.token, flavor=client.flavor)
    except BaseException:
        vcenter_soap.logout(service_instance, content)
        raise
    service_instance._stub.DropConnections()
    return session


def close_run_session(params):
    """Log out the run's sessions (best effort: one vCenter already expired is closed); return the APIs closed."""
    session = handed_session(params)
    closed = []
    if session.get('soap'):
        try:
            service_instance = vcenter_soap.attach(params['hostname'], session['soap'].get('id'), session['soap'].get('version'),
                                                   port=params['port'], validate_certs=params['validate_certs'])
        except Exception:  # a malformed hand-over has nothing to log out
            service_instance = None
        if service_instance is not None:
            vcenter_soap.logout(service_instance)
            closed.append('soap')
    if session.get('rest'):
        client = VCenterRest(params['hostname'], params['username'], params['password'], port=params['port'],
                             validate_certs=params['validate_certs'])
        try:
            client.attach(session['rest'].get('id'), session['rest'].get('flavor'), owned=True)
        except VCenterError:
            return closed
        client.logout()
        closed.append('rest')
    return closed
