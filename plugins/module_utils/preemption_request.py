# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the ``vsphere.preemption.preempt`` role, as pure functions.

`build_plan` turns the role's inputs (criticality, tag, numbers, scope and the
triggering CloudEvent) into a plan: what to do (preempt, cancel or ignore),
how hard, where, and under which workflow id. Every bad input is one
`PreemptionRequestError` naming the role variable, the value and what is
allowed, raised before anything talks to vCenter.

`run_report` turns what a run did into the values it writes: the annotation
of each VM it powered off and the CloudEvent announcing them. The same run
always gives the same CloudEvent id, so a resumed run re-sends the event its
killed predecessor may have sent, and a receiver can deduplicate it.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.vsphere.preemption.plugins.module_utils.vm_inventory import SCOPE_PREFIXES

CRITICALITY_MODES = {'LOW': 'soft', 'MEDIUM': 'soft_then_hard', 'HIGH': 'hard'}
ALARM_COLORS = ('green', 'yellow', 'red', 'gray')
EVENT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'
MANUAL_WORKFLOW = 'manual'

# (lowest, highest or None) per numeric role variable.
NUMBER_RANGES = {
    'max_vms': (1, 1000),
    'parallel': (1, 50),
    'retries': (0, 20),
    'retry_delay': (0, 300),
    'threshold': (0, None),
    'grace_period': (0, 3600),
}

SCOPE_KEYWORDS = ('event', 'all')

RECORDED_PLAN_KEYS = ('workflow_id', 'criticality', 'mode', 'scope', 'reason', 'tag', 'event_id', 'reply_to', 'sink', 'event_source', 'vcenter')

# Module errors that another attempt cannot cure, by the start of their one-line message. A refused
# login above all: vCenter SSO locks an account after a few failed logins.
PERMANENT_ERRORS = (
    re.compile(r'vCenter \S+ refused the login of user '),
    re.compile(r'Cannot verify the TLS certificate of vCenter '),
    re.compile(r'Tag .* (does not exist|exists in several categories)'),
    re.compile(r'scope .* (does not exist in vCenter|is not the moid of)'),
    re.compile(r'priority_attribute .* is not a custom attribute of VMs'),
    re.compile(r'The VM custom attribute .* is not defined in vCenter'),
    re.compile(r'The custom attribute .* exists for .* objects, not for virtual machines'),
)
REQUEST_KEYS = ('tag', 'tag_category', 'criticality', 'event', 'workflow_id', 'reply_to', 'scope',
                'priority_attribute', 'event_source', 'create_field', 'vcenter_hostname', 'vcenter_port') + tuple(NUMBER_RANGES)


class PreemptionRequestError(ValueError):
    """A role input that cannot be used; the message names the variable, the value and what is allowed."""


def _fail(variable, value, allowed):
    name = variable if variable.startswith('vcenter_') else 'preemption_' + variable
    raise PreemptionRequestError('%s %s is not valid: %s.' % (name, _show(value), allowed))


def _show(value):
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _optional_text(variable, value, allowed='expected a string'):
    """A stripped non-empty string, or None for None/empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(variable, value, allowed)
    return value.strip() or None


def normalize_criticality(value):
    """'LOW', 'MEDIUM' or 'HIGH' from any case; None when not given."""
    allowed = 'use LOW, MEDIUM or HIGH (any case)'
    text = _optional_text('criticality', value, allowed)
    if text is None:
        return None
    if text.upper() not in CRITICALITY_MODES:
        _fail('criticality', value, allowed)
    return text.upper()


def normalize_tag(value):
    allowed = 'the name of a vSphere tag is required'
    text = _optional_text('tag', value, allowed)
    if text is None:
        _fail('tag', value, allowed)
    return text


def normalize_number(variable, value):
    """An int within NUMBER_RANGES[variable]; digit strings are accepted (``-e name=5``)."""
    lowest, highest = NUMBER_RANGES[variable]
    allowed = 'an integer from %d to %d' % (lowest, highest) if highest is not None else 'an integer of at least %d' % lowest
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.match(r'^\s*[-+]?\d+\s*$', value):
        number = int(value)
    if number is None or number < lowest or (highest is not None and number > highest):
        _fail(variable, value, allowed)
    return number


def normalize_bool(variable, value):
    """A boolean from a bool or its usual spellings (a variable given with -e or by a rulebook is text)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0', ''):
        return False
    return _fail(variable, value, 'use true or false')


