# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ledger: every VM a workflow powered off, until it is restored or found no longer ours (pure functions).

It lives in the workflow's record (records.py), so both state backends keep it
with the same transitions::

    "ledger": [<entry>, ...]       # VMs still off because of us, oldest first
    "released": [<released>, ...]  # the last RELEASED_KEPT that left it, newest last

with an entry::

    {"moid": "vm-58", "name": "batch-03", "run_id": "<uuid>", "scope": "domain-c7" | null,
     "tag": "preemptible", "method": "hard" | "soft" | null,
     "powered_off": "<timestamp>",                 # our power-off (vCenter's event time when known)
     "event": {"key": 1234, "chain_id": 1230, "type": "VmPoweredOffEvent", "created": "<timestamp>",
               "user": "..."} | null,            # the vCenter event our power-off caused
     "annotated": true | false,                    # the run's annotation was written
     "cpu_mhz": 2400 | null, "memory_mb": 8192 | null,  # what it used when its run selected it (runs with a
                                                   # capacity target measure it): a restore with a target fits on it
     "restoring": "<timestamp>" | null}            # a restore is powering it on (a killed restore resumes)

and a released entry: ``{moid, name, run_id, outcome: "restored" | "left_alone", reason, at}``.

An entry is written by the progress report that says a run powered the VM
off (before the run reports success), kept by ``absent`` (cancel forgets the
threshold and the pending work, never the ledger), and leaves only through
`release`.
"""

from __future__ import annotations

import copy

RELEASED_KEPT = 50
OUTCOMES = ('restored', 'left_alone')


def _event(value):
    """The recorded vCenter event of a powered-off VM, when the run found it; else None."""
    if not isinstance(value, dict) or not isinstance(value.get('key'), int):
        return None
    return {name: value.get(name) for name in ('key', 'chain_id', 'type', 'created', 'user')}


def _usage(run, moid):
    """``{cpu_mhz, memory_mb}`` the run's ``selected`` recorded for ``moid`` (whole numbers), each None when unknown."""
    selected = (run.get('results') or {}).get('selected')
    found = next((vm for vm in selected if isinstance(vm, dict) and vm.get('moid') == moid), {}) if isinstance(selected, list) else {}
    return {dim: found[dim] if isinstance(found.get(dim), int) and not isinstance(found[dim], bool) else None
            for dim in ('cpu_mhz', 'memory_mb')}


def new_entry(vm, run, now_text):
    """The ledger entry of ``vm`` (``{moid, name, method, event}`` as a run reports it) powered off by ``run``."""
    plan = (run.get('results') or {}).get('plan') or {}
    event = _event(vm.get('event'))
    entry = {
        'moid': vm['moid'], 'name': vm.get('name'), 'run_id': run['run_id'], 'scope': plan.get('scope'),
        'tag': plan.get('tag') or run.get('tag'), 'method': vm.get('method'),
        'powered_off': (event or {}).get('created') or now_text, 'event': event,
        'annotated': False, 'restoring': None,
    }
    entry.update(_usage(run, vm['moid']))
    return entry


def _released(entry, outcome, reason, now_text):
    return {'moid': entry['moid'], 'name': entry.get('name'), 'run_id': entry['run_id'], 'outcome': outcome,
            'reason': reason, 'at': now_text}


