#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: preempt_plan
short_description: Check the preempt role's variables and plan its run, reading the trigger event as data
version_added: 0.2.0
description:
  - The first step of the role P(vsphere.preemption.preempt#role) (and of its status, cancel and restore entry points); checks
    every variable before anything talks to vCenter and returns the plan of the run, or one error naming the bad
    variable, its value and what is allowed.
  - The trigger event is read from the variable C(preemption_event) exactly as it was given, never rendered as a
    template, and returned as plain data that Ansible does not render either. ansible-core trusts extra vars as
    templates and C(ansible-rulebook) passes the event as extra vars, so this is the only place the role reads it.
  - The workflow id is the alarm name of the event, else V(manual), unless O(workflow_id) is given.
  - Each role variable given as null (or not given) is the role's default (the table C(ROLE_DEFAULTS) in
    C(plugins/module_utils/_run/request.py), documented in P(vsphere.preemption.preempt#role)); the role's tasks read
    the values from the plan.
  - An action plugin; it runs on the controller and talks to nothing but the state file.
author: vsphere.preemption contributors (@vsphere-preemption)
options:
  purpose:
    description:
      - V(preempt) checks everything a run needs, V(setup) the same but for the criticality; V(cancel) and V(status) only the workflow and the vCenter.
      - V(restore) checks what a restore needs (the workflow, the numbers, the sink; no criticality) and returns
        RV(action=restore) whatever the trigger event's alarm colours.
    type: str
    choices: [preempt, setup, cancel, status, restore]
    default: preempt
  state_file:
    description:
      - The workflow state file; the workflow's record in it must be readable (see M(vsphere.preemption.workflow_state)).
      - Unset, the role's default V(~/.ansible/vsphere_preemption_state.json).
    type: path
  state_url:
    description: A C(postgresql://) URL of the state database, used instead of O(state_file) when set.
    type: str
  tag:
    description: The role variable C(preemption_tag).
    type: raw
  tag_category:
    description: The role variable C(preemption_tag_category).
    type: raw
  criticality:
    description: The role variable C(preemption_criticality).
    type: raw
  workflow_id:
    description: The role variable C(preemption_workflow_id).
    type: raw
  reply_to:
    description: The role variable C(preemption_reply_to).
    type: raw
  reply_mode:
    description: The role variable C(preemption_reply_mode).
    type: raw
  reply_validate_certs:
    description: The role variable C(preemption_reply_validate_certs).
    type: raw
  restore_wait:
    description: The role variable C(preemption_restore_wait); unset, true when a rulebook started the run (RV(trigger=eda)).
    type: raw
  event_source:
    description: The role variable C(preemption_event_source).
    type: raw
  scope:
    description: The role variable C(preemption_scope).
    type: raw
  priority_attribute:
    description: The role variable C(preemption_priority_attribute).
    type: raw
  create_field:
    description: The role variable C(preemption_create_field).
    type: raw
  max_vms:
    description: The role variable C(preemption_max_vms).
    type: raw
  parallel:
    description: The role variable C(preemption_parallel).
    type: raw
  retries:
    description: The role variable C(preemption_retries).
    type: raw
  retry_delay:
    description: The role variable C(preemption_retry_delay).
    type: raw
  threshold:
    description: The role variable C(preemption_threshold).
    type: raw
  grace_period:
    description: The role variable C(preemption_grace_period).
    type: raw
  notice_period:
    description: The role variable C(preemption_notice_period); unset is V(0).
    type: raw
  protect_tag:
    description: The role variable C(preemption_protect_tag).
    type: raw
  capacity_target:
    description:
      - The role variable C(preemption_capacity_target) (a dict, or its JSON text); unset or empty is no target.
      - Checked as M(vsphere.preemption.tagged_vm_info) checks O(vsphere.preemption.tagged_vm_info#module:capacity_target),
        and the run's scope must be a cluster or a host.
    type: raw
  vcenter_hostname:
    description: The vCenter; default the E(VMWARE_HOST) environment variable.
    type: raw
  vcenter_port:
    description: The vCenter's port; default the E(VMWARE_PORT) environment variable, else V(443).
    type: raw
notes:
  - Supports check mode; it changes nothing in any mode.
seealso:
  - module: vsphere.preemption.workflow_state
'''

EXAMPLES = r'''
- name: Check the request and plan the run
  vsphere.preemption.preempt_plan:
    tag: "{{ preemption_tag }}"
    criticality: "{{ preemption_criticality }}"
    max_vms: "{{ preemption_max_vms }}"
    parallel: "{{ preemption_parallel }}"
    retries: "{{ preemption_retries }}"
    retry_delay: "{{ preemption_retry_delay }}"
    threshold: "{{ preemption_threshold }}"
    grace_period: "{{ preemption_grace_period }}"
    state_file: "{{ preemption_state_file }}"
  register: plan
'''

RETURN = r'''
action:
  description:
    - V(preempt), V(cancel) (an alarm that dropped, or O(purpose=cancel)), V(ignore) (an alarm that did not change), V(status)
      or V(restore).
    - With O(purpose=preempt), an alarm that dropped returns the plan O(purpose=cancel) returns, RV(state_keys) included,
      so that the role forgets the workflow without planning again.
  returned: success
  type: str
  sample: preempt
workflow_id:
  description: The workflow.
  returned: success
  type: str
  sample: cluster-cpu-above-80
vcenter:
  description: The vCenter, C(host) or C(host:port).
  returned: success
  type: str
  sample: vcenter.example.com
state_key:
  description: The workflow's key in the state, C(<workflow_id>@<vcenter>).
  returned: success
  type: str
  sample: cluster-cpu-above-80@vcenter.example.com
state_file:
  description: The state file the run uses (the role's default when unset); the run's tasks read it from here.
  returned: success
  type: str
  sample: /home/ops/.ansible/vsphere_preemption_state.json
reply_mode:
  description: The CloudEvents content mode of the sink, V(binary) or V(structured).
  returned: success
  type: str
  sample: binary
reply_validate_certs:
  description: Whether the TLS certificate of an V(https://) sink is verified.
  returned: success
  type: bool
  sample: true
restore_wait:
  description: Whether a restore inside the threshold waits until it has passed.
  returned: success
  type: bool
  sample: false
trigger:
  description: What started the run, V(eda), V(awx) or V(manual), from which variables are defined.
  returned: success
  type: str
  sample: eda
criticality:
  description: V(LOW), V(MEDIUM) or V(HIGH); null when the run preempts nothing.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
  sample: HIGH
mode:
  description: The power-off mode of the criticality, V(soft), V(soft_then_hard) or V(hard).
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
  sample: hard
capacity_target:
  description: The checked capacity target (percentages as numbers, amounts as whole numbers); null when none.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: dict
  sample: {cpu_percent: 75.0}
scope:
  description: The moid the run is confined to (the alarm's cluster, else its host, or the one given); null for all of vCenter.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
  sample: domain-c7
scope_origin:
  description:
    - Where RV(scope) came from when C(preemption_scope) is V(event) and the event names a cluster or host;
      null otherwise. A selection that cannot read the scope says it.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
  sample: preemption_event's data.ComputeResource, else its data.Host
event:
  description: The trigger event, as given (parsed from JSON text when it was text), never rendered.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: dict
event_id:
  description: The trigger event's id.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
  sample: d65a8ad1-7d3c-4f72-ace4-e3f2883c4475
reason:
  description: Why the run happens, for the summary, for example V(alarm 'cluster-cpu-above-80' green -> red).
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
recorded:
  description: The part of the plan the run records in the state, so that a later run can finish it as this one would have.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: dict
tag_id:
  description:
    - The id of the tag as the workflow's latest run found it, handed to M(vsphere.preemption.tagged_vm_info) to skip
      the lookup by name; null when unknown.
  returned: O(purpose=preempt) and a state is given
  type: str
state_keys:
  description: The records status and cancel act on, one per scope of the workflow (see the README, "Workflows").
  returned: RV(action=cancel), O(purpose=status) or O(purpose=restore), and a state is given
  type: list
  elements: str
sink:
  description:
    - The CloudEvent sink as it may be shown and stored, its user info and query values replaced by C(***)
      (V(https://***@events.example.com/hook?token=***)); null without a sink.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
reply_to:
  description:
    - The sink's URL when it carries no credential (no user info, no query), else null; the role sends to
      C(preemption_reply_to) itself, so that the full URL is never in a result, fact or state.
  returned: O(purpose=preempt), O(purpose=setup) or O(purpose=restore)
  type: str
msg:
  description: The error, naming the variable, its value and what is allowed.
  returned: failure
  type: str
  sample: "preemption_criticality 'SUPER' is not valid: use LOW, MEDIUM or HIGH (any case)."
retryable:
  description: On failure, V(false); a bad variable stays bad.
  returned: failure
  type: bool
'''
