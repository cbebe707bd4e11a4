#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: preempt_books
short_description: What a run of the preempt role did, still owes and says (internal to the role)
version_added: 0.4.0
description:
  - Internal to the role P(vsphere.preemption.preempt#role) and not part of the collection's interface; its options and
    result may change in any release. It is documented so that a reader of the role knows what each step computes.
  - Takes the registered results of the role's steps and returns, in one result, what the run did, what it and the
    unfinished runs before it still owe (annotations, CloudEvents, records) and what the role says (the summary
    line, the published stats, the error of a failed step). The same steps of a restore, and the lines of the
    entry point status.
  - The inputs are data (VM names, the trigger event, state records); they are copied and compared, never rendered.
  - An action plugin; it runs on the controller and talks to nothing.
author: vsphere.preemption contributors (@vsphere-preemption)
options:
  step:
    description:
      - V(history) (needs O(start)) names the VMs and the time from which M(vsphere.preemption.vm_power_events) reads
        what happened to their power, and their power now.
      - V(preempt) (needs O(plan), O(start); takes O(found), O(power), O(history)) works out the run's books.
      - V(failure) (needs O(plan), O(what), O(result); takes O(subject)) fails with the one-line error of a step whose
        every attempt failed (the role calls it when the step's result lacks what the step returns on success).
      - V(summary) (needs O(plan), O(outcome)) the summary line and stats of the role's invocation.
      - V(status) (needs O(plan), O(queried)) the readable lines of the entry point status.
      - V(restore_plan) (needs O(plan), O(record); takes O(wait), O(waited)) what a restore acts on, or why nothing.
      - V(restore_selection) (needs O(plan), O(restore), O(found), O(history); takes O(measured)) the VMs to power on
        and those no longer the workflow's.
      - V(restore_work) (needs O(plan), O(restore), O(selection), O(power)) what the restore writes and says.
    type: str
    required: true
    choices: [history, preempt, failure, summary, status, restore_plan, restore_selection, restore_work]
  plan:
    description: The registered result of M(vsphere.preemption.preempt_plan).
    type: raw
  start:
    description: The registered result of M(vsphere.preemption.workflow_state) with O(vsphere.preemption.workflow_state#module:state=started).
    type: raw
  found:
    description:
      - The registered result of M(vsphere.preemption.tagged_vm_info) (V(preempt)), or of its loop over RV(lookups)
        (V(restore_selection)).
    type: raw
  power:
    description: The registered result of M(vsphere.preemption.power_off) (V(preempt)) or M(vsphere.preemption.power_on) (V(restore_work)).
    type: raw
  history:
    description: The registered result of M(vsphere.preemption.vm_power_events).
    type: raw
  what:
    description:
      - The step, V(session) (M(vsphere.preemption.vcenter_session)), V(select) (M(vsphere.preemption.tagged_vm_info)),
        V(annotate), V(history) or V(cloudevent).
    type: raw
  result:
    description: The registered result of the step that failed (of a loop or a single task).
    type: raw
  subject:
    description: What the failed step was for (the run ids), in the error.
    type: raw
  outcome:
    description:
    - The outcome to summarise, RV(outcome) of the step V(preempt), V(restore_plan) or V(restore_work); or C({status}) with
      V(ignored), or V(cancelled) with C(removed) and C(kept) (the registered loop results of the records forgotten).
    type: raw
  queried:
    description:
      - The registered result of M(vsphere.preemption.workflow_state) O(vsphere.preemption.workflow_state#module:state=query)
        in a loop over the workflow's state keys.
    type: raw
  record:
    description: The registered result of M(vsphere.preemption.workflow_state) O(vsphere.preemption.workflow_state#module:state=query).
    type: raw
  wait:
    description: The role variable C(preemption_restore_wait); unset is V(false).
    type: raw
  waited:
    description: The RV(wait) of the restore plan worked out before the restore waited.
    type: raw
  restore:
    description: The registered result of the step V(restore_plan).
    type: raw
  selection:
    description: The registered result of the step V(restore_selection).
    type: raw
  measured:
    description: The RV(vsphere.preemption.tagged_vm_info#module:capacity) of the scope, measured before a restore with a capacity target.
    type: raw
notes:
  - Supports check mode; it changes nothing in any mode. In check mode the summary says what would be done.
  - Options that are not the registered results the step needs fail the task with one error naming them.
seealso:
  - module: vsphere.preemption.preempt_plan
  - module: vsphere.preemption.workflow_state
'''

EXAMPLES = r'''
- name: Work out what the runs did and still owe
  vsphere.preemption.preempt_books:
    step: preempt
    plan: "{{ _preempt_plan }}"
    start: "{{ _preempt_start }}"
    found: "{{ _preempt_found }}"
    power: "{{ _preempt_power }}"
    history: "{{ _preempt_history }}"
  register: _preempt_books
'''

RETURN = r'''
vms:
  description: V(history) (and V(restore_plan), in RV(history)) the VMs the runs being finished selected.
  returned: step is history
  type: list
  elements: str
  sample: [vm-58, vm-61]
since:
  description: V(history) the start of the oldest run being finished (UTC); null when there is none.
  returned: step is history
  type: str
progress:
  description:
    - V(preempt) what the new run powered off (C(powered_off), C(already_off), C(failed), C(notice)), to record before
      annotating; null when it did not proceed.
  returned: step is preempt
  type: dict
annotations:
  description:
    - V(preempt) and V(restore_work) the custom attribute values owed, C([{vms, value, message}]) (C(message) the vCenter event of the VMs).
  returned: step is preempt or restore_work
  type: list
  elements: dict
events:
  description:
    - V(preempt) and V(restore_work) the CloudEvents owed, C([{url, sink, event}]); C(url) null means the role's
      C(preemption_reply_to) (a URL with credentials is never stored).
  returned: step is preempt or restore_work
  type: list
  elements: dict
finish:
  description: V(preempt) the final results of each run being finished, C([{run_id, results}]), unfinished earlier runs first.
  returned: step is preempt
  type: list
  elements: dict
resumed:
  description: V(preempt) the ids of the earlier unfinished runs this run finishes.
  returned: step is preempt
  type: list
  elements: str
current:
  description: V(preempt) what the new run did, C({powered_off, failed, notice}).
  returned: step is preempt
  type: dict
outcome:
  description:
    - V(preempt), V(restore_plan) and V(restore_work) what the summary describes (C(status) V(finished), V(skipped),
      V(duplicate); a restore's V(restored), V(not_restored) or V(restore_failed) with its C(line)).
  returned: step is preempt, restore_plan or restore_work
  type: dict
line:
  description: V(summary) the one summary line of the role's invocation.
  returned: step is summary
  type: str
  sample: 'Preemption manual on vcenter.example.com cancelled (manual): it had no runs to forget; nothing powered off. No VM of its runs remains off.'
stats:
  description: V(summary) the results the role publishes with C(set_stats) under C(preemption.<vcenter>).
  returned: step is summary
  type: dict
power_error:
  description:
    - V(preempt) the error of a run that could not power off every VM it selected, V(restore_work) of a restore that
      could not power on every VM it chose (those VMs are in RV(outcome)); empty when it could.
  returned: step is preempt or restore_work
  type: str
sink_error:
  description:
    - V(preempt) the error for owed CloudEvents whose sink URL is not known (it carries credentials, so it was not
      stored) when the run has no sink of its own (C(preemption_reply_to)); empty otherwise.
  returned: step is preempt
  type: str
lines:
  description: V(status) readable lines on the workflow's records, one group per scope.
  returned: step is status
  type: list
  elements: str
status:
  description: V(restore_plan) V(restore), V(nothing), V(too_soon), V(unknown), V(invalid) or V(cancelled).
  returned: step is restore_plan
  type: str
message:
  description: V(restore_plan) why the restore does nothing, or fails.
  returned: step is restore_plan
  type: str
lookups:
  description: V(restore_plan) the tagged_vm_info lookups, C([{tag, category, scope}]).
  returned: step is restore_plan
  type: list
  elements: dict
history:
  description: V(restore_plan) C({vms, since}) for M(vsphere.preemption.vm_power_events).
  returned: step is restore_plan
  type: dict
wait:
  description: V(restore_plan) the C(restore_wait) to record before the restore waits, C({since, until}); null when it does not wait.
  returned: step is restore_plan
  type: dict
wait_seconds:
  description: V(restore_plan) how long the restore waits.
  returned: step is restore_plan
  type: float
wait_report:
  description: V(restore_plan) what to record of a wait that is over.
  returned: step is restore_plan
  type: dict
power_on:
  description: V(restore_selection) the moids of the VMs to power on, highest priority first.
  returned: step is restore_selection
  type: list
  elements: str
restoring:
  description: V(restore_selection) the ledger entries about to be powered on, marked in the ledger first.
  returned: step is restore_selection
  type: list
  elements: dict
left_alone:
  description: V(restore_selection) the VMs no longer the workflow's, C([{moid, name, run_id, reason}]).
  returned: step is restore_selection
  type: list
  elements: dict
report:
  description: V(restore_work) what the restore records in the ledger (C(workflow_state) O(vsphere.preemption.workflow_state#module:state=ledger)).
  returned: step is restore_work
  type: dict
restored:
  description: V(restore_work) the VMs powered on, C([{moid, name, run_id}]).
  returned: step is restore_work
  type: list
  elements: dict
msg:
  description: V(failure) the error; on any failure, why.
  returned: failure
  type: str
retryable:
  description: On bad options, V(false).
  returned: failure
  type: bool
'''
