#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cloudevent
short_description: Send a CloudEvent to an HTTP sink
version_added: 0.1.0
description:
  - Builds a CloudEvents 1.0 event with the C(cloudevents) SDK, JSON data (C(datacontenttype) V(application/json)),
    and POSTs it with C(requests) to an HTTP or HTTPS endpoint, such as a Knative broker, the VMware Event Broker
    Appliance, or an Event-Driven Ansible webhook.
  - Any answer other than 2xx fails the task with the HTTP status and the start of the response body,
    so C(retries)/C(until) can retry. Keep O(id) stable across retries so the receiver can deduplicate.
  - Check mode sends nothing and returns the event that would be sent.
  - An action plugin; it runs inside C(ansible-playbook) on the controller, whatever the task's host, with no module
    process of its own (the POST is made from the controller anyway).
author: vsphere.preemption contributors (@vsphere-preemption)
options:
  url:
    description:
      - The sink, an V(http://) or V(https://) URL.
    type: str
    required: true
  type:
    description:
      - The event type.
    type: str
    default: com.vmware.workflows.vsphere.VmPreemptedEvent.v0
  source:
    description:
      - The event source (a URI reference).
    type: str
    default: /vsphere.preemption
  id:
    description:
      - The event id. A random UUID when not set.
      - Source and id identify an event; a receiver may drop a second event with the same pair.
    type: str
  subject:
    description:
      - The event subject.
    type: str
  data:
    description:
      - The event data, sent as JSON.
      - No data when not set.
    type: dict
  extensions:
    description:
      - CloudEvents extension attributes, name to value.
      - Names are 1 to 20 lowercase letters V(a-z) or digits V(0-9), and none of the CloudEvents context attributes
        (V(id), V(source), V(type), V(subject), V(time) ...).
      - Values may be strings, integers or booleans; they are sent as strings (V(true)/V(false) for booleans),
        in both content modes.
    type: dict
  mode:
    description:
      - The CloudEvents HTTP content mode.
      - V(binary) puts the attributes in C(ce-*) headers and the data in the body.
        Attribute values must then be printable ASCII without C(%).
      - V(structured) sends the whole event as one C(application/cloudevents+json) document.
    type: str
    choices: [binary, structured]
    default: binary
  headers:
    description:
      - Extra HTTP headers, for example C(Authorization). Their values are never logged or returned.
      - C(Content-Type) and C(ce-*) headers belong to the event and cannot be set here.
    type: dict
  timeout:
    description:
      - Seconds to wait for the connection and for the answer.
    type: float
    default: 10
  validate_certs:
    description:
      - Verify the TLS certificate of an V(https://) sink.
      - When E(REQUESTS_CA_BUNDLE) names a CA bundle, that bundle is what is trusted.
      - V(false) disables verification even when E(REQUESTS_CA_BUNDLE) is set.
    type: bool
    default: true
notes:
  - Uses the C(cloudevents) and C(requests) Python libraries of the controller.
seealso:
  - module: vsphere.preemption.annotate
  - name: CloudEvents HTTP protocol binding
    description: How binary and structured content modes put an event into an HTTP request.
    link: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
'''

EXAMPLES = r'''
- name: Announce a preemption to a Knative broker
  vsphere.preemption.cloudevent:
    url: http://broker-ingress.knative-eventing.svc.cluster.local/vmware/default
    id: "cluster-cpu-above-80-{{ trigger_event_id }}"
    subject: cluster-cpu-above-80
    data:
      preempted: true
      criticality: HIGH
      virtualMachines:
        - Type: VirtualMachine
          Value: vm-58
  register: sent
  retries: 3
  delay: 2
  until: sent is succeeded

- name: Structured mode, with a token and an extension attribute
  vsphere.preemption.cloudevent:
    url: https://events.example.com/hooks/vsphere
    mode: structured
    headers:
      Authorization: "Bearer {{ sink_token }}"
    extensions:
      workflowid: cluster-cpu-above-80
    data: "{{ annotation }}"
'''

RETURN = r'''
event:
  description: The event sent (in check mode, that would be sent), its context attributes and C(data).
  returned: success
  type: dict
  sample:
    specversion: '1.0'
    id: cluster-cpu-above-80-5f2a0c3e
    source: /vsphere.preemption
    type: com.vmware.workflows.vsphere.VmPreemptedEvent.v0
    time: '2021-11-05T13:02:35.120931Z'
    datacontenttype: application/json
    subject: cluster-cpu-above-80
    data:
      preempted: true
      virtualMachines:
        - Type: VirtualMachine
          Value: vm-58
status:
  description: HTTP status the sink answered; null in check mode or when the sink was not reached.
  returned: always
  type: int
  sample: 202
retryable:
  description:
    - Present when the module fails. V(true) when another attempt may succeed (the sink refused or dropped the
      connection, did not answer in time, or answered HTTP 5xx, 408 or 429); V(false) when it cannot (any other
      HTTP status, an untrusted certificate, invalid options).
    - Decided from the type of the error or the HTTP status, never from a message; retry only when it is V(true).
  returned: failure
  type: bool
  sample: true
'''