def normalize_scope(value):
    """'event', 'all' or a managed object id."""
    text = _optional_text('scope', value)
    if text is None:
        return 'event'
    if text.lower() in SCOPE_KEYWORDS:
        return text.lower()
    # The moids tagged_vm_info can scope to (vCenter's and the simulator's prefixes).
    if not any(text.startswith(prefix) and re.match(r'^[a-z]?\d+$', text[len(prefix):]) for prefix, _kind in SCOPE_PREFIXES):
        _fail('scope', value, "use 'event' (the alarm's cluster or host), 'all', or the managed object id of a cluster, "
                              "host, resource pool, folder or datacenter (e.g. domain-c7, host-21, resgroup-8, group-v3)")
    return text


def redact_url(url):
    """The URL without user info, query or fragment, which may carry a token: what logs may show."""
    if not url:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition('@')[2], parts.path, '', ''))


def permanent_error(message):
    """Whether a step's error is one that retrying cannot cure (see PERMANENT_ERRORS)."""
    return any(pattern.search(message or '') for pattern in PERMANENT_ERRORS)


def normalize_reply_to(value):
    text = _optional_text('reply_to', value)
    if text is not None and not re.match(r'^https?://[^/\s]+', text, re.IGNORECASE):
        _fail('reply_to', value, 'use the http:// or https:// URL of a CloudEvent sink, or leave it unset')
    return text


def _moid_at(data, section, inner):
    """``data[section][inner]['Value']`` (e.g. data.ComputeResource.ComputeResource.Value), or None."""
    outer = data.get(section)
    if outer is None:
        return None
    reference = outer.get(inner) if isinstance(outer, dict) else None
    value = reference.get('Value') if isinstance(reference, dict) else None
    if not isinstance(value, str) or not value.strip():
        _fail('event', {section: outer}, 'data.%s.%s.Value must be a managed object id' % (section, inner))
    return value.strip()


def parse_event(value):
    """The parts of a trigger CloudEvent the plan uses.

    Accepts a dict or its JSON text. Returns ``{id, alarm, from, to, cluster,
    host}``; ``alarm``/``from``/``to`` are None for an event that is not an
    alarm status change (any other CloudEvent may trigger a run, with an
    explicit criticality).
    """
    event = value
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            _fail('event', value, 'expected a CloudEvent as a dict or JSON text')
    if not isinstance(event, dict):
        _fail('event', value, 'expected a CloudEvent as a dict (e.g. the VEBA AlarmStatusChangedEvent)')
    event_id = event.get('id')
    if not isinstance(event_id, (str, int)) or isinstance(event_id, bool) or not str(event_id).strip():
        _fail('event', value, "a CloudEvent needs a non-empty 'id'")
    data = event.get('data')
    if not isinstance(data, dict):
        _fail('event', value, "a CloudEvent needs its 'data' as a dict (e.g. VEBA's AlarmStatusChangedEvent data)")
    parsed = {'id': str(event_id).strip(), 'alarm': None, 'from': None, 'to': None,
              'cluster': _moid_at(data, 'ComputeResource', 'ComputeResource'),
              'host': _moid_at(data, 'Host', 'Host')}
    if any(data.get(key) is not None for key in ('Alarm', 'From', 'To')):
        alarm = data.get('Alarm')
        name = alarm.get('Name') if isinstance(alarm, dict) else None
        if not isinstance(name, str) or not name.strip():
            _fail('event', {'Alarm': alarm}, 'an alarm event needs data.Alarm.Name')
        parsed['alarm'] = name.strip()
        for key in ('From', 'To'):
            color = data.get(key)
            if not isinstance(color, str) or color.strip().lower() not in ALARM_COLORS:
                _fail('event', {key: color}, 'data.%s of an alarm event must be one of %s' % (key, ', '.join(ALARM_COLORS)))
            parsed[key.lower()] = color.strip().lower()
    return event, parsed


