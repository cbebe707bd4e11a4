# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a run of the ``vsphere.preemption.preempt`` role did, and what it still owes, as pure functions.

The role registers the results of its steps (``workflow_state: started``,
``power_off``, ``vm_power_events``) and hands them to these functions, through
its action plugin ``vsphere.preemption.preempt_books``, instead of keeping books in
Jinja. A run owes, for every VM it powered off, the annotation, and for the
whole run one CloudEvent. The same run always gives the same values and the
same CloudEvent id, so a resumed run re-sends the event its killed
predecessor may have sent, and a receiver can deduplicate it.

Inputs are untrusted data (VM names, the event, the state file): they are
copied and compared, never interpreted.
"""

from __future__ import annotations

import copy
import datetime

from ansible_collections.vsphere.preemption.plugins.module_utils._run.restore import restore_command, scope_of
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp, parse_timestamp
from ansible_collections.vsphere.preemption.plugins.module_utils._vm import capacity as capacity_target
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url

EVENT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'
RESTORE_STATUSES = ('restored', 'not_restored', 'restore_failed')


def cloudevent_id(workflow_id, trigger_event_id, run_id):
    """``<workflowID>-<trigger event id>``, or ``<workflowID>-<runID>`` for a run without a trigger event."""
    return '%s-%s' % (workflow_id, trigger_event_id or run_id)


def _forced(vm, mode):
    """Whether this VM was powered off hard: from its power-off method when known, else from the mode."""
    method = vm.get('method')
    if method:
        return method == 'hard'
    return mode == 'hard'


def annotation_value(run, plan, forced, notice=None):
    """The JSON record written into the VM custom attribute (the Go prototype's field names).

    ``run`` is the run as vsphere.preemption.workflow_state returned it
    (``run_id``, ``started``, ``event``); ``plan`` is the plan the run recorded.
    ``notice`` (``{period, deadline}``), when the guests were given a notice, is kept as the field ``notice``.
    """
    value = {
        'preempted': True,
        'tag': plan['tag'],
        'forcedShutdown': bool(forced),
        'criticality': plan['criticality'],
        'workflowID': plan['workflow_id'],
        # The workflow is the alarm on this scope (a moid; null: all of vCenter); workflowID stays the alarm's name.
        'scope': plan.get('scope'),
        'workflowStarted': run['started'],
        'runID': run['run_id'],
        'event': copy.deepcopy(run.get('event')),
    }
    if notice:
        value['notice'] = {'period': notice['period'], 'deadline': notice['deadline']}
    return value


def event_message(plan, run_id, forced, notice=None):
    """The vCenter event logged on each VM of a run: who powered it off, how and why (one per VM per run)."""
    how = 'hard power-off' if forced else 'guest shutdown'
    given = ' after a %d s notice' % notice['period'] if notice else ''
    return ('Preempted by vsphere.preemption: workflow %s, run %s, criticality %s, %s%s.'
            % (plan['workflow_id'], run_id, plan['criticality'], how, given))


def given_notice(power, plan):
    """``{period, deadline}`` of the notice a power_off result says it gave, or None."""
    notice = (power or {}).get('notice')
    if not isinstance(notice, dict) or not notice.get('deadline'):
        return None
    return {'period': plan.get('notice_period') or 0, 'deadline': notice['deadline']}


def run_report(run, plan, powered_off, notice=None, usage=None, capacity=None):
    """What a run writes for the VMs it powered off.

    ``powered_off`` is a list of ``{moid, name, method}`` (``method`` may be
    missing for a VM whose power-off answer was lost); ``notice`` the notice
    the run gave (see `given_notice`), or None. A run with a capacity target
    passes ``usage`` (``{moid: {cpu_mhz, memory_mb}}``, what each VM used when
    it was powered off: each annotation then carries its VM's, one per VM) and
    ``capacity`` (tagged_vm_info's, in the CloudEvent data). Returns
    ``{annotations: [{vms, value, message}], event: {id, type, source, subject, data} or None}``:
    one annotation group per forcedShutdown value (a MEDIUM run may power off
    some VMs soft and others hard) with the vCenter event message of its VMs,
    and the CloudEvent, None when nothing was powered off.
    """
    if usage:
        annotations = [{'vms': [vm['moid']],
                        'value': dict(annotation_value(run, plan, _forced(vm, plan['mode']), notice), usage=usage.get(vm['moid'])),
                        'message': event_message(plan, run['run_id'], _forced(vm, plan['mode']), notice)} for vm in powered_off]
    else:
        groups = {}
        for vm in powered_off:
            groups.setdefault(_forced(vm, plan['mode']), []).append(vm['moid'])
        annotations = [{'vms': groups[forced], 'value': annotation_value(run, plan, forced, notice),
                        'message': event_message(plan, run['run_id'], forced, notice)}
                       for forced in (True, False) if forced in groups]
    if not powered_off:
        return {'annotations': annotations, 'event': None}
    data = annotation_value(run, plan, any(_forced(vm, plan['mode']) for vm in powered_off), notice)
    data['virtualMachines'] = [{'Type': 'VirtualMachine', 'Value': vm['moid']} for vm in powered_off]
    if usage:
        data['usage'] = {vm['moid']: usage.get(vm['moid']) for vm in powered_off}
    if capacity:
        data['capacity'] = copy.deepcopy(capacity)
    event = {'id': cloudevent_id(plan['workflow_id'], plan.get('event_id'), run['run_id']), 'type': EVENT_TYPE,
             'source': plan['event_source'], 'subject': plan['workflow_id'], 'data': data}
    return {'annotations': annotations, 'event': event}


def known_tag_id(record, tag):
    """The tag id the workflow's latest run found for ``tag``, or None: tagged_vm_info checks it with one call.

    A tag renamed, deleted or moved since is found again by name (tagged_vm_info never uses a stale id).
    """
    results = ((record or {}).get('run') or {}).get('results') or {}
    if (results.get('plan') or {}).get('tag') == tag and isinstance(results.get('tag_id'), str):
        return results['tag_id']
    return None


# ---------------------------------------------------------------- what the steps did

def _moids(vms):
    return {vm['moid'] for vm in vms or []}


def _answered(result):
    """Whether a registered power_off result says what became of each VM (not skipped, not a lost connection)."""
    return bool(result) and not result.get('skipped') and isinstance(result.get('preempted'), list)


def _unsure(run, on_since):
    """The VMs an unfinished run selected but recorded no outcome for (killed, or its power-off answer lost).

    ``on_since``: the moids the new run found powered on after that run ended, which it therefore did not power off.
    """
    results = run.get('results') or {}
    known = (_moids(results.get('powered_off')) | _moids(results.get('already_off')) | _moids(results.get('failed'))
             | set(on_since))
    return [vm for vm in results.get('selected') or [] if vm['moid'] not in known]


def _owing(start):
    """The runs the role finishes after ``workflow_state: started``: unfinished earlier runs first, then the new run."""
    record = start.get('record') or {}
    current = start.get('run')
    runs = [run for run in record.get('unfinished') or [] if not current or run['run_id'] != current['run_id']]
    return runs + ([current] if current else [])


def power_outcome(selected, power):
    """``(powered_off, already_off, failed, unknown)`` of this run's power-off step.

    ``power`` is the registered result of ``power_off`` after its retries.
    A VM a retry finds off was powered off by an earlier attempt whose answer
    the retry replaced: it counts as powered off by this run (how is not
    known). On the first attempt a VM already off was not this run's doing.
    ``unknown``: the VMs the result says nothing of (the step could not reach
    vCenter at all); the role reads their power state (vm_power_events) before it decides.
    """
    if not _answered(power):
        if power and power.get('skipped'):
            return [], [], [], []
        return [], [], [], list(selected)
    retried = (power.get('attempts') or 1) > 1
    powered_off = [dict(vm) for vm in power['preempted']]
    already_off = []
    for vm in power.get('already_off') or []:
        (powered_off if retried else already_off).append(dict(vm))
    failed = [dict(vm) for vm in power.get('failed_vms') or []]
    known = _moids(powered_off) | _moids(already_off) | _moids(failed)
    unknown = [vm for vm in selected if vm['moid'] not in known]
    return powered_off, already_off, failed, unknown


def history_request(start):
    """``{vms, since}``: the VMs the runs being finished selected, and the start of the oldest, for vm_power_events.

    Its answer also carries each VM's power state now: what decides the fate of a VM whose outcome is unknown
    (this run's power-off never answered for it, or a killed run recorded none).
    """
    runs = _owing(start)
    vms = []
    for run in runs:
        vms.extend(vm['moid'] for vm in (run.get('results') or {}).get('selected') or [] if vm['moid'] not in vms)
    return {'vms': vms, 'since': min(run['started'] for run in runs) if runs else None}


OFF_EVENTS = ('VmPoweredOffEvent',)


def _history_of(history):
    """``{moid: [event]}`` from a registered vm_power_events result; None when it was not read."""
    if not history or history.get('skipped') or history.get('failed') or not isinstance(history.get('events'), dict):
        return None
    return history['events']


def _since(events, moment):
    return [event for event in events if event['created'] >= moment]


def our_power_off(events, run, plan):
    """``(event, reason)``: the power-off event of ``run`` on a VM, from the VM's power events since the run began.

    Ours is the first power-off of the VM since the run started, provided it came no earlier than the end of
    the run's notice (the run powers off nothing before) and nothing powered the VM on after it. Otherwise
    ``event`` is None and ``reason`` says who did what, and when.
    """
    notice_end = format_timestamp(parse_timestamp(run['started']) + datetime.timedelta(seconds=plan.get('notice_period') or 0))
    offs = [event for event in _since(events, run['started']) if event['type'] in OFF_EVENTS]
    if not offs:
        return None, 'no power-off since run %s started' % run['run_id']
    first = offs[0]
    if first['created'] < notice_end:
        return None, 'powered off by %s at %s, before the notice of run %s ended' % (first['user'] or 'someone', first['created'], run['run_id'])
    later = [event for event in events if event['key'] > first['key'] and event['type'] not in OFF_EVENTS + ('VmStoppingEvent', 'VmGuestShutdownEvent')]
    if later:
        return None, '%s by %s at %s' % (later[0]['type'], later[0]['user'] or 'someone', later[0]['created'])
    return _event_fields(first), None


def _event_fields(event):
    return {key: event[key] for key in ('key', 'chain_id', 'type', 'created', 'user')}


def _with_event(vm, events, run):
    """``vm`` with ``event``: the last power-off vCenter logged for it since ``run`` started (what our power-off caused)."""
    offs = [event for event in _since(events or [], run['started']) if event['type'] in OFF_EVENTS]
    vm = dict(vm)
    if offs and not vm.get('event'):
        vm['event'] = _event_fields(offs[-1])
    return vm


def _off_now(history):
    """The moids vm_power_events found powered off now; none when it was not read (fail closed)."""
    if _history_of(history) is None or not isinstance(history.get('power_states'), dict):
        return set()
    return {moid for moid, state in history['power_states'].items() if state == 'poweredOff'}


def _destination(plan, current_plan):
    """``{url, sink}`` of an event a run with ``plan`` owes: the sink of the run that sends it now, else its own.

    ``url`` is the URL when the recorded one carries no credential; None means the role's ``preemption_reply_to``
    (credentials are never stored, so a later run can only send to a sink it is given).
    """
    if current_plan.get('sink'):
        return {'url': None, 'sink': current_plan['sink']}
    url = plan.get('reply_to')
    return {'url': url if url and redact_url(url) == url else None, 'sink': plan['sink']}


def work(start, power=None, history=None):
    """What the role still has to do for the runs it finishes, and what to record.

    ``start`` is the registered ``workflow_state: started`` result (its run
    recorded ``plan`` and ``selected``), ``power`` the registered power_off
    result of the new run, ``history`` the vm_power_events result of `history_request`
    (``events``, and ``power_states``: a VM whose outcome is unknown and is off now was powered off;
    unread, this run's such VMs count as failed and an earlier run stays unfinished):
    each VM powered off carries the vCenter ``event`` its power-off caused, and a
    VM of a killed run found off counts as that run's only when the events show
    the run's power-off turned it off (`our_power_off`); else it is reported in
    ``not_ours`` of that run's final results. Returns::

        {'progress': {powered_off, already_off, failed},  # the new run's, to record before annotating
         'annotations': [{vms, value}], 'events': [{url, sink, event}],  # what is owed, every run together
         'finish': [{run_id, results}],  # the final results of each run, for workflow_state: finished
         'resumed': [run_id], 'current': {powered_off, failed, notice (when one was given)}}

    Each run's recorded plan says whether it sends a CloudEvent.
    """
    off_now = _off_now(history)
    events = _history_of(history)
    current = start.get('run')
    current_plan = ((current or {}).get('results') or {}).get('plan') or {}
    current_id = (current or {}).get('run_id')
    on_since = _moids(((current or {}).get('results') or {}).get('selected'))
    result = {'progress': None, 'annotations': [], 'events': [], 'finish': [], 'resumed': [],
              'current': {'powered_off': [], 'failed': []}}
    for run in _owing(start):
        results = run.get('results') or {}
        plan = results.get('plan')
        not_ours = []
        if not plan:
            # Killed before it recorded its plan: it had done nothing.
            result['finish'].append({'run_id': run['run_id'], 'results': {'powered_off': [], 'annotated': []}})
            result['resumed'].append(run['run_id'])
            continue
        if run['run_id'] == current_id:
            powered_off, already_off, failed, unknown = power_outcome(results.get('selected') or [], power)
            error = (power or {}).get('msg') or 'no answer from vCenter'
            for vm in unknown:
                if vm['moid'] in off_now:
                    powered_off.append({'moid': vm['moid'], 'name': vm.get('name')})
                else:
                    failed.append({'moid': vm['moid'], 'name': vm.get('name'), 'msg': error})
            powered_off = [_with_event(vm, (events or {}).get(vm['moid']), run) for vm in powered_off]
            notice = given_notice(power, plan) or results.get('notice')
            result['progress'] = {'powered_off': powered_off, 'already_off': already_off, 'failed': failed}
            if notice:
                result['progress']['notice'] = notice
            result['current'] = {'powered_off': powered_off, 'failed': failed}
            if notice:
                result['current']['notice'] = notice
        elif _unsure(run, on_since) and events is None:
            # What became of its VMs is unknown still: it stays unfinished, for a later run to finish.
            continue
        else:
            powered_off = [dict(vm) for vm in results.get('powered_off') or []]
            for vm in _unsure(run, on_since):
                if vm['moid'] not in off_now:
                    continue
                event, reason = our_power_off(events.get(vm['moid']) or [], run, plan)
                if event:
                    powered_off.append({'moid': vm['moid'], 'name': vm.get('name'), 'event': event})
                else:
                    not_ours.append({'moid': vm['moid'], 'name': vm.get('name'), 'reason': reason})
            powered_off = [_with_event(vm, (events or {}).get(vm['moid']), run) for vm in powered_off]
            failed = results.get('failed') or []
            notice = results.get('notice')
            result['resumed'].append(run['run_id'])
        report = run_report(run, plan, powered_off, notice, capacity_target.vm_usage(results.get('selected') or []),
                            results.get('capacity'))
        result['annotations'].extend(report['annotations'])
        sent = results.get('event_sent')
        event_due = bool(plan.get('sink')) and report['event'] is not None
        if event_due and sent != report['event']['id']:
            result['events'].append(dict(_destination(plan, current_plan), event=report['event']))
        final = {'powered_off': powered_off, 'failed': failed, 'annotated': [vm['moid'] for vm in powered_off]}
        if notice:
            final['notice'] = notice
        if event_due:
            final['event_sent'] = report['event']['id']
        if run['run_id'] != current_id:
            final['finished_by'] = current_id
            if not_ours:
                final['not_ours'] = not_ours
        result['finish'].append({'run_id': run['run_id'], 'results': final})
    return result


# ---------------------------------------------------------------- messages

def attempts(result, retries):
    """How many attempts a step with ``retries``/``until`` made, from its registered result.

    ansible-core reports ``attempts`` as the retry count when every attempt
    failed; an attempt still failing with ``retryable`` true means they all ran.
    """
    if result.get('failed') and result.get('retryable'):
        return retries + 1
    return result.get('attempts') or 1


def _failed_items(result):
    """The failed items of a loop's result (a step not marked failed, ``failed_when: false``, still carries ``retryable``)."""
    items = [item for item in result.get('results') or [] if item.get('failed') or item.get('retryable') is not None]
    return items or [result]


def _after(tries):
    return 'after %d attempt%s' % (tries, '' if tries == 1 else 's')


def step_failure(what, result, plan, subject=None):
    """The one-line error of a step whose every attempt failed (``what``: session, select, annotate, history, cloudevent), or
    of owed CloudEvents no sink URL is known for (``what``: sink; ``result``: what `work` returned).

    ``result`` is the registered result (of a loop or a single task);
    ``subject`` names what the step was for (the run ids, the CloudEvent).
    """
    if what == 'sink':
        owed = [entry for entry in result['events'] if not entry['url']]
        return ('CloudEvent %s is owed to %s, whose URL carries credentials, which are never stored: run this workflow again with '
                'preemption_reply_to set to that URL (that run sends it under the same id), or forget the workflow with '
                'vsphere.preemption.cancel.' % (', '.join(entry['event']['id'] for entry in owed), ', '.join(sorted({entry['sink'] for entry in owed}))))
    items = _failed_items(result)
    tries = max(attempts(item, plan['retries']) for item in items)
    error = ' '.join(sorted({item.get('msg') or 'failed without a message' for item in items}))
    if what in ('session', 'select'):
        origin = plan.get('scope_origin')
        where = (' The scope %s is from %s; preemption_scope sets another.' % (plan['scope'], origin)
                 if what == 'select' and origin and not any(item.get('retryable') for item in items) else '')
        return "Could not list the VMs tagged %r %s: %s%s" % (plan['tag'], _after(tries), error, where)
    if what == 'annotate':
        return ('Could not annotate the VMs of run %s %s: %s The next run of this workflow finishes it.'
                % (subject, _after(tries), error))
    if what == 'history':
        return "Could not read vCenter's power events of the VMs %s: %s Nothing was powered on." % (_after(tries), error)
    if what == 'cloudevent':
        owed = [item['item'] for item in items if isinstance(item.get('item'), dict)]
        cure = ('The next run of this workflow sends it.' if all(item.get('retryable') for item in items) else
                'Another attempt cannot cure this: correct preemption_reply_to (or the sink) and run this workflow again '
                '(at once with preemption_threshold=0); that run sends it under the same id. vsphere.preemption.cancel forgets it instead.')
        return ('Could not send CloudEvent %s to %s %s: %s %s'
                % (', '.join(entry['event']['id'] for entry in owed) or subject,
                   ', '.join(sorted({entry['sink'] for entry in owed})) or plan['sink'], _after(tries), error, cure))
    raise ValueError('unknown step %r' % what)


def power_failure(work_done, power, plan):
    """The error of a run that could not power off every VM it selected, or '' when it could."""
    failed = work_done['current']['failed']
    if not failed:
        return ''
    selected = len(work_done['current']['powered_off']) + len(failed)
    reasons = ' '.join(sorted({vm.get('msg') or '' for vm in failed})) if not (power or {}).get('msg') else power['msg']
    return 'Could not power off %d of %d VMs %s: %s' % (len(failed), selected, _after(attempts(power or {}, plan['retries'])), reasons)


def _vms(count):
    return '%d VM%s' % (count, '' if count == 1 else 's')


def _vm_list(vms, detail=None):
    return ', '.join('%s (%s%s)' % (vm.get('name') or vm['moid'], vm['moid'], ', %s' % vm[detail] if detail and vm.get(detail) else '')
                     for vm in vms)


def outcome(start, found=None, work_done=None, sent=False):
    """The outcome `run_summary` describes, from the registered results of a run that got to ``workflow_state: started``."""
    if not start.get('proceed'):
        return {'status': 'duplicate' if start.get('duplicate') else 'skipped', 'message': start.get('msg'),
                'pending': start.get('pending')}
    work_done = work_done or {'current': {'powered_off': [], 'failed': []}, 'resumed': [], 'events': []}
    current = start['run']
    plan = (current.get('results') or {}).get('plan') or {}
    selected = (current.get('results') or {}).get('selected') or []
    notice = work_done['current'].get('notice')
    event = run_report(current, plan, work_done['current']['powered_off'], notice)['event'] if plan else None
    return {
        'status': 'finished', 'run_id': current['run_id'], 'resumed': work_done['resumed'],
        'total': (found or {}).get('total', len(selected)), 'selected': selected,
        'powered_off': work_done['current']['powered_off'], 'failed': work_done['current']['failed'],
        'annotated': [vm['moid'] for vm in work_done['current']['powered_off']],
        'event_id': event['id'] if event and plan.get('sink') else None, 'event_sent': bool(sent),
        'excluded': (found or {}).get('excluded') or [], 'notice': notice,
        'capacity': (current.get('results') or {}).get('capacity'),
    }


def excluded_phrase(excluded):
    """'never touched 2 tagged VMs (1 protected, 1 managed_by): a (vm-1, protected), ...' for tagged_vm_info's ``excluded``."""
    counts = {}
    for vm in excluded:
        counts[vm['reason']] = counts.get(vm['reason'], 0) + 1
    return 'never touched %s tagged %s (%s): %s' % (
        len(excluded), 'VM' if len(excluded) == 1 else 'VMs', ', '.join('%d %s' % (counts[reason], reason) for reason in sorted(counts)),
        _vm_list(excluded, 'reason'))


def run_summary(plan, outcome_, check_mode=False):
    """The one summary line of a role invocation, and the stats it publishes with set_stats.

    ``outcome_``: ``status`` (``finished``, ``skipped``, ``duplicate`` (a
    trigger event that already started a run), ``cancelled`` or ``ignored``; or a restore's, see
    preemption_restore.restore_summary, whose ``line`` is used) and, as they apply, ``message`` and ``pending`` (why it was
    skipped, and the unfinished run it left alone), ``removed`` (cancelled: a record was there),
    ``run_id``, ``total`` (tagged VMs in scope before max_vms), ``selected``,
    ``powered_off``, ``failed``, ``annotated``, ``event_id``, ``event_sent``,
    ``resumed`` (run ids of earlier unfinished runs this one finished),
    ``excluded`` (tagged_vm_info's: protected, solution-managed, Fault Tolerance, templates) and
    ``notice`` (``{period, deadline}`` given to the guests).
    """
    status = outcome_['status']
    if status in RESTORE_STATUSES:
        # A restore's line is made by preemption_restore.restore_summary.
        stats = {'workflow_id': plan['workflow_id'], 'vcenter': plan['vcenter'], 'status': status, 'check_mode': bool(check_mode),
                 'restored': outcome_.get('restored') or [], 'left_alone': outcome_.get('left_alone') or [],
                 'failed': outcome_.get('failed') or [], 'waiting': outcome_.get('waiting') or []}
        return {'line': outcome_['line'], 'stats': stats}
    where = '%s on %s' % (plan['workflow_id'], plan['vcenter'])
    scope = plan['scope'] or 'all of vCenter'
    powered_off = list(outcome_.get('powered_off') or [])
    failed = list(outcome_.get('failed') or [])
    prefix = '[check mode, nothing changed] ' if check_mode else ''
    if status in ('skipped', 'duplicate'):
        line = 'Preemption %s: %s' % (where, outcome_.get('message') or 'skipped inside the re-run threshold.')
        pending = outcome_.get('pending')
        if pending:
            line += (' Run %s (started %s) has not finished; the first run after the threshold finishes it.'
                     % (pending.get('run_id'), pending.get('started')))
    elif status == 'ignored':
        line = 'Preemption %s: %s, nothing to do.' % (where, plan['reason'])
    elif status == 'cancelled':
        line = 'Preemption %s cancelled (%s): %s; nothing powered off.%s' % (
            where, plan['reason'], 'its threshold and pending work %s forgotten' % ('would be' if check_mode else 'were')
            if outcome_.get('removed') else 'it had no runs to forget', _still_off(plan, outcome_.get('kept') or []))
    else:
        parts = ['%s preemption %s (%s; %s; scope %s)' % (plan['criticality'], where, plan['mode'], plan['reason'], scope)]
        if outcome_.get('resumed'):
            parts.append('%s earlier run %s first' % ('would finish' if check_mode else 'finished', ', '.join(outcome_['resumed'])))
        capacity = outcome_.get('capacity')
        if powered_off:
            verb = 'would power off' if check_mode else 'powered off'
            parts.append('%s %s: %s' % (verb, _vms(len(powered_off)), _vm_list(powered_off, 'method')))
        elif not capacity or any(capacity['to_free'].values()):
            parts.append('no powered-on VM tagged %r in scope, nothing to power off' % plan['tag'])
        if capacity:
            parts.append(capacity_target.phrase(capacity, _freed(outcome_), len(powered_off), check_mode))
        left = (outcome_.get('total') or 0) - len(outcome_.get('selected') or [])
        capped = len(outcome_.get('selected') or []) >= plan['max_vms']
        if left > 0 and capacity and not (capped and any(capacity['shortfall'].values())):
            parts.append('%d more left running (not needed for the target)' % left)
        elif left > 0:
            parts.append('%d more left running (max_vms %d)' % (left, plan['max_vms']))
        if outcome_.get('excluded'):
            parts.append(excluded_phrase(outcome_['excluded']))
        if outcome_.get('notice') and powered_off:
            parts.append('notice of %d s given (deadline %s)' % (outcome_['notice']['period'], outcome_['notice']['deadline']))
        if failed:
            reasons = ['%s (%s): %s' % (vm.get('name') or vm['moid'], vm['moid'], vm.get('msg')) for vm in failed]
            parts.append('FAILED to power off %d: %s' % (len(failed), '; '.join(reasons)))
        if powered_off and not check_mode:
            parts.append('annotated %d' % len(outcome_.get('annotated') or []))
        if outcome_.get('event_id'):
            verb = 'would send' if check_mode else 'sent' if outcome_.get('event_sent') else 'did not send'
            parts.append('%s CloudEvent %s to %s' % (verb, outcome_['event_id'], plan['sink']))
        if outcome_.get('run_id') and not check_mode:
            parts.append('run %s %s' % (outcome_['run_id'], 'finished with failures' if failed else 'finished'))
        line = '%s: %s.' % (parts[0], '; '.join(parts[1:]))
    stats = {
        'workflow_id': plan['workflow_id'], 'vcenter': plan['vcenter'], 'status': status, 'check_mode': bool(check_mode),
        'criticality': plan['criticality'], 'mode': plan['mode'], 'scope': plan['scope'], 'run_id': outcome_.get('run_id'),
        'powered_off': powered_off, 'failed': failed,
        'event_id': outcome_.get('event_id') if outcome_.get('event_sent') else None,
        'excluded': list(outcome_.get('excluded') or []),
    }
    if outcome_.get('capacity'):
        stats['capacity'] = dict(outcome_['capacity'], freed=_freed(outcome_))
    return {'line': prefix + line, 'stats': stats}


def _freed(outcome_):
    """``{cpu_mhz, memory_mb}`` the VMs a run powered off used when it selected them."""
    usage = capacity_target.vm_usage(outcome_.get('selected') or [])
    done = [usage[vm['moid']] for vm in outcome_.get('powered_off') or [] if vm['moid'] in usage]
    return {dim: sum(vm[dim] for vm in done) for dim in capacity_target.DIMENSIONS}


def _still_off(plan, kept):
    """' 3 VMs remain off (its ledger): a (vm-1), ...; restore them with: <command>' for the ledgers a cancel kept."""
    parts = []
    for entry in kept:
        ledger = (entry.get('record') or {}).get('ledger') or []
        if ledger:
            parts.append('%s remain%s off (its ledger): %s; restore them with: %s' % (
                _vms(len(ledger)), 's' if len(ledger) == 1 else '', _vm_list(ledger), restore_command(plan, entry['item'])))
    return ' ' + ' '.join('%s.' % part for part in parts) if parts else ' No VM of its runs remains off.'


def _run_line(run):
    results = run.get('results') or {}
    powered_off = results.get('powered_off') or []
    state = 'finished %s' % run['finished'] if run.get('status') == 'finished' else 'NOT finished'
    parts = ['run %s started %s, %s' % (run.get('run_id'), run.get('started'), state)]
    parts.append('powered off %s%s' % (_vms(len(powered_off)), ': ' + _vm_list(powered_off, 'method') if powered_off else ''))
    if results.get('failed'):
        parts.append('failed %d: %s' % (len(results['failed']), _vm_list(results['failed'])))
    if powered_off:
        parts.append('annotated %d' % len(results.get('annotated') or []))
    if results.get('event_sent'):
        parts.append('CloudEvent %s sent' % results['event_sent'])
    if results.get('capacity'):
        parts.append(capacity_target.phrase(results['capacity'], _freed(results), len(powered_off)))
    return ', '.join(parts)


def _ledger_lines(plan, key, record):
    """The VMs still off (the ledger), those that left it (restored, or left alone and why), and a waiting restore."""
    lines = []
    ledger = record.get('ledger') or []
    if ledger:
        lines.append('Still off, %s (its ledger): %s; restore them with: %s.' % (_vms(len(ledger)), '; '.join(
            '%s (%s), run %s, powered off %s%s%s%s' % (
                vm.get('name') or vm['moid'], vm['moid'], vm['run_id'], vm['powered_off'], ' (%s)' % vm['method'] if vm.get('method') else '',
                ', vCenter event %s' % vm['event']['key'] if vm.get('event') else '', ', a restore powered it on at %s' % vm['restoring']
                if vm.get('restoring') else '') for vm in ledger), restore_command(plan, key)))
    else:
        lines.append('No VM of its runs is still off.')
    released = record.get('released') or []
    restored = [vm for vm in released if vm['outcome'] == 'restored']
    left = [vm for vm in released if vm['outcome'] == 'left_alone']
    if restored:
        lines.append('Restored %s: %s.' % (_vms(len(restored)), ', '.join(
            '%s (%s) at %s' % (vm.get('name') or vm['moid'], vm['moid'], vm['at']) for vm in restored)))
    if left:
        lines.append('Left alone %s, no longer ours: %s.' % (_vms(len(left)), '; '.join(
            '%s (%s), run %s: %s (found %s)' % (vm.get('name') or vm['moid'], vm['moid'], vm['run_id'], vm['reason'], vm['at']) for vm in left)))
    waiting = record.get('restore_wait')
    if waiting and waiting.get('cancelled'):
        lines.append('A restore waited from %s until %s and was cancelled at %s by a new raise of the alarm.'
                     % (waiting.get('since'), waiting.get('until'), waiting['cancelled']))
    elif waiting and not waiting.get('done'):
        lines.append('A restore is waiting since %s; it runs at %s unless the alarm is raised again.' % (waiting.get('since'), waiting.get('until')))
    return lines


def status_lines(workflow, queried):
    """Readable lines on a workflow's records, one per scope.

    ``queried``: the loop results of ``workflow_state: query`` over the
    workflow's state keys (``item``, ``record``, ``state_file``).
    """
    lines = []
    for entry in queried:
        scope = scope_of(workflow['workflow_id'], entry['item'])
        where = 'Workflow %s%s on %s' % (workflow['workflow_id'], ' (scope %s)' % scope if scope else '', workflow['vcenter'])
        record = entry.get('record')
        if not record:
            continue
        lines.append('%s: %d run%s, updated %s.' % (where, record.get('runs', 0), '' if record.get('runs') == 1 else 's', record.get('updated')))
        if record.get('run'):
            lines.append('Latest ' + _run_line(record['run']) + '.')
        else:
            lines.append('Cancelled at %s: its threshold and pending work forgotten, its ledger kept.' % record.get('cancelled'))
        lines.extend('Unfinished earlier %s; the next run that proceeds finishes it.' % _run_line(run) for run in record.get('unfinished') or [])
        lines.extend(_ledger_lines(workflow, entry['item'], record))
    if not lines:
        place = queried[0]['state_file'] if queried else 'the state'
        lines.append('Workflow %s on %s has no record in %s.' % (workflow['workflow_id'], workflow['vcenter'], place))
    return lines
