#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: workflow_state
short_description: Re-run threshold and resumable run records of preemption workflows
version_added: 0.1.0
description:
  - Keeps one record per workflow in a JSON state file on the controller, or with O(url) in a PostgreSQL
    database shared by several controllers. It enforces the
    re-run threshold (a workflow preempts at most once per O(threshold) seconds, even when several triggers
    fire at once) and remembers what each run did, so an interrupted run can be finished later.
  - The file is changed only under an exclusive lock (C(flock) on the sidecar file C(<path>.lock)) and written
    atomically (a temporary file in the same directory, fsync, rename). It is created with mode C(0600),
    its directory with C(0700); an existing file keeps its mode.
  - A file that is not valid JSON, or not a state file of this collection, is an error naming it and is left
    as it is; it is never reset. An empty file counts as a new one.
  - With O(event_id), a trigger event that already started a run of a workflow on the same vCenter never starts
    another, whatever the threshold and even after O(state=absent) (RV(duplicate)).
  - Supports check mode; then nothing is written.
  - An action plugin; it runs inside C(ansible-playbook) on the controller, whatever the task's host, with no
    module process of its own. The state belongs to the controller, as a fact cache does; every trigger of the
    same workflows must run on the same controller and share the file, or share the database (O(url)).
author: vsphere.preemption contributors (@vsphere-preemption)
options:
  path:
    description:
      - The state file. C(~) is expanded. The directory is created when missing.
      - Every trigger of the same workflows must use the same file, on the same controller.
    type: path
    default: ~/.ansible/vsphere_preemption_state.json
  url:
    description:
      - A C(postgresql://) URL (libpq connection string). The records are then kept in that database, in one
        table created on first use, instead of O(path); each change is one transaction under an advisory lock,
        so of concurrent callers on several controllers exactly one proceeds.
      - The password comes from the URL or from libpq's E(PGPASSWORD) / E(PGPASSFILE); it is never logged or
        returned. Needs the C(psycopg) (3) Python library on the controller.
    type: str
  workflow_id:
    description:
      - Name of the workflow, for example the vCenter alarm that triggers it.
    type: str
    required: true
  state:
    description:
      - V(started) decides whether a new run may proceed. When the latest run that proceeded started less than
        O(threshold) seconds ago, RV(proceed) is V(false) (skipped, not a failure). Otherwise a new run is recorded
        (RV(run_id), start time, O(tag), O(criticality), O(trigger), O(event)) and RV(proceed) is V(true).
        Of several concurrent callers with the same O(workflow_id), exactly one proceeds.
      - V(started) also returns the most recent run that never reached V(finished) as RV(pending), whether it
        is inside the threshold (then RV(proceed) is V(false), since that run already did this window's preemption,
        and the caller finishes what it left undone) or not (then the new run proceeds too, and the unfinished
        run stays in the record until it is finished).
      - V(progress) merges O(results) into the run O(run_id) (the current run, or an unfinished older one).
      - V(finished) merges O(results) and marks the run O(run_id) complete; an older unfinished run, once finished, leaves C(unfinished).
      - V(progress) and V(finished) also keep the workflow's ledger, per vCenter and workflow, of every VM its runs
        powered off (the C(powered_off) of O(results), with the vCenter C(event) of the power-off when given), before
        the run reports success; C(annotated) marks them annotated.
      - V(absent) forgets the workflow's runs, its threshold and its pending work (for example when its alarm drops),
        never its ledger; the record stays with the ledger alone while it holds a VM, so a later restore still brings
        it back. RV(record) is what stays (null when nothing does).
      - V(ledger) takes VMs out of the ledger, or marks them, from O(results) (a restore's report), with C(restoring)
        (moids about to be powered on), C(restored) and C(left_alone) (lists of C({moid, run_id}), C(left_alone)
        with the C(reason) it is no longer ours); those are remembered, with the reason and the time, in C(released)
        (the last 50). C(restore_wait) (a dict, or null) records or ends a restore waiting for the threshold.
      - V(query) returns the record and changes nothing; for a workflow with no record, RV(known_ids) names those
        of the same vCenter that have one.
    type: str
    choices: [started, progress, finished, absent, query, ledger]
    default: query
  threshold:
    description:
      - With O(state=started), the seconds that must pass between the starts of two runs that proceed.
        V(0) lets every run proceed.
    type: int
    default: 60
  run_id:
    description:
      - With O(state=progress) or O(state=finished), the run to update, as returned by O(state=started)
        (RV(run_id), or the C(run_id) of RV(pending) for an unfinished earlier run). Required for those states.
    type: str
  results:
    description:
      - With O(state=progress) or O(state=finished), what the run did so far, merged into its C(results).
      - With O(state=ledger), the restore's report (see O(state)).
      - With O(state=started), what the new run knows at its start (for example its plan and the VMs it selected),
        recorded as its C(results) when it proceeds.
      - Lists are merged as unions, so a retried step loses nothing reported before. List items that are
        dicts with a C(moid) are matched by it, the newer item winning. Dicts are merged key by key; any
        other value is replaced.
      - 'For example: C(powered_off) (a list of C({moid, name, method})), C(annotated) (a list of moids),
        C(event_sent) (the CloudEvent id).'
    type: dict
  tag:
    description:
      - With O(state=started), the vSphere tag of the run, recorded with it.
    type: str
  criticality:
    description:
      - With O(state=started), the criticality of the run, recorded with it.
    type: str
  trigger:
    description:
      - With O(state=started), what started the run, for example V(eda), V(awx), V(schedule) or V(manual).
    type: str
  event:
    description:
      - With O(state=started), the triggering event (for example the CloudEvent of a vCenter alarm), recorded with the run.
    type: dict
  event_id:
    description:
      - With O(state=started), the id of the trigger event (the CloudEvent id). The ids of the events that started
        runs are remembered per vCenter (the part of O(workflow_id) after its last C(@)), outside the workflow
        records, at least the last 1,000 per vCenter or those of the last 7 days; one already seen answers
        RV(proceed=false) and RV(duplicate=true).
    type: str
notes:
  - 'The file holds C({"version": 3, "workflows": {<workflow_id>: <record>}, "events": {<vCenter>: [<seen event>]}});
    a record holds C(run) (the latest run that proceeded; absent after O(state=absent)), C(unfinished) (older runs that
    never finished), C(runs) (how many runs proceeded), C(ledger) (the VMs its runs powered off and no restore brought
    back: C({moid, name, run_id, scope, tag, method, powered_off, event, annotated, restoring, cpu_mhz, memory_mb}), the usage
    null when its run had no capacity target), C(released) (the last VMs that left the ledger: C({moid, name, run_id, outcome,
    reason, at})), C(restore_wait) and C(updated). Files of
    versions 1 and 2 are read and migrated (the ledger of a 0.2 record is built from its runs, C(unfinished) and
    C(earlier)), in the PostgreSQL table alike. Times are UTC ISO 8601 with microseconds, for example
    C(2021-11-05T13:02:34.437444Z).'
  - The lock file is left in place after use; removing it while a run holds it would let a second run in.
'''

EXAMPLES = r'''
- name: Start a run, unless this alarm already preempted in the last minute
  vsphere.preemption.workflow_state:
    workflow_id: cluster-cpu-above-80
    state: started
    threshold: 60
    tag: preemptible
    criticality: HIGH
    trigger: manual
  register: run

- name: Record what the run did so far
  vsphere.preemption.workflow_state:
    workflow_id: cluster-cpu-above-80
    state: progress
    run_id: "{{ run.run_id }}"
    results:
      powered_off: "{{ powered_off.preempted }}"
  when: run.proceed

- name: Mark the run finished
  vsphere.preemption.workflow_state:
    workflow_id: cluster-cpu-above-80
    state: finished
    run_id: "{{ run.run_id }}"
    results:
      annotated: "{{ powered_off.preempted | map(attribute='moid') }}"
      event_sent: "{{ sent.event.id }}"
  when: run.proceed

- name: Show a workflow's record
  vsphere.preemption.workflow_state:
    workflow_id: cluster-cpu-above-80
    path: /var/lib/vsphere-preemption/state.json

- name: Forget the workflow when its alarm drops
  vsphere.preemption.workflow_state:
    workflow_id: cluster-cpu-above-80
    state: absent
'''

RETURN = r'''
proceed:
  description: With O(state=started), whether the caller may preempt now.
  returned: state is started
  type: bool
  sample: true
run_id:
  description: With O(state=started), the id of the new run when RV(proceed) is true, else null.
  returned: state is started
  type: str
  sample: 0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44
last_started:
  description: With O(state=started), when the latest run that proceeded before this call started; null for the first run.
  returned: state is started
  type: str
  sample: '2021-11-05T13:02:34.437444Z'
remaining:
  description: With O(state=started), seconds until the threshold lets a new run proceed; V(0) when it proceeds.
  returned: state is started
  type: float
  sample: 41.562
pending:
  description:
    - With O(state=started), the most recent run that never reached V(finished), as recorded (with its C(results)
      so far), or null. Finish what it left undone, then call O(state=finished) with its C(run_id).
  returned: state is started
  type: dict
  sample:
    run_id: 7a9e0d4c-0d6b-4a3c-9f54-8c1c0a2e6b11
    status: running
    started: '2021-11-05T13:02:34.437444Z'
    finished: null
    tag: preemptible
    criticality: HIGH
    trigger: eda
    event: {}
    results:
      powered_off:
        - moid: vm-58
          name: batch-worker-03
          method: hard
run:
  description:
    - The run this call recorded or updated. With O(state=started), the new run (null when skipped);
      with O(state=progress) and O(state=finished), the run O(run_id) after the update.
  returned: state is started, progress or finished
  type: dict
  sample:
    run_id: 0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44
    status: finished
    started: '2021-11-05T13:03:40.013511Z'
    finished: '2021-11-05T13:03:52.640118Z'
    tag: preemptible
    criticality: HIGH
    trigger: manual
    event: null
    results:
      annotated: [vm-58]
      event_sent: cluster-cpu-above-80-0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44
known_ids:
  description: With O(state=query) of a workflow with no record, the ids of the workflows with one on the same vCenter (at most 20).
  returned: state is query and the workflow has no record
  type: list
  elements: str
  sample: [cluster-cpu-above-80/domain-c7@vcenter.example.com]
record:
  description: The workflow's record after this call (null when there is none), also set as fact C(preemption_state).
  returned: always
  type: dict
  sample:
    workflow_id: cluster-cpu-above-80
    run:
      run_id: 0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44
      status: running
      started: '2021-11-05T13:03:40.013511Z'
      finished: null
      tag: preemptible
      criticality: HIGH
      trigger: manual
      event: null
      results: {}
    unfinished: []
    runs: 2
    ledger:
      - moid: vm-58
        name: batch-worker-03
        run_id: 7a9e0d4c-0d6b-4a3c-9f54-8c1c0a2e6b11
        scope: domain-c7
        tag: preemptible
        method: hard
        powered_off: '2021-11-05T13:02:36.101010Z'
        event: {key: 4711, chain_id: 4709, type: VmPoweredOffEvent, created: '2021-11-05T13:02:36.101010Z', user: svc-preempt}
        annotated: true
        restoring: null
        cpu_mhz: 2400
        memory_mb: 8192
    released: []
    updated: '2021-11-05T13:03:40.013511Z'
state_file:
  description: The state file, with C(~) expanded.
  returned: always
  type: str
  sample: /root/.ansible/vsphere_preemption_state.json
duplicate:
  description: With O(state=started), whether O(event_id) already started a run; then RV(proceed) is V(false).
  returned: state is started
  type: bool
  sample: false
duplicate_of:
  description: With RV(duplicate), the start that event made (C(event_id), C(workflow_id), C(run_id), C(started)), else null.
  returned: state is started
  type: dict
  sample:
    event_id: c799ed99-b368-4471-aa7a-4cf02510eccc
    workflow_id: cluster-cpu-above-80/domain-c7@vcenter.example.com
    run_id: 0c5e3c2a-6f0e-4a53-b9f9-2b0f3d1e7a44
    started: '2021-11-05T13:03:40.013511Z'
msg:
  description: With O(state=started), one line saying whether the run proceeds, and if not, for how long it is blocked.
  returned: state is started
  type: str
  sample: "Workflow 'cluster-cpu-above-80' last started at 2021-11-05T13:02:34.437444Z, 18.438 s ago; threshold 60 s: skipped (41.562 s left)."
retryable:
  description:
    - On failure, whether another attempt may succeed. V(false) for a state file that cannot be read, trusted or written
      (it stays so) and bad options; V(true) for a PostgreSQL server that cannot be reached or drops the connection.
  returned: failure
  type: bool
  sample: false
'''
