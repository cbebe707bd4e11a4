# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a restore of a preemption workflow does, as pure functions (the ``restore`` entry point of the role).

A restore powers back on the VMs a workflow's runs powered off, and only
those still off whose annotation is still that run's. Three steps, each a
function the role calls through a filter:

`restore_plan`  (the workflow's record, before vCenter is read): which runs
                and VMs may be restored, or why nothing is to be done;
`restore_selection` (tagged_vm_info's answer): which VMs to power on, in
                which order, and which to leave alone, and why;
`restore_work`  (power_on's answer): the annotations, the CloudEvents and the
                results to record.

A run's results keep ``restoring`` (the VMs a restore is about to power on,
recorded first), ``restored`` (``[{moid, name, restored}]``) and
``restore_event_sent``: a restore killed after its power-on is finished by
the next one (a VM of ``restoring`` found on, still annotated as preempted by
the run, counts as powered on by it), and a second restore finds nothing.

Inputs are untrusted data (the state file, VM names, annotations): they are
parsed and compared, never interpreted.
"""

from __future__ import annotations

import copy
import json

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import FINISHED
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp, parse_timestamp
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.capacity import restore_fits, vm_usage

EVENT_TYPE = 'com.vmware.workflows.vsphere.VmRestoredEvent.v0'
ANNOTATION_FIELD = 'com.vmware.workflows.vsphere.preemption'


class AmbiguousWorkflow(PreemptionError, ValueError):
    """A restore of a workflow id that has a record per scope, without saying which."""


def restore_key(workflow_id, keys, records):
    """The one state key a restore acts on: the workflow's own, or the one of its scopes that has a record.

    ``keys`` are the candidate keys (preemption_request.scope_keys), ``records`` theirs (None when absent).
    Raises AmbiguousWorkflow, naming them and how to choose, when several have a record.
    """
    found = [key for key, record in zip(keys, records) if record]
    if len(found) > 1:
        raise AmbiguousWorkflow(
            'Workflow %r has a record per scope (%s); restore one at a time with preemption_scope set to its scope '
            '(e.g. -e preemption_scope=%s).' % (workflow_id, ', '.join(found), found[-1].rpartition('@')[0].rpartition('/')[2]))
    return found[0] if found else keys[0]


def restore_event_id(workflow_id, run_id):
    return '%s-restore-%s' % (workflow_id, run_id)


def _moids(vms):
    return {vm['moid'] for vm in vms or []}


def _runs(record):
    """The finished runs of a record whose VMs may still be off, latest first (the latest run, then ``earlier``)."""
    runs = [record['run']] + list(reversed(record.get('earlier') or []))
    return [run for run in runs if run.get('status') == FINISHED]


def restore_plan(record, plan, now, triggered=False):
    """Which runs of the workflow a restore considers, or why it does nothing.

    ``record`` is the workflow's record (``workflow_state: query``; None when
    it has none), ``plan`` the restore's plan (preempt_plan), ``now`` an aware
    UTC datetime. ``triggered``: an alarm event asked for the restore, so a
    workflow that never ran is nothing to restore rather than an error.
    Returns ``{status, message, restored_at, runs: [{run_id, started, plan,
    vms, restoring}], tags: [{tag, category}]}``, ``status`` one of
    ``restore``, ``nothing``, ``too_soon``, ``unknown``.
    """
    where = '%s on %s' % (plan['workflow_id'], plan['vcenter'])
    result = {'status': 'nothing', 'message': '', 'restored_at': format_timestamp(now), 'runs': [], 'tags': []}
    if not record:
        result['status'] = 'nothing' if triggered else 'unknown'
        result['message'] = ('Restore of workflow %s: it has no record in the state file, so it preempted nothing to restore'
                             % where + ('.' if triggered else '; check preemption_workflow_id and preemption_state_file '
                                        '(vsphere.preemption.status shows a workflow\'s record).'))
        return result
    elapsed = (now - parse_timestamp(record['run']['started'])).total_seconds()
    if abs(elapsed) < plan['threshold']:
        result['status'] = 'too_soon'
        result['message'] = ('Restore of %s skipped: its last preemption started %s, %.0f s ago, within the threshold of %d s '
                             '(no flapping); nothing changed.' % (where, record['run']['started'], elapsed, plan['threshold']))
        return result
    tags = []
    for run in _runs(record):
        results = run.get('results') or {}
        done = _moids(results.get('restored'))
        vms = [dict(vm) for vm in results.get('powered_off') or [] if vm['moid'] not in done]
        if not vms and (not results.get('restored') or results.get('restore_event_sent') or not plan.get('sink')):
            continue
        recorded = results.get('plan') or {}
        result['runs'].append({'run_id': run['run_id'], 'started': run['started'], 'plan': copy.deepcopy(recorded), 'vms': vms,
                               'restoring': sorted(_moids(results.get('restoring'))), 'restored': copy.deepcopy(results.get('restored') or []),
                               'event_sent': results.get('restore_event_sent'),
                               # What each VM used when it was powered off (runs with a capacity target know it).
                               'usage': vm_usage(results.get('selected') or [])})
        tag = recorded.get('tag') or plan['tag']
        if tag not in tags:
            tags.append(tag)
    result['tags'] = [{'tag': tag, 'category': plan.get('tag_category') if tag == plan['tag'] else None} for tag in tags]
    if not result['runs']:
        pending = record['run'].get('status') != FINISHED
        result['message'] = 'Restore of %s: nothing to restore%s.' % (
            where, ' (its latest run %s has not finished; the next preemption run finishes it)' % record['run']['run_id'] if pending
            else ': every VM its runs powered off was restored already' if any((run.get('results') or {}).get('restored') for run in _runs(record))
            else ': its runs powered off no VM')
        return result
    result['status'] = 'restore'
    return result


def _annotation(vm):
    """The VM's preemption annotation as a dict, or None (unset, not JSON, not an object)."""
    raw = (vm.get('attributes') or {}).get(ANNOTATION_FIELD)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _found(found):
    """``({moid: vm}, {moid: reason})`` from the registered tagged_vm_info loop (one result per tag)."""
    vms, excluded = {}, {}
    for result in found.get('results') or [found]:
        for vm in result.get('vms') or []:
            vms[vm['moid']] = vm
        for vm in result.get('excluded') or []:
            excluded[vm['moid']] = vm['reason']
    return vms, excluded


def _verdict(vm, annotation, run, workflow_id):
    """``(what, reason)``: ``power_on``, ``resume`` (powered on by a killed restore), ``annotated`` (restored, record owed) or ``leave``."""
    if not annotation or annotation.get('runID') != run['run_id'] or annotation.get('workflowID') != workflow_id:
        return 'leave', 'annotation no longer that of run %s' % run['run_id']
    if annotation.get('preempted') is False and annotation.get('restored'):
        return 'annotated', None
    if annotation.get('preempted') is not True:
        return 'leave', 'annotation no longer that of a preempted VM'
    if vm['power_state'] == 'poweredOff':
        return 'power_on', None
    if vm['power_state'] == 'poweredOn' and vm['moid'] in run['restoring']:
        return 'resume', None
    return 'leave', 'powered on since' if vm['power_state'] == 'poweredOn' else vm['power_state']


def restore_selection(restore, found, plan, measured=None):
    """Which VMs to power on and which to leave alone, from tagged_vm_info's answer (``found``, a loop result).

    Returns ``{power_on: [moid], restoring: [{run_id, results}], vms: [{moid, name, run_id, annotation, resumed}],
    left_alone: [{moid, name, run_id, reason}], beyond_max: [{moid, name}], waiting: [{moid, name, cpu_mhz, memory_mb}]}``:
    the VMs to power on highest priority first (then by name), at most ``plan['max_vms']`` newly; ``vms`` every VM the
    restore annotates (also those a killed restore powered on or annotated already). With the plan's
    ``capacity_target`` and ``measured`` (the scope's ``{capacity, usage}`` now), only the VMs that fit
    (capacity.restore_fits); the others, and those whose usage at preemption is unknown, are ``waiting``.
    """
    by_moid, excluded = _found(found)
    candidates, resumed, left_alone = [], [], []
    for run in restore['runs']:
        workflow_id = run['plan'].get('workflow_id') or plan['workflow_id']
        for given in run['vms']:
            vm = by_moid.get(given['moid'])
            if vm is None:
                reason = ('never touched: %s' % excluded[given['moid']] if given['moid'] in excluded
                          else 'deleted, or no longer tagged %r' % (run['plan'].get('tag') or plan['tag']))
                left_alone.append({'moid': given['moid'], 'name': given.get('name'), 'run_id': run['run_id'], 'reason': reason})
                continue
            annotation = _annotation(vm)
            what, reason = _verdict(vm, annotation, run, workflow_id)
            entry = {'moid': vm['moid'], 'name': vm['name'], 'run_id': run['run_id'], 'annotation': annotation,
                     'priority': vm.get('priority') or 0, 'resumed': what != 'power_on'}
            if what == 'leave':
                left_alone.append({'moid': vm['moid'], 'name': vm['name'], 'run_id': run['run_id'], 'reason': reason})
            elif what == 'power_on':
                candidates.append(entry)
            else:
                resumed.append(entry)
    candidates.sort(key=lambda vm: (-vm['priority'], vm['name'], vm['moid']))
    chosen, beyond = candidates[:plan['max_vms']], candidates[plan['max_vms']:]
    waiting = []
    if plan.get('capacity_target') and measured:
        chosen, waiting = _fitting(restore, chosen, plan['capacity_target'], measured)
    vms = resumed + chosen
    restoring = []
    for run in restore['runs']:
        mine = [{'moid': vm['moid'], 'name': vm['name']} for vm in chosen if vm['run_id'] == run['run_id']]
        if mine:
            restoring.append({'run_id': run['run_id'], 'results': {'restoring': mine}})
    return {'power_on': [vm['moid'] for vm in vms if vm['annotation'].get('preempted') is True], 'restoring': restoring,
            'vms': vms, 'left_alone': left_alone, 'beyond_max': [{'moid': vm['moid'], 'name': vm['name']} for vm in beyond],
            'waiting': waiting}


def _fitting(restore, chosen, target, measured):
    """``(fit, waiting)`` of the candidates ``chosen`` (highest priority first) under ``target``.

    A VM whose usage when it was powered off is unknown (preempted without a target) cannot be projected: it
    waits, for a restore without a target.
    """
    usage = {}
    for run in restore['runs']:
        usage.update(run.get('usage') or {})
    known = [dict(vm, **usage[vm['moid']]) for vm in chosen if vm['moid'] in usage]
    fit, wait = restore_fits(target, measured, known)
    fitting = {vm['moid'] for vm in fit}
    waiting = [{'moid': vm['moid'], 'name': vm['name'], 'cpu_mhz': vm['cpu_mhz'], 'memory_mb': vm['memory_mb']} for vm in wait]
    waiting += [{'moid': vm['moid'], 'name': vm['name'], 'cpu_mhz': None, 'memory_mb': None} for vm in chosen if vm['moid'] not in usage]
    return [vm for vm in chosen if vm['moid'] in fitting], waiting


def restored_value(annotation, restored_at):
    """The annotation of a restored VM: the run's own, with ``preempted`` false and ``restored``."""
    value = copy.deepcopy(annotation)
    if value.get('preempted') is True:
        value['preempted'] = False
        value['restored'] = restored_at
    return value


def restore_message(workflow_id, run_id):
    """The vCenter event of a restored VM (the same for a resumed restore, so it is logged once)."""
    return 'Restored by vsphere.preemption: workflow %s, run %s; powered back on after its preemption.' % (workflow_id, run_id)


def _answered(power):
    return bool(power) and not power.get('skipped') and isinstance(power.get('powered_on'), list)


def restore_work(restore, selection, power, plan):
    """What the restore writes, from power_on's registered answer (``power``).

    Returns ``{annotations: [{vms, value, message}], events: [{url, sink, event}], finish: [{run_id, results}],
    (``url``: the sink's URL when it carries no credential, else None: the role sends to preemption_reply_to)
    restored: [{moid, name, run_id}], failed: [{moid, name, msg}]}``. A VM power_on reports powered on, or
    already on, is restored; one it did not answer for stays off and in ``restoring`` for the next restore.
    """
    failed = []
    on = set()
    if _answered(power):
        on = _moids(power['powered_on']) | _moids(power.get('already_on'))
        failed = [dict(vm) for vm in power.get('failed_vms') or []]
    elif power and not power.get('skipped'):
        failed = [{'moid': moid, 'name': None, 'msg': power.get('msg') or 'no answer from vCenter'} for moid in selection['power_on']]
    restored = [vm for vm in selection['vms'] if vm['moid'] in on or vm['annotation'].get('preempted') is False]
    groups = {}
    for vm in restored:
        value = restored_value(vm['annotation'], restore['restored_at'])
        key = (vm['run_id'], json.dumps(value, sort_keys=True))
        groups.setdefault(key, {'vms': [], 'value': value, 'message': restore_message(value.get('workflowID'), vm['run_id'])})
        groups[key]['vms'].append(vm['moid'])
    result = {'annotations': list(groups.values()), 'events': [], 'finish': [], 'failed': failed,
              'restored': [{'moid': vm['moid'], 'name': vm['name'], 'run_id': vm['run_id']} for vm in restored]}
    for run in restore['runs']:
        mine = [vm for vm in restored if vm['run_id'] == run['run_id']]
        records = [{'moid': vm['moid'], 'name': vm['name'],
                    'restored': restored_value(vm['annotation'], restore['restored_at'])['restored']} for vm in mine]
        everything = run['restored'] + [vm for vm in records if vm['moid'] not in _moids(run['restored'])]
        if not everything:
            continue
        event_id = restore_event_id(run['plan'].get('workflow_id') or plan['workflow_id'], run['run_id'])
        results = {'restored': records}
        if plan.get('sink') and (mine or run['event_sent'] != event_id):
            data = restored_value(mine[0]['annotation'] if mine else _annotation_of(run, everything), restore['restored_at'])
            data['virtualMachines'] = [{'Type': 'VirtualMachine', 'Value': vm['moid']} for vm in everything]
            result['events'].append({'url': plan['reply_to'], 'sink': plan['sink'], 'event': {
                'id': event_id, 'type': EVENT_TYPE, 'source': plan['event_source'], 'subject': plan['workflow_id'], 'data': data}})
            results['restore_event_sent'] = event_id
        if records or 'restore_event_sent' in results:
            result['finish'].append({'run_id': run['run_id'], 'results': results})
    return result


def _annotation_of(run, restored):
    """The fields of a run whose VMs were all restored before (its CloudEvent alone is owed): from its recorded plan."""
    recorded = run['plan']
    return {'preempted': False, 'tag': recorded.get('tag'), 'criticality': recorded.get('criticality'),
            'workflowID': recorded.get('workflow_id'), 'workflowStarted': run['started'], 'runID': run['run_id'],
            'restored': restored[-1].get('restored')}


def restore_summary(plan, restore, selection=None, work=None, check_mode=False):
    """``{status, line, restored, left_alone, failed}``: the outcome of a restore, with its one summary line.

    ``status``: ``restored``, ``not_restored`` (nothing to do, too soon, unknown workflow) or ``restore_failed``.
    In check mode power_on reports what it would power on, so ``restored`` is what would be restored.
    """
    if restore['status'] != 'restore':
        return {'status': 'not_restored', 'line': restore['message'], 'restored': [], 'left_alone': [], 'failed': []}
    selection = selection or {'left_alone': [], 'beyond_max': [], 'vms': [], 'waiting': []}
    work = work or {'restored': [], 'failed': [], 'events': []}
    where = '%s on %s' % (plan['workflow_id'], plan['vcenter'])
    restored = work['restored']
    parts = []
    if restored:
        parts.append('%s %d VM%s: %s' % ('would restore' if check_mode else 'restored', len(restored), '' if len(restored) == 1 else 's',
                                         ', '.join('%s (%s)' % (vm['name'], vm['moid']) for vm in restored)))
    else:
        parts.append('nothing to restore')
    if selection['left_alone']:
        parts.append('left alone %d: %s' % (len(selection['left_alone']), '; '.join(
            '%s (%s): %s' % (vm.get('name') or vm['moid'], vm['moid'], vm['reason']) for vm in selection['left_alone'])))
    if selection['beyond_max']:
        parts.append('%d more left off (max_vms %d)' % (len(selection['beyond_max']), plan['max_vms']))
    if selection.get('waiting'):
        parts.append('%d wait for capacity (they would take the scope over its target %s): %s' % (
            len(selection['waiting']), json.dumps(plan.get('capacity_target'), sort_keys=True), ', '.join(
                '%s (%s, %s)' % (vm['name'], vm['moid'], 'used %s MHz, %s MB' % (vm['cpu_mhz'], vm['memory_mb'])
                                 if vm['cpu_mhz'] is not None else 'usage unknown') for vm in selection['waiting'])))
    if work['failed']:
        parts.append('FAILED to power on %d: %s' % (len(work['failed']), '; '.join(
            '%s (%s): %s' % (vm.get('name') or vm['moid'], vm['moid'], vm.get('msg')) for vm in work['failed'])))
    for entry in work['events']:
        parts.append('%s CloudEvent %s to %s' % ('would send' if check_mode else 'sent', entry['event']['id'], entry['sink']))
    line = '%sRestore of %s: %s.' % ('[check mode, nothing changed] ' if check_mode else '', where, '; '.join(parts))
    return {'status': 'restore_failed' if work['failed'] else 'restored', 'line': line, 'restored': restored,
            'left_alone': selection['left_alone'], 'failed': work['failed'], 'waiting': selection.get('waiting') or []}
