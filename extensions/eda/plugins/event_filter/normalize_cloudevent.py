# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ansible-rulebook event filter ``vsphere.preemption.normalize_cloudevent``."""

from __future__ import annotations

import urllib.parse

DOCUMENTATION = r"""
---
short_description: Turn a binary-mode CloudEvent received by a webhook into a structured one.
description:
  - An ansible-rulebook event filter for events from C(eda.builtin.webhook), which puts the
    request's JSON body under C(payload) and its headers under C(meta.headers).
  - "A CloudEvent POSTed in binary mode (the CloudEvents HTTP binding: attributes in C(ce-*) headers,
    the event data as the body, as VEBA and Knative send by default) is rebuilt as the structured
    CloudEvent: C(payload) becomes C({specversion, id, source, type, subject, time, ..., data: <body>}),
    with C(datacontenttype) from the C(Content-Type) header. Header names match in any case;
    percent-encoded values are decoded."
  - A structured-mode CloudEvent (a body with C(specversion)) and anything that is not a CloudEvent
    pass unchanged, so rules can read C(event.payload.type) and C(event.payload.data) the same way
    for both modes, and a foreign event simply matches no rule.
options: {}
"""

EXAMPLES = r"""
- name: VEBA alarms
  hosts: localhost
  sources:
    - eda.builtin.webhook:
        host: 0.0.0.0
        port: 5000
        token: "{{ preemption_webhook_token }}"
      filters:
        - vsphere.preemption.normalize_cloudevent:
  rules:
    - name: Show the alarm
      condition: event.payload.subject == "AlarmStatusChangedEvent"
      action:
        debug:
          msg: "{{ event.payload.data.Alarm.Name }}: {{ event.payload.data.From }} -> {{ event.payload.data.To }}"
"""

HEADER_PREFIX = 'ce-'


def binary_to_structured(headers, body):
    """The structured CloudEvent (a dict) of a binary-mode HTTP message; ``headers`` keys in lower case."""
    cloudevent = {}
    for name, value in headers.items():
        if name.startswith(HEADER_PREFIX) and len(name) > len(HEADER_PREFIX):
            cloudevent[name[len(HEADER_PREFIX):]] = urllib.parse.unquote(str(value))
    content_type = headers.get('content-type')
    if content_type and 'datacontenttype' not in cloudevent:
        cloudevent['datacontenttype'] = str(content_type)
    cloudevent['data'] = body
    return cloudevent


def main(event):
    """Rebuild a binary-mode CloudEvent into ``payload``; leave everything else as it is."""
    payload = event.get('payload')
    if isinstance(payload, dict) and 'specversion' in payload:
        return event
    meta = event.get('meta')
    headers = meta.get('headers') if isinstance(meta, dict) else None
    if not isinstance(headers, dict):
        return event
    lowered = {str(name).lower(): value for name, value in headers.items()}
    if HEADER_PREFIX + 'specversion' in lowered:
        event['payload'] = binary_to_structured(lowered, payload)
    return event