def alarm_action(old, new):
    """``(action, criticality)`` for an alarm status change from ``old`` to ``new``.

    Raised to red: preempt HIGH. Raised to yellow (from green or gray):
    preempt MEDIUM. Dropped (red to yellow, or to green or gray): cancel the
    workflow. Unchanged: ignore.
    """
    if old == new:
        return 'ignore', None
    if new == 'red':
        return 'preempt', 'HIGH'
    if new == 'yellow' and old in ('green', 'gray'):
        return 'preempt', 'MEDIUM'
    return 'cancel', None


def vcenter_name(hostname, port):
    """How the role names a vCenter: ``host``, or ``host:port`` when the port is not 443."""
    return hostname if int(port) == 443 else '%s:%s' % (hostname, port)


def normalize_vcenter(hostname, port):
    """``(hostname, port)`` of the vCenter the run talks to (role variable, else the VMWARE_* environment)."""
    host = _optional_text('vcenter_hostname', hostname)
    if host is None:
        raise PreemptionRequestError('No vCenter to connect to: set vcenter_hostname (or the VMWARE_HOST environment variable).')
    number = None
    if isinstance(port, int) and not isinstance(port, bool):
        number = port
    elif isinstance(port, str) and port.strip().isdigit():
        number = int(port)
    elif port is None or (isinstance(port, str) and not port.strip()):
        number = 443
    if number is None or not 1 <= number <= 65535:
        _fail('vcenter_port', port, 'a TCP port from 1 to 65535')
    return host, number


def _check_request(request):
    if not isinstance(request, dict):
        raise PreemptionRequestError('The preemption request must be a dict of role variables, not %s.' % type(request).__name__)
    unknown = sorted(set(request) - set(REQUEST_KEYS))
    if unknown:
        raise PreemptionRequestError('Unknown preemption request keys: %s (known: %s).' % (', '.join(unknown), ', '.join(REQUEST_KEYS)))


def _identify(request):
    """``(workflow, event, parsed)``: the workflow's id, vCenter and state key; the trigger event, parsed."""
    _check_request(request)
    workflow_id = _optional_text('workflow_id', request.get('workflow_id'))
    event = parsed = None
    if request.get('event') not in (None, '', {}):
        event, parsed = parse_event(request['event'])
    hostname, port = normalize_vcenter(request.get('vcenter_hostname'), request.get('vcenter_port'))
    workflow_id = workflow_id or (parsed['alarm'] if parsed and parsed['alarm'] else MANUAL_WORKFLOW)
    vcenter = vcenter_name(hostname, port)
    workflow = {'workflow_id': workflow_id, 'vcenter': vcenter, 'state_key': '%s@%s' % (workflow_id, vcenter)}
    return workflow, event, parsed


def workflow_identity(request):
    """``{workflow_id, vcenter, state_key}`` of a request: what status and cancel need, and all they validate."""
    return _identify(request)[0]


def build_plan(request):
    """The validated plan for a role invocation.

    ``request`` holds the role variables without their ``preemption_`` prefix
    (REQUEST_KEYS; ``vcenter_hostname``/``vcenter_port`` already resolved
    from the VMWARE_* environment when unset). An explicit criticality wins
    over the alarm's; the alarm still decides whether to preempt at all.
    """
    _check_request(request)
    plan = {key: normalize_number(key, request.get(key)) for key in NUMBER_RANGES}
    plan['tag'] = normalize_tag(request.get('tag'))
    plan['tag_category'] = _optional_text('tag_category', request.get('tag_category'))
    plan['priority_attribute'] = _optional_text('priority_attribute', request.get('priority_attribute'))
    plan['reply_to'] = normalize_reply_to(request.get('reply_to'))
    plan['sink'] = redact_url(plan['reply_to'])
    plan['create_field'] = normalize_bool('create_field', request.get('create_field'))
    explicit = normalize_criticality(request.get('criticality'))
    scope = normalize_scope(request.get('scope'))
    event_source = _optional_text('event_source', request.get('event_source'))
    workflow, event, parsed = _identify(request)

    action, criticality, reason = 'preempt', explicit, 'manual run'
    if parsed and parsed['alarm'] is not None:
        action, from_alarm = alarm_action(parsed['from'], parsed['to'])
        criticality = explicit or from_alarm
        reason = 'alarm %r %s -> %s' % (parsed['alarm'], parsed['from'], parsed['to'])
    elif parsed:
        reason = 'event %s' % parsed['id']
    if action == 'preempt' and criticality is None:
        raise PreemptionRequestError(
            'preemption_criticality is required (LOW, MEDIUM or HIGH) unless preemption_event is a vCenter alarm '
            'raised to yellow or red, which sets it.')

    if scope == 'event':
        scope_moid = (parsed['cluster'] or parsed['host']) if parsed else None
    else:
        scope_moid = None if scope == 'all' else scope
    mode = CRITICALITY_MODES[criticality] if criticality else None
    plan.update(workflow)
    plan.update({
        'action': action,
        'reason': reason,
        'criticality': criticality,
        'mode': mode,
        'forced': mode == 'hard',
        'scope': scope_moid,
        'event': event,
        'event_id': parsed['id'] if parsed else None,
        'event_source': event_source or '/vsphere.preemption/%s' % workflow['vcenter'],
    })
    # What the run records of its plan in the state file, so that a later run can finish it as it would have.
    plan['recorded'] = {key: plan[key] for key in RECORDED_PLAN_KEYS}
    return plan


