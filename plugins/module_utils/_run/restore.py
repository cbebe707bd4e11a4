# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a restore of a preemption workflow does, as pure functions (the ``restore`` entry point of the role).

A restore acts on the workflow's ledger (_state/ledger.py: every VM its runs powered
off and no restore brought back) and on vCenter's own history. It powers a VM
back on only while it is still ours: still off, its annotation still that of
the run (or none, for a VM whose run was killed before annotating it), still
in the workflow's scope, and no power operation by anyone else since our
power-off in vCenter's events. Every other VM leaves the ledger, reported once
with the reason. With a capacity target, only the VMs that fit come back
(capacity.restore_fits, on what each used when it was powered off); the others
wait in the ledger. Four steps, each a function the role calls through its action plugin preempt_books:

`restore_plan`  (the workflow's record, before vCenter is read): the ledger's
                VMs, what to read about them, or why nothing is to be done;
`restore_selection` (tagged_vm_info's and vm_power_events' answers): which VMs
                to power on, in which order, and which are no longer ours, and why;
`restore_work`  (power_on's answer): the annotations, the CloudEvents and the
                ledger report (``workflow_state: ledger``);
`restore_summary`: the one line.

The VMs about to be powered on are marked ``restoring`` in the ledger first: a
restore killed after its power-on is finished by the next one (a VM marked
so, found on and still annotated as preempted by its run, counts as powered
on by it), and a second restore finds nothing.

Inputs are untrusted data (the state, VM names, annotations, events): they
are parsed and compared, never interpreted.
"""

from __future__ import annotations

import copy
import datetime
import json
import shlex

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp, parse_timestamp
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.capacity import restore_fits

EVENT_TYPE = 'com.vmware.workflows.vsphere.VmRestoredEvent.v0'
ANNOTATION_FIELD = 'com.vmware.workflows.vsphere.preemption'
# How far before the recorded power-off the restore reads vCenter's events (the record is written after the power-off).
HISTORY_MARGIN = datetime.timedelta(seconds=60)
# What each power event means for a VM the restore would power on.
POWER_PHRASES = {
    'VmPoweredOnEvent': 'powered on', 'DrsVmPoweredOnEvent': 'powered on', 'VmStartingEvent': 'powered on',
    'VmPoweredOffEvent': 'powered off again', 'VmStoppingEvent': 'powered off again', 'VmGuestShutdownEvent': 'shut down again',
    'VmResettingEvent': 'reset', 'VmGuestRebootEvent': 'rebooted', 'VmSuspendedEvent': 'suspended',
    'VmGuestStandbyEvent': 'put in standby', 'VmRegisteredEvent': 're-registered', 'VmRemovedEvent': 'removed',
}
POWER_ON_EVENTS = ('VmPoweredOnEvent', 'DrsVmPoweredOnEvent', 'VmStartingEvent')
OFF_EVENTS = ('VmPoweredOffEvent', 'VmStoppingEvent', 'VmGuestShutdownEvent')


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


def restore_command(plan, key):
    """The command that restores the workflow of state key ``key`` by hand (arguments shell-quoted)."""
    scope = scope_of(plan['workflow_id'], key)
    command = 'ansible-playbook vsphere.preemption.restore -e %s' % shlex.quote('preemption_workflow_id=%s' % plan['workflow_id'])
    return command + (' -e %s' % shlex.quote('preemption_scope=%s' % scope) if scope else '')


def scope_of(workflow_id, key):
    """The scope part of a state key ``<workflow>/<scope>@<vcenter>``; None for ``<workflow>@<vcenter>``."""
    left = key.rpartition('@')[0]
    return left[len(workflow_id) + 1:] if left != workflow_id and left.startswith(workflow_id + '/') else None


def _where(plan):
    return '%s on %s' % (plan['workflow_id'], plan['vcenter'])


def restore_plan(record, plan, now, triggered=False, known_ids=None, wait=False, waited=None):
    """What a restore acts on, or why it does nothing.

    ``record`` is the workflow's record (``workflow_state: query``; None when
    it has none), ``plan`` the restore's plan (preempt_plan), ``now`` an aware
    UTC datetime, ``known_ids`` the workflow ids with a record on the vCenter
    (``workflow_state: query`` returns them for an unknown one). ``triggered``: an alarm event asked for the
    restore, so a workflow that never ran is nothing to restore rather than an error.

    ``wait`` (preemption_restore_wait): inside the threshold, the restore is to wait until it has passed;
    then ``wait`` in the result is the ``restore_wait`` to record (``{since, until}``) and ``wait_seconds``
    how long to wait. ``waited``: that record, after the wait; a raise of the workflow meanwhile marked it
    cancelled (state_file.start_in), and the restore is then ``cancelled``.

    Returns ``{status, message, restored_at, may_run_from, command, wait, wait_seconds, wait_report, vms: [ledger entry],
    lookups: [{tag, category, scope}], history: {vms, since}}``, ``status`` one of ``restore``, ``nothing``,
    ``too_soon``, ``unknown`` or ``invalid`` (the role fails with the message, before any change), ``cancelled``.
    """
    key = plan.get('state_key') or plan['workflow_id']
    if not isinstance(wait, bool):
        return {'status': 'invalid', 'message': 'preemption_restore_wait must be true or false, not %r; nothing changed.' % (wait,)}
    result = {'status': 'nothing', 'message': '', 'restored_at': format_timestamp(now), 'may_run_from': None,
              'command': restore_command(plan, key), 'wait': None, 'wait_seconds': 0, 'wait_report': {},
              'vms': [], 'lookups': [], 'history': {'vms': [], 'since': None}}
    if not record:
        result['status'] = 'nothing' if triggered else 'unknown'
        known = ', '.join(known_ids or []) or 'none'
        result['message'] = ('Restore of workflow %s: it has no record in the state, so it preempted nothing to restore'
                             % _where(plan) + ('.' if triggered else '; the workflows with a record on this vCenter: %s '
                                               '(check preemption_workflow_id and the state; vsphere.preemption.status shows a workflow).' % known))
        return result
    if waited is not None:
        current = record.get('restore_wait') or {}
        if current.get('since') != waited['since'] or current.get('cancelled'):
            result['status'] = 'cancelled'
            result['message'] = ('Restore of %s cancelled: it waited from %s for the threshold, and the alarm was raised again%s; '
                                 'nothing changed.' % (_where(plan), waited['since'], ' at %s' % current['cancelled'] if current.get('cancelled') else ''))
            return result
        result['wait_report'] = {'restore_wait': dict(waited, done=format_timestamp(now))}
    run = record.get('run')
    if run:
        started = parse_timestamp(run['started'])
        elapsed = (now - started).total_seconds()
        if abs(elapsed) < plan['threshold']:
            result['status'] = 'too_soon'
            result['may_run_from'] = format_timestamp(started + datetime.timedelta(seconds=plan['threshold']))
            remaining = plan['threshold'] - elapsed
            if wait and remaining > plan['threshold']:
                result['status'] = 'invalid'
                result['message'] = (
                    'Restore of %s: preemption_restore_wait would wait %.0f s, longer than the threshold of %d s allows: the last '
                    'preemption started %s, in the future by this controller\'s clock; nothing changed. Check the clocks, or run '
                    'the restore from %s without waiting: %s' % (_where(plan), remaining, plan['threshold'], run['started'],
                                                                 result['may_run_from'], result['command']))
                return result
            if wait:
                result['wait'] = {'since': format_timestamp(now), 'until': result['may_run_from']}
                # Rounded up, and a little more, so that the threshold has passed when the restore looks again.
                result['wait_seconds'] = int(remaining) + 1
            result['message'] = ('Restore of %s skipped: its last preemption started %s, %.0f s ago, within the threshold of %d s '
                                 '(no flapping); nothing changed. The restore may run from %s: %s'
                                 % (_where(plan), run['started'], elapsed, plan['threshold'], result['may_run_from'], result['command']))
            return result
    entries = copy.deepcopy(record.get('ledger') or [])
    if not entries:
        if run and run.get('status') != 'finished':
            why = 'its latest run %s has not finished; the next preemption run finishes it' % run['run_id']
        elif record.get('released'):
            why = 'every VM its runs powered off was restored or left alone already (vsphere.preemption.status tells which)'
        else:
            why = 'its runs powered off no VM'
        result['message'] = 'Restore of %s: nothing to restore: %s.' % (_where(plan), why)
        return result
    lookups = []
    for entry in entries:
        tag = entry.get('tag') or plan['tag']
        category = plan.get('tag_category') if tag == plan['tag'] else None
        for scope in (None, entry.get('scope')):
            lookup = {'tag': tag, 'category': category, 'scope': scope}
            if lookup not in lookups and (scope is None or lookup['scope']):
                lookups.append(lookup)
    since = min(parse_timestamp(_powered_off(entry)) for entry in entries) - HISTORY_MARGIN
    result.update(status='restore', vms=entries, lookups=lookups,
                  history={'vms': [entry['moid'] for entry in entries], 'since': format_timestamp(since)})
    return result


def _powered_off(entry):
    return (entry.get('event') or {}).get('created') or entry['powered_off']


def _annotation(vm):
    """The VM's preemption annotation as a dict, or None (unset, not JSON, not an object)."""
    raw = (vm.get('attributes') or {}).get(ANNOTATION_FIELD)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _found(found):
    """``({moid: vm}, {moid: reason}, {(tag, scope): {moid}})`` from the registered tagged_vm_info loop over the lookups."""
    vms, excluded, scoped = {}, {}, {}
    for result in found.get('results') or []:
        lookup = result.get('item') or {}
        if lookup.get('scope'):
            scoped[(lookup['tag'], lookup['scope'])] = {vm['moid'] for vm in result.get('vms') or []}
            continue
        for vm in result.get('vms') or []:
            vms[vm['moid']] = vm
        for vm in result.get('excluded') or []:
            excluded[vm['moid']] = vm['reason']
    return vms, excluded, scoped


def _foreign(entry, events):
    """The first power event on the VM since our power-off that is not ours (nor our restore's), or None.

    Without the event of our power-off (state of 0.2), its time is when the run recorded it, and the
    power-off events around it may be ours: then only what is not a power-off counts (a VM is powered
    off a second time only after someone powered it on).
    """
    ours = entry.get('event') or {}
    for event in events or []:
        if ours.get('key') is not None:
            if event['key'] <= ours['key'] or event.get('chain_id') == ours.get('chain_id'):
                continue
        elif event['created'] <= entry['powered_off'] or event['type'] in OFF_EVENTS:
            continue
        if entry.get('restoring') and event['type'] in POWER_ON_EVENTS and event['created'] >= entry['restoring']:
            continue  # the power-on of a restore that was killed before it recorded its work
        return event
    return None


def _reason_of(event):
    what = POWER_PHRASES.get(event['type'], event['type'])
    return '%s by %s at %s (vCenter event %s)' % (what, event.get('user') or 'someone', event['created'], event['key'])


def _verdict(entry, vm, annotation, events, in_scope, workflow_id):
    """``(what, reason)``: ``power_on``, ``resume`` (powered on by a killed restore), ``annotated`` (restored, record owed) or ``leave``."""
    if annotation and annotation.get('runID') == entry['run_id'] and annotation.get('workflowID') == workflow_id \
            and annotation.get('preempted') is False and annotation.get('restored'):
        return 'annotated', None
    foreign = _foreign(entry, events)
    if foreign:
        return 'leave', _reason_of(foreign)
    if not in_scope:
        return 'leave', 'moved out of the workflow\'s scope %s (now on host %s%s)' % (
            entry['scope'], vm.get('host'), ', cluster %s' % vm['cluster'] if vm.get('cluster') else '')
    if annotation is None and not entry.get('annotated'):
        pass  # its run was killed before annotating it; vCenter's events say the power-off was ours and nothing since
    elif not annotation or annotation.get('runID') != entry['run_id'] or annotation.get('workflowID') != workflow_id:
        return 'leave', 'annotation no longer that of run %s' % entry['run_id']
    elif annotation.get('preempted') is not True:
        return 'leave', 'annotation no longer that of a preempted VM'
    if vm['power_state'] == 'poweredOff':
        return 'power_on', None
    if vm['power_state'] == 'poweredOn' and entry.get('restoring'):
        return 'resume', None
    return 'leave', 'powered on since' if vm['power_state'] == 'poweredOn' else vm['power_state']


def _base_annotation(entry, plan):
    """The annotation of a VM whose run never wrote one (killed before annotating): the ledger's facts."""
    return {'preempted': True, 'tag': entry.get('tag') or plan['tag'], 'forcedShutdown': entry.get('method') == 'hard',
            'workflowID': plan['workflow_id'], 'scope': entry.get('scope'), 'runID': entry['run_id']}


def restore_selection(restore, found, history, plan, measured=None):
    """Which VMs to power on, and which are no longer ours, from tagged_vm_info (``found``, a loop over
    ``restore['lookups']``) and vm_power_events (``history``).

    Returns ``{power_on: [moid], restoring: [moid], vms: [{moid, name, run_id, annotation, resumed}],
    left_alone: [{moid, name, run_id, reason}], beyond_max: [{moid, name}], waiting: [{moid, name, cpu_mhz, memory_mb}]}``:
    the VMs to power on highest priority first (then by name), at most ``plan['max_vms']`` newly; ``vms`` every VM the
    restore annotates (also those a killed restore powered on or annotated already); ``left_alone`` leave the ledger.
    With the plan's ``capacity_target`` and ``measured`` (the scope's ``{capacity, usage}`` now), only the VMs that fit
    (capacity.restore_fits); the others, and those whose usage at preemption is unknown, are ``waiting`` (they stay
    in the ledger).
    """
    by_moid, excluded, scoped = _found(found)
    events = (history or {}).get('events')
    candidates, resumed, left_alone = [], [], []
    for entry in restore['vms']:
        vm = by_moid.get(entry['moid'])
        tag = entry.get('tag') or plan['tag']
        if vm is None:
            reason = ('never touched: %s' % excluded[entry['moid']] if entry['moid'] in excluded
                      else 'deleted, or no longer tagged %r' % tag)
            left_alone.append({'moid': entry['moid'], 'name': entry.get('name'), 'run_id': entry['run_id'], 'reason': reason})
            continue
        if not isinstance(events, dict):
            # vCenter's history unread: nothing is powered on, nothing leaves the ledger (the role stops before this).
            continue
        in_scope = not entry.get('scope') or entry['moid'] in scoped.get((tag, entry['scope']), set())
        annotation = _annotation(vm)
        what, reason = _verdict(entry, vm, annotation, events.get(entry['moid']), in_scope, plan['workflow_id'])
        if what == 'leave':
            left_alone.append({'moid': vm['moid'], 'name': vm['name'], 'run_id': entry['run_id'], 'reason': reason})
            continue
        item = {'moid': vm['moid'], 'name': vm['name'], 'run_id': entry['run_id'], 'priority': vm.get('priority') or 0,
                'usage': _usage(entry),
                'annotation': annotation if annotation and annotation.get('runID') == entry['run_id'] else _base_annotation(entry, plan),
                'resumed': what != 'power_on'}
        (candidates if what == 'power_on' else resumed).append(item)
    candidates.sort(key=lambda vm: (-vm['priority'], vm['name'], vm['moid']))
    chosen, beyond = candidates[:plan['max_vms']], candidates[plan['max_vms']:]
    waiting = []
    if plan.get('capacity_target') and measured:
        chosen, waiting = _fitting(chosen, plan['capacity_target'], measured)
    vms = resumed + chosen
    return {'power_on': [vm['moid'] for vm in vms if vm['annotation'].get('preempted') is True],
            'restoring': [vm['moid'] for vm in chosen], 'vms': vms, 'left_alone': left_alone,
            'beyond_max': [{'moid': vm['moid'], 'name': vm['name']} for vm in beyond], 'waiting': waiting}


def _usage(entry):
    """``{cpu_mhz, memory_mb}`` the VM of a ledger entry used when it was powered off; None when unknown."""
    if isinstance(entry.get('cpu_mhz'), int) and isinstance(entry.get('memory_mb'), int):
        return {'cpu_mhz': entry['cpu_mhz'], 'memory_mb': entry['memory_mb']}
    return None


def _fitting(chosen, target, measured):
    """``(fit, waiting)`` of the candidates ``chosen`` (highest priority first) under ``target``.

    A VM whose usage when it was powered off is unknown (preempted without a target) cannot be projected: it
    waits, for a restore without a target.
    """
    fit, wait = restore_fits(target, measured, [dict(vm, **vm['usage']) for vm in chosen if vm['usage']])
    fitting = {vm['moid'] for vm in fit}
    waiting = [{'moid': vm['moid'], 'name': vm['name'], 'cpu_mhz': vm['cpu_mhz'], 'memory_mb': vm['memory_mb']} for vm in wait]
    waiting += [{'moid': vm['moid'], 'name': vm['name'], 'cpu_mhz': None, 'memory_mb': None} for vm in chosen if not vm['usage']]
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


def _moids(vms):
    return {vm['moid'] for vm in vms or []}


def power_on_failure(failed):
    """The error of a restore that could not power on the VMs ``failed`` (restore_work's), or '' when none failed."""
    if not failed:
        return ''
    return 'Could not power on %d VMs: %s' % (len(failed), ' '.join(dict.fromkeys('%s' % vm.get('msg') for vm in failed)))


def restore_work(restore, selection, power, plan):
    """What the restore writes, from power_on's registered answer (``power``).

    Returns ``{annotations: [{vms, value, message}], events: [{url, sink, event}], report: {restored: [{moid, run_id, at}]},
    restored: [{moid, name, run_id, restored}], failed: [{moid, name, msg}]}`` (``url``: the sink's URL when it carries
    no credential, else None: the role sends to preemption_reply_to). A VM power_on reports powered on, or
    already on, is restored; one it did not answer for stays off and in the ledger for the next restore.
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
        groups.setdefault(key, {'vms': [], 'value': value, 'message': restore_message(plan['workflow_id'], vm['run_id'])})
        groups[key]['vms'].append(vm['moid'])
    result = {'annotations': list(groups.values()), 'events': [], 'failed': failed,
              'restored': [{'moid': vm['moid'], 'name': vm['name'], 'run_id': vm['run_id'],
                            'restored': restored_value(vm['annotation'], restore['restored_at']).get('restored')} for vm in restored],
              'report': {'restored': [{'moid': vm['moid'], 'run_id': vm['run_id'],
                                       'at': restored_value(vm['annotation'], restore['restored_at']).get('restored')} for vm in restored]}}
    if plan.get('sink'):
        for run_id in sorted({vm['run_id'] for vm in restored}):
            mine = [vm for vm in restored if vm['run_id'] == run_id]
            data = restored_value(mine[0]['annotation'], restore['restored_at'])
            data['virtualMachines'] = [{'Type': 'VirtualMachine', 'Value': vm['moid']} for vm in mine]
            result['events'].append({'url': plan['reply_to'], 'sink': plan['sink'], 'event': {
                'id': restore_event_id(plan['workflow_id'], run_id), 'type': EVENT_TYPE, 'source': plan['event_source'],
                'subject': plan['workflow_id'], 'data': data}})
    return result


def restore_summary(plan, restore, selection=None, work=None, check_mode=False):
    """``{status, line, restored, left_alone, failed, waiting}``: the outcome of a restore, with its one summary line.

    ``status``: ``restored``, ``not_restored`` (nothing to do, too soon, unknown workflow) or ``restore_failed``.
    In check mode power_on reports what it would power on, so ``restored`` is what would be restored.
    """
    if restore['status'] != 'restore':
        return {'status': 'not_restored', 'line': restore['message'], 'restored': [], 'left_alone': [], 'failed': []}
    selection = selection or {'left_alone': [], 'beyond_max': [], 'vms': [], 'waiting': []}
    work = work or {'restored': [], 'failed': [], 'events': []}
    restored = work['restored']
    parts = []
    if restored:
        parts.append('%s %d VM%s: %s' % ('would restore' if check_mode else 'restored', len(restored), '' if len(restored) == 1 else 's',
                                         ', '.join('%s (%s)' % (vm['name'], vm['moid']) for vm in restored)))
    else:
        parts.append('nothing restored')
    if selection['left_alone']:
        parts.append('left alone %d, no longer ours: %s' % (len(selection['left_alone']), '; '.join(
            '%s (%s): %s' % (vm.get('name') or vm['moid'], vm['moid'], vm['reason']) for vm in selection['left_alone'])))
    if selection['beyond_max']:
        parts.append('%d more left off (max_vms %d): run the restore again: %s'
                     % (len(selection['beyond_max']), plan['max_vms'], restore['command']))
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
    line = '%sRestore of %s: %s.' % ('[check mode, nothing changed] ' if check_mode else '', _where(plan), '; '.join(parts))
    return {'status': 'restore_failed' if work['failed'] else 'restored', 'line': line, 'restored': restored,
            'left_alone': selection['left_alone'], 'failed': work['failed'], 'waiting': selection.get('waiting') or []}
