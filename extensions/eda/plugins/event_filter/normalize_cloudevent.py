# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ansible-rulebook event filter ``vsphere.preemption.normalize_cloudevent``."""

from __future__ import annotations

import os
import runpy
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
    keep their payload unchanged, so rules can read C(event.payload.type) and C(event.payload.data) the
    same way for both modes, and a foreign event simply matches no rule.
  - "Every event then gets C(preemption), what it means for vsphere.preemption, decided in Python once
    (the role's plan decides the same way): C(alarm) the alarm's name (C(data.Alarm.Name)); C(change)
    V(raised) (to red from another colour, to yellow from green or gray), V(eased) (red to yellow),
    V(cleared) (to green or gray from another colour) or V(none) (unchanged, or anything that is not a
    readable C(AlarmStatusChangedEvent); C(alarm) is then null); C(criticality) V(HIGH) or V(MEDIUM) for
    a raise, else null; C(scope) the event's cluster moid (C(data.ComputeResource)), else its host moid
    (C(data.Host)), else V(all); C(lock) the lock of the scope's runs (the scope); C(restore_on_clear) what
    a drop runs when the rulebook variable C(preemption_restore_on_clear) is true, C({playbook, lock}):
    V(restore) under the lock C(restore:<scope>) for a clear, V(status) under the scope's lock for an
    ease, null otherwise. Names and values are data: nothing in them is rendered."
  - Never fails on a malformed or hostile payload (a filter that raises stops the rulebook's source);
    what it cannot read is C(change) V(none).
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
      condition: event.preemption.alarm == "cluster-cpu-above-80" and event.preemption.change == "raised"
      action:
        debug:
          msg: "{{ event.preemption.alarm }} raised on {{ event.preemption.scope }}: {{ event.preemption.criticality }}"
"""


# ansible-rulebook runs this file by path, outside any package: the plugins' one bootstrap, run by path
# too, puts the collection on sys.path.
runpy.run_path(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '_collection_path.py'))

from ansible_collections.vsphere.preemption.plugins.module_utils._run.alarm import alarm_change  # noqa: E402

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


def _structured(event):
    """The event's CloudEvent in structured form: a binary-mode one rebuilt, anything else as it is."""
    payload = event.get('payload')
    if isinstance(payload, dict) and 'specversion' in payload:
        return payload
    meta = event.get('meta')
    headers = meta.get('headers') if isinstance(meta, dict) else None
    if not isinstance(headers, dict):
        return payload
    lowered = {str(name).lower(): value for name, value in headers.items()}
    if HEADER_PREFIX + 'specversion' in lowered:
        return binary_to_structured(lowered, payload)
    return payload


def main(event):
    """Rebuild a binary-mode CloudEvent into ``payload``, and add ``preemption``: what the event means (alarm.alarm_change)."""
    structured = _structured(event)
    if structured is not event.get('payload'):
        event['payload'] = structured
    event['preemption'] = alarm_change(event.get('payload'))
    return event