def plan_error(request, workflow_only=False):
    """The message `build_plan` (`workflow_identity` with ``workflow_only``) would raise for ``request``, or ''."""
    try:
        (workflow_identity if workflow_only else build_plan)(request)
    except PreemptionRequestError as exc:
        return str(exc)
    return ''


def cloudevent_id(workflow_id, trigger_event_id, run_id):
    """``<workflowID>-<trigger event id>``, or ``<workflowID>-<runID>`` for a run without a trigger event."""
    return '%s-%s' % (workflow_id, trigger_event_id or run_id)


def _forced(vm, mode):
    """Whether this VM was powered off hard: from its power-off method when known, else from the mode."""
    method = vm.get('method')
    if method:
        return method == 'hard'
    return mode == 'hard'


def annotation_value(run, plan, forced):
    """The JSON record written into the VM custom attribute (the Go prototype's field names).

    ``run`` is the run as vsphere.preemption.workflow_state returned it
    (``run_id``, ``started``, ``event``); ``plan`` is the plan the run recorded.
    """
    return {
        'preempted': True,
        'tag': plan['tag'],
        'forcedShutdown': bool(forced),
        'criticality': plan['criticality'],
        'workflowID': plan['workflow_id'],
        'workflowStarted': run['started'],
        'runID': run['run_id'],
        'event': copy.deepcopy(run.get('event')),
    }


def run_report(run, plan, powered_off):
    """What a run writes for the VMs it powered off.

    ``powered_off`` is a list of ``{moid, name, method}`` (``method`` may be
    missing for a VM a killed run powered off without recording how).
    Returns ``{annotations: [{vms, value}], event: {id, type, source, subject, data} or None}``:
    one annotation group per forcedShutdown value (a MEDIUM run may power off
    some VMs soft and others hard), and the CloudEvent, None when nothing was
    powered off.
    """
    groups = {}
    for vm in powered_off:
        groups.setdefault(_forced(vm, plan['mode']), []).append(vm['moid'])
    annotations = [{'vms': groups[forced], 'value': annotation_value(run, plan, forced)} for forced in (True, False) if forced in groups]
    if not powered_off:
        return {'annotations': annotations, 'event': None}
    data = annotation_value(run, plan, any(_forced(vm, plan['mode']) for vm in powered_off))
    data['virtualMachines'] = [{'Type': 'VirtualMachine', 'Value': vm['moid']} for vm in powered_off]
    event = {'id': cloudevent_id(plan['workflow_id'], plan.get('event_id'), run['run_id']), 'type': EVENT_TYPE,
             'source': plan['event_source'], 'subject': plan['workflow_id'], 'data': data}
    return {'annotations': annotations, 'event': event}


def _vms(count):
    return '%d VM%s' % (count, '' if count == 1 else 's')


def _vm_list(vms, detail=None):
    return ', '.join('%s (%s%s)' % (vm.get('name') or vm['moid'], vm['moid'], ', %s' % vm[detail] if detail and vm.get(detail) else '')
                     for vm in vms)


