#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vcenter_session
short_description: Open or close the vCenter sessions that the later steps of a run share
version_added: 0.3.0
description:
  - With O(state=present), logs in to vCenter once over SOAP and, with O(rest), once over the vSphere REST API,
    and returns RV(session). Pass it as O(session) to the later vCenter modules of the run
    (M(vsphere.preemption.tagged_vm_info), M(vsphere.preemption.power_off), M(vsphere.preemption.power_on),
    M(vsphere.preemption.annotate)), for example through C(module_defaults), so that they log in no more.
  - With O(state=absent), logs those sessions out; put it in an C(always) section so that it runs whatever
    happened. A session vCenter already closed is not an error.
  - The session ids are secrets. This step's result is always shown censored, as with C(no_log), at any
    verbosity; the modules take O(session) as a C(no_log) option, so their invocation (C(-vvv)) and their
    results mask it. Nothing is written to disk. Keep it in a registered variable only, never in C(set_stats),
    facts that are cached, or files.
  - A module whose handed-over session vCenter expired or terminated logs in once with its password, does
    its work on that session, logs it out, and returns C(session_renewed=true).
  - An action plugin; it runs inside C(ansible-playbook) on the controller (C(pyvmomi) and C(requests) are needed
    there), with no module process of its own.
author: vsphere.preemption contributors (@vsphere-preemption)
extends_documentation_fragment:
  - vsphere.preemption.vcenter
options:
  state:
    description:
      - V(present) logs in, V(absent) logs out the sessions given in O(session).
    type: str
    choices: [present, absent]
    default: present
  rest:
    description:
      - With O(state=present), also open a vSphere REST session (needed by M(vsphere.preemption.tagged_vm_info)).
    type: bool
    default: true
  rest_flavor:
    description:
      - The REST API flavour this vCenter answered before (RV(rest_flavor)), whose login path is then tried first.
        Without it, C(/api) is tried first and C(/rest) where C(/api) is not served.
    type: str
    choices: [api, rest]
notes:
  - Supports check mode; the sessions are opened and closed all the same, as the later read-only steps need them.
seealso:
  - module: vsphere.preemption.tagged_vm_info
  - module: vsphere.preemption.power_off
'''

EXAMPLES = r'''
- name: One login per API for the whole run
  module_defaults:
    group/vsphere.preemption.vcenter:
      hostname: vcenter.example.com
      username: automation@vsphere.local
      password: "{{ vcenter_password }}"
  block:
    - name: Open the vCenter sessions
      vsphere.preemption.vcenter_session:
      register: vcenter

    - name: Find the preemptible VMs that run
      vsphere.preemption.tagged_vm_info:
        session: "{{ vcenter.session }}"
        tag: preemptible
        power_state: [poweredOn]
      register: candidates

    - name: Power them off
      vsphere.preemption.power_off:
        session: "{{ vcenter.session }}"
        vms: "{{ candidates.vms | map(attribute='moid') }}"
  always:
    - name: Log the sessions out
      vsphere.preemption.vcenter_session:
        state: absent
        session: "{{ vcenter.session }}"
      when: vcenter.session is defined
'''

RETURN = r'''
session:
  description:
    - The sessions opened (O(state=present)), to pass as O(session) to later modules; a secret.
    - An opaque string; it holds the vCenter, the SOAP session id and the API version its login negotiated, and the
      REST session id and flavour.
  returned: success and O(state=present)
  type: str
rest_flavor:
  description: The REST API flavour vCenter answered, V(api) or V(rest); null without O(rest).
  returned: success and O(state=present)
  type: str
closed:
  description: The APIs whose session was logged out (O(state=absent)), V(soap) and V(rest).
  returned: success and O(state=absent)
  type: list
  elements: str
retryable:
  description:
    - Present when the step fails. V(true) when another attempt may succeed (vCenter unreachable, timed out or busy);
      V(false) when it cannot (a refused login, an untrusted certificate, invalid options).
  returned: failure
  type: bool
'''