def record_run(record, run, update, now_text):
    """The ledger and released list after ``update`` (a progress report's results) of ``run``.

    Every VM of ``update['powered_off']`` enters the ledger (an entry of the same run is refreshed,
    keeping its first time; one of another run, a VM powered on since and off again, is replaced
    and released); the moids of ``update['annotated']`` are marked annotated. Returns
    ``(ledger, released)``.
    """
    ledger = copy.deepcopy(record.get('ledger') or [])
    released = copy.deepcopy(record.get('released') or [])
    positions = {entry['moid']: index for index, entry in enumerate(ledger)}
    for vm in update.get('powered_off') or []:
        if not isinstance(vm, dict) or not isinstance(vm.get('moid'), str):
            continue
        fresh = new_entry(vm, run, now_text)
        index = positions.get(vm['moid'])
        if index is None:
            positions[vm['moid']] = len(ledger)
            ledger.append(fresh)
            continue
        old = ledger[index]
        if old['run_id'] == run['run_id']:
            fresh['annotated'] = old['annotated']
            if fresh['event'] is None:
                fresh['event'], fresh['powered_off'] = old['event'], old['powered_off']
            fresh['method'] = fresh['method'] or old['method']
        else:
            released.append(_released(old, 'left_alone', 'powered off again by run %s' % run['run_id'], now_text))
        ledger[index] = fresh
    annotated = set(moid for moid in update.get('annotated') or [] if isinstance(moid, str))
    for entry in ledger:
        if entry['run_id'] == run['run_id'] and entry['moid'] in annotated:
            entry['annotated'] = True
    return ledger, released[-RELEASED_KEPT:]


def release(record, report, now_text):
    """The ledger and released list after a restore's ``report``.

    ``report``: ``restoring`` (moids a restore is about to power on: marked, so a killed restore is
    finished by the next), ``restored`` (``[{moid, run_id}]``) and ``left_alone`` (``[{moid, run_id,
    reason}]``, found no longer ours): those leave the ledger and are remembered in ``released``.
    Entries are matched by moid and run, so a report about an older run never releases a newer one.
    Returns ``(ledger, released)``.
    """
    ledger = copy.deepcopy(record.get('ledger') or [])
    released = copy.deepcopy(record.get('released') or [])
    restoring = set(report.get('restoring') or [])
    leaving = {}
    for outcome in OUTCOMES:
        for vm in report.get(outcome) or []:
            leaving[(vm['moid'], vm['run_id'])] = (outcome, vm.get('reason'), vm.get('at') or now_text)
    kept = []
    for entry in ledger:
        found = leaving.get((entry['moid'], entry['run_id']))
        if found:
            released.append(_released(entry, found[0], found[1], found[2]))
            continue
        if entry['moid'] in restoring:
            entry['restoring'] = now_text
        kept.append(entry)
    return kept, released[-RELEASED_KEPT:]


def from_runs(record):
    """The ledger and released list of a record written by 0.2, from its runs (``earlier``, ``unfinished``, ``run``).

    Every VM a run recorded as powered off and no restore brought back is an entry (0.2 recorded
    no vCenter event, so ``event`` is null and the time is the run's end, or start); VMs restored
    are remembered as released.
    """
    runs = list(record.get('earlier') or []) + list(record.get('unfinished') or [])
    if record.get('run'):
        runs.append(record['run'])
    runs.sort(key=lambda run: run.get('started') or '')
    ledger, released = {}, []
    for run in runs:
        results = run.get('results') or {}
        restored = {}
        for vm in results.get('restored') or []:
            if isinstance(vm, dict) and isinstance(vm.get('moid'), str):
                restored[vm['moid']] = vm
        annotated = set(results.get('annotated') or [])
        when = run.get('finished') or run.get('started')
        for vm in results.get('powered_off') or []:
            if not isinstance(vm, dict) or not isinstance(vm.get('moid'), str):
                continue
            entry = new_entry(vm, run, when)
            if vm['moid'] in restored:
                released.append(_released(entry, 'restored', None, restored[vm['moid']].get('restored') or when))
                ledger.pop(vm['moid'], None)
                continue
            entry['annotated'] = vm['moid'] in annotated
            entry['restoring'] = None
            ledger[vm['moid']] = entry
    return sorted(ledger.values(), key=lambda entry: entry['powered_off']), released[-RELEASED_KEPT:]


def check(record):
    """Raise TypeError/KeyError for a ledger or released list this code did not write."""
    for entry in record.get('ledger', []):
        if not isinstance(entry['moid'], str) or not isinstance(entry['run_id'], str) or not isinstance(entry['powered_off'], str):
            raise TypeError('ledger entry')
    for entry in record.get('released', []):
        if not isinstance(entry['moid'], str) or entry['outcome'] not in OUTCOMES:
            raise TypeError('released entry')