def run_summary(plan, outcome, check_mode=False):
    """The one summary line of a role invocation, and the stats it publishes with set_stats.

    ``outcome``: ``status`` (``finished``, ``skipped``, ``cancelled`` or
    ``ignored``) and, as they apply, ``message`` and ``pending`` (why it was
    skipped, and the unfinished run it left alone), ``removed`` (cancelled: a record was there),
    ``run_id``, ``total`` (tagged VMs in scope before max_vms), ``selected``,
    ``powered_off``, ``failed``, ``annotated``, ``event_id``, ``event_sent``,
    ``resumed`` (run ids of earlier unfinished runs this one finished).
    """
    status = outcome['status']
    where = '%s on %s' % (plan['workflow_id'], plan['vcenter'])
    scope = plan['scope'] or 'all of vCenter'
    powered_off = list(outcome.get('powered_off') or [])
    failed = list(outcome.get('failed') or [])
    prefix = '[check mode, nothing changed] ' if check_mode else ''
    if status == 'skipped':
        line = 'Preemption %s: %s' % (where, outcome.get('message') or 'skipped inside the re-run threshold.')
        pending = outcome.get('pending')
        if pending:
            line += (' Run %s (started %s) has not finished; the first run after the threshold finishes it.'
                     % (pending.get('run_id'), pending.get('started')))
    elif status == 'ignored':
        line = 'Preemption %s: %s, nothing to do.' % (where, plan['reason'])
    elif status == 'cancelled':
        line = 'Preemption %s cancelled (%s): %s; nothing powered off.' % (
            where, plan['reason'], 'its record %s removed' % ('would be' if check_mode else 'was') if outcome.get('removed')
            else 'it had no record')
    else:
        parts = ['%s preemption %s (%s; %s; scope %s)' % (plan['criticality'], where, plan['mode'], plan['reason'], scope)]
        if outcome.get('resumed'):
            parts.append('%s earlier run %s first' % ('would finish' if check_mode else 'finished', ', '.join(outcome['resumed'])))
        if powered_off:
            verb = 'would power off' if check_mode else 'powered off'
            parts.append('%s %s: %s' % (verb, _vms(len(powered_off)), _vm_list(powered_off, 'method')))
        else:
            parts.append('no powered-on VM tagged %r in scope, nothing to power off' % plan['tag'])
        left = (outcome.get('total') or 0) - len(outcome.get('selected') or [])
        if left > 0:
            parts.append('%d more left running (max_vms %d)' % (left, plan['max_vms']))
        if failed:
            reasons = ['%s (%s): %s' % (vm.get('name') or vm['moid'], vm['moid'], vm.get('msg')) for vm in failed]
            parts.append('FAILED to power off %d: %s' % (len(failed), '; '.join(reasons)))
        if powered_off and not check_mode:
            parts.append('annotated %d' % len(outcome.get('annotated') or []))
        if outcome.get('event_id'):
            verb = 'would send' if check_mode else 'sent' if outcome.get('event_sent') else 'did not send'
            parts.append('%s CloudEvent %s to %s' % (verb, outcome['event_id'], plan['sink']))
        if outcome.get('run_id') and not check_mode:
            parts.append('run %s %s' % (outcome['run_id'], 'finished with failures' if failed else 'finished'))
        line = '%s: %s.' % (parts[0], '; '.join(parts[1:]))
    stats = {
        'workflow_id': plan['workflow_id'], 'vcenter': plan['vcenter'], 'status': status, 'check_mode': bool(check_mode),
        'criticality': plan['criticality'], 'mode': plan['mode'], 'scope': plan['scope'], 'run_id': outcome.get('run_id'),
        'powered_off': powered_off, 'failed': failed,
        'event_id': outcome.get('event_id') if outcome.get('event_sent') else None,
    }
    return {'line': prefix + line, 'stats': stats}


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
    return ', '.join(parts)


def status_lines(workflow, record, state_file):
    """Readable lines describing a workflow's record in the state file (None: no record)."""
    where = 'Workflow %s on %s' % (workflow['workflow_id'], workflow['vcenter'])
    if not record:
        return ['%s has no record in %s.' % (where, state_file)]
    lines = ['%s: %d run%s, updated %s.' % (where, record.get('runs', 0), '' if record.get('runs') == 1 else 's', record.get('updated')),
             'Latest ' + _run_line(record['run']) + '.']
    lines.extend('Unfinished earlier %s; the next run that proceeds finishes it.' % _run_line(run) for run in record.get('unfinished') or [])
    return lines
