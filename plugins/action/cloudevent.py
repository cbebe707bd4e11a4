# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.cloudevent: send a CloudEvent from the controller (documented in plugins/modules)."""

from __future__ import annotations

from ansible.module_utils.common.parameters import remove_values

from ansible_collections.vsphere.preemption.plugins.module_utils._cloudevent.sender import (
    CLOUDEVENTS_IMPORT_ERROR,
    DEFAULT_SOURCE,
    DEFAULT_TYPE,
    MODES,
    REQUESTS_IMPORT_ERROR,
    CloudEventError,
    DeliveryError,
    build_event,
    encode_event,
    send_event,
    validate_headers,
    validate_url,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import url_secrets
from ansible_collections.vsphere.preemption.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = dict(
    url=dict(type='str', required=True),
    type=dict(type='str', default=DEFAULT_TYPE),
    source=dict(type='str', default=DEFAULT_SOURCE),
    id=dict(type='str'),
    subject=dict(type='str'),
    data=dict(type='dict'),
    extensions=dict(type='dict'),
    mode=dict(type='str', choices=list(MODES), default='binary'),
    headers=dict(type='dict', no_log=True),
    timeout=dict(type='float', default=10),
    validate_certs=dict(type='bool', default=True),
)


def send(params, check_mode):
    """The result of sending (in check mode, building) the event ``params`` describe; ``failed`` with ``retryable`` on failure."""
    for library, error in (('cloudevents', CLOUDEVENTS_IMPORT_ERROR), ('requests', REQUESTS_IMPORT_ERROR)):
        if error:
            return dict(failed=True, msg='The Python library %s is needed on the controller.' % library, status=None, retryable=False)
    try:
        validate_url(params['url'])
        if params['timeout'] <= 0:
            raise CloudEventError('timeout must be a positive number of seconds, not %s.' % params['timeout'])
        validate_headers(params['headers'])
        event = build_event(event_type=params['type'], source=params['source'], event_id=params['id'] or None,
                            subject=params['subject'] or None, data=params['data'], extensions=params['extensions'])
        # Encoding now rejects what could not be sent, in check mode too.
        encode_event(event, params['mode'])
    except CloudEventError as exc:
        return dict(failed=True, msg=str(exc), status=None, retryable=False)
    if check_mode:
        return dict(changed=True, event=event, status=None)
    try:
        status = send_event(params['url'], event, mode=params['mode'], headers=params['headers'],
                            timeout=params['timeout'], validate_certs=params['validate_certs'])
    except DeliveryError as exc:
        return dict(failed=True, msg=str(exc), event=event, status=exc.status, retryable=exc.retryable)
    return dict(changed=True, event=event, status=status)


class ActionModule(ControllerAction):
    # An HTTP POST the controller makes anyway: no module process, nothing sent to the host.
    ARGUMENT_SPEC = ARGUMENT_SPEC
    OPTIONS_FAILED = dict(status=None)

    def act(self, params, no_log_values, task_vars):
        # As a module's output is: a header value or the URL's user info and query values (a token) never show,
        # even if a sink echoes them back.
        return remove_values(send(params, self._task.check_mode), no_log_values | set(url_secrets(params['url'])))
