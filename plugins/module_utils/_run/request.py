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

What a run did and what it writes is computed in `preemption_run`.
"""

from __future__ import annotations

import json
import re

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._run.alarm import ALARM_COLORS, ALL_SCOPE, color_value, event_scope, text_value, transition
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.capacity import CapacityError, check_scope_kind, check_target
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError
from ansible_collections.vsphere.preemption.plugins.module_utils._vm.inventory import SCOPE_PREFIXES, scope_type
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url

CRITICALITY_MODES = {'LOW': 'soft', 'MEDIUM': 'soft_then_hard', 'HIGH': 'hard'}
MANUAL_WORKFLOW = 'manual'
# What the plan does for each change of alarm.transition.
CHANGE_ACTIONS = {'raised': 'preempt', 'eased': 'cancel', 'cleared': 'cancel', 'none': 'ignore'}

# (lowest, highest or None) per numeric role variable.
NUMBER_RANGES = {
    'max_vms': (1, 1000),
    'parallel': (1, 50),
    'retries': (0, 20),
    'retry_delay': (0, 300),
    'threshold': (0, None),
    'grace_period': (0, 3600),
    'notice_period': (0, 3600),
}

# The role's variables (without their preemption_ prefix) and what each is when unset or null: the one table of
# the role's defaults. meta/argument_specs.yml documents them (a unit test holds the two equal); the rulebooks
# pass a variable they were not given as null, so null must mean the default. restore_wait's depends on the
# trigger (run_settings). preemption_setup_* are the setup entry point's own (roles/preempt/defaults/main.yml).
ROLE_DEFAULTS = {
    'tag': 'preemptible', 'tag_category': None, 'criticality': None, 'workflow_id': None, 'scope': 'event',
    'max_vms': 10, 'capacity_target': {}, 'parallel': 5, 'retries': 3, 'retry_delay': 2, 'threshold': 60,
    'grace_period': 30, 'notice_period': 0, 'priority_attribute': None, 'protect_tag': None, 'create_field': False,
    'reply_to': None, 'reply_mode': 'binary', 'reply_headers': {}, 'reply_validate_certs': True, 'event_source': None,
    'restore_wait': None, 'state_file': '~/.ansible/vsphere_preemption_state.json', 'state_url': None,
}
# Variables whose empty text is also unset (``-e preemption_notice_period=``).
BLANK_IS_UNSET = ('notice_period',)
REPLY_MODES = ('binary', 'structured')

SCOPE_KEYWORDS = ('event', 'all')
# The JSON escape of U+0000, not itself escaped (preceded by an even number of backslashes).
NUL_ESCAPE = re.compile(r'(?<!\\)((?:\\\\)*)\\u0000')

RECORDED_PLAN_KEYS = ('workflow_id', 'criticality', 'mode', 'scope', 'reason', 'tag', 'event_id', 'reply_to', 'sink', 'event_source', 'vcenter',
                      'notice_period', 'capacity_target')

REQUEST_KEYS = ('tag', 'tag_category', 'criticality', 'event', 'workflow_id', 'reply_to', 'scope',
                'priority_attribute', 'event_source', 'create_field', 'vcenter_hostname', 'vcenter_port',
                'protect_tag', 'capacity_target', 'reply_mode', 'reply_validate_certs', 'restore_wait') + tuple(NUMBER_RANGES)


class PreemptionRequestError(PreemptionError, ValueError):
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


def plain_data(value, variable):
    """``value`` rebuilt from JSON types only: plain text, never a template, whatever tags it carried.

    ansible-core 2.19 marks strings from extra vars and files as trusted
    templates; a JSON round trip yields new, untagged strings, which it never renders.
    """
    try:
        text = json.dumps(value)
        # U+0000 (always escaped in JSON text) is refused by vCenter and PostgreSQL: U+FFFD instead, the same in every run.
        return json.loads(NUL_ESCAPE.sub(r'\1\\ufffd', text))
    except (TypeError, ValueError):
        raise PreemptionRequestError('%s must be JSON data (a dict, a list, text, numbers), not %s.'
                                     % (variable, type(value).__name__)) from None
    except RecursionError:
        raise PreemptionRequestError('%s is nested too deeply to be a CloudEvent.' % variable) from None


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


def _scope_moid(text):
    """Whether ``text`` is a moid tagged_vm_info can scope to (vCenter's and the simulator's prefixes)."""
    return any(text.startswith(prefix) and re.match(r'^[a-z]?\d+$', text[len(prefix):]) for prefix, _kind in SCOPE_PREFIXES)


def normalize_scope(value):
    """'event', 'all', or a moid, name or inventory path of a container (tagged_vm_info resolves it in vCenter)."""
    text = _optional_text('scope', value, "use 'event' (the alarm's cluster or host), 'all', or the name, inventory path or "
                                          "managed object id of a cluster, host, datacenter, folder or resource pool")
    if text is None:
        return ROLE_DEFAULTS['scope']
    if text.lower() in SCOPE_KEYWORDS:
        return text.lower()
    return text


def normalize_capacity_target(value, scope):
    """The checked target (capacity.check_target) of ``preemption_capacity_target``, None when unset.

    JSON text is accepted (``-e 'preemption_capacity_target={"cpu_percent": 75}'``). The run's
    ``scope`` (a moid, None for all of vCenter) must be a cluster or a host: only they have a capacity.
    """
    name = 'preemption_capacity_target'
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            _fail('capacity_target', value, 'expected a dict (or its JSON text) with any of cpu_percent, memory_percent, cpu_mhz, memory_mb')
    try:
        target = check_target(value, name)
        if target is not None:
            check_scope_kind(scope_type(scope) if scope else None, scope, name)
    except VCenterError:
        # Not a moid (a scope given by name): tagged_vm_info checks its type once it has found it.
        return target
    except CapacityError as exc:
        raise PreemptionRequestError(str(exc)) from None
    return target


def normalize_reply_to(value):
    text = _optional_text('reply_to', value)
    if text is not None and not re.match(r'^https?://[^/\s]+', text, re.IGNORECASE):
        # Shown only as far as it cannot be a credential.
        _fail('reply_to', redact_url(text) if '://' in text else text.partition(':')[0] + ':...',
              'use the http:// or https:// URL of a CloudEvent sink, or leave it unset')
    return text


def _check_moid(data, section):
    """Fail unless ``data[section]``, when given, holds ``[section]['Value']``, a managed object id (e.g. data.Host.Host.Value)."""
    outer = data.get(section)
    if outer is None:
        return
    reference = outer.get(section) if isinstance(outer, dict) else None
    value = reference.get('Value') if isinstance(reference, dict) else None
    if not isinstance(value, str) or not value.strip():
        _fail('event', {section: outer}, 'data.%s.%s.Value must be a managed object id' % (section, section))


def parse_event(value):
    """The parts of a trigger CloudEvent the plan uses.

    Accepts a dict or its JSON text. Returns ``{id, alarm, from, to, scope}``;
    ``alarm``/``from``/``to`` are None for an event that is not an alarm
    status change (any other CloudEvent may trigger a run, with an explicit
    criticality); ``scope`` is alarm.event_scope's, the rulebooks' lock.
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
    for section in ('ComputeResource', 'Host'):
        _check_moid(data, section)
    parsed = {'id': str(event_id).strip(), 'alarm': None, 'from': None, 'to': None, 'scope': event_scope(data)}
    if any(data.get(key) is not None for key in ('Alarm', 'From', 'To')):
        alarm = data.get('Alarm')
        parsed['alarm'] = text_value(alarm.get('Name')) if isinstance(alarm, dict) else None
        if parsed['alarm'] is None:
            _fail('event', {'Alarm': alarm}, 'an alarm event needs data.Alarm.Name')
        for key in ('From', 'To'):
            parsed[key.lower()] = color_value(data.get(key))
            if parsed[key.lower()] not in ALARM_COLORS:
                _fail('event', {key: data.get(key)}, 'data.%s of an alarm event must be one of %s' % (key, ', '.join(ALARM_COLORS)))
    return event, parsed


def alarm_action(old, new):
    """``(action, criticality)`` for an alarm status change from ``old`` to ``new`` (alarm.transition decides).

    Raised: preempt, HIGH to red, MEDIUM to yellow. Eased or cleared: cancel
    the workflow. Unchanged: ignore.
    """
    change, criticality = transition(old, new)
    return CHANGE_ACTIONS[change], criticality


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


def _defaulted(request):
    """``request`` checked, each unset or null role variable replaced by its ROLE_DEFAULTS value."""
    if not isinstance(request, dict):
        raise PreemptionRequestError('The preemption request must be a dict of role variables, not %s.' % type(request).__name__)
    unknown = sorted(set(request) - set(REQUEST_KEYS))
    if unknown:
        raise PreemptionRequestError('Unknown preemption request keys: %s (known: %s).' % (', '.join(unknown), ', '.join(REQUEST_KEYS)))
    defaulted = dict(request)
    for key in REQUEST_KEYS:
        value = request.get(key)
        if key in ROLE_DEFAULTS and (value is None or (key in BLANK_IS_UNSET and value == '')):
            defaulted[key] = ROLE_DEFAULTS[key]
    return defaulted


def run_settings(request, trigger):
    """What the role's tasks read of ``request`` besides the plan: the sink's mode and TLS check, and whether a restore waits.

    ``restore_wait`` unset is true when a rulebook started the run (``trigger`` V(eda)): a restore on an
    alarm's clear inside the threshold waits until it has passed, unless the alarm is raised again.
    """
    request = _defaulted(request)
    mode = _optional_text('reply_mode', request['reply_mode'], 'use binary or structured')
    if mode not in REPLY_MODES:
        _fail('reply_mode', request['reply_mode'], 'use binary or structured')
    wait = request['restore_wait']
    return {'reply_mode': mode,
            'reply_validate_certs': normalize_bool('reply_validate_certs', request['reply_validate_certs']),
            'restore_wait': trigger == 'eda' if wait is None else normalize_bool('restore_wait', wait)}


def state_key(workflow_id, vcenter, scope=None):
    """The key of a workflow's record: ``<workflow>@<vcenter>``, or ``<alarm>/<scope>@<vcenter>`` for one taken from an event.

    A workflow taken from an alarm is that alarm on the scope its runs act on
    (``scope``: a moid, or ``all``), so the same alarm on two clusters is two
    workflows, each with its own threshold, runs and cancel.
    """
    return '%s%s@%s' % (workflow_id, '/%s' % scope if scope else '', vcenter)


def scope_keys(request, stored):
    """The state keys status and cancel act on for ``request``, among the ``stored`` ones: a record per scope.

    A workflow taken from an event is that alarm on its scope: one key. A
    workflow id given with a scope (a moid, or ``all``) names that scope's
    record; given alone, every record of the id on the vCenter: its own and
    one per scope.
    """
    request = _defaulted(request)
    workflow, _event, _parsed = _identify(request)
    if workflow['per_scope']:
        return [workflow['state_key']]
    if normalize_scope(request.get('scope')) != 'event':
        return [state_key(workflow['workflow_id'], workflow['vcenter'], workflow['scope'] or 'all')]
    own, suffix = workflow['workflow_id'] + '/', '@' + workflow['vcenter']
    # Exactly this id: what lies between it and the vCenter is one scope ('all' or a moid), never more of a name
    # (the alarm 'cpu/high' on domain-c7 is 'cpu/high/domain-c7@vc', which is not a scope of workflow 'cpu').
    scoped = [key for key in stored if key.startswith(own) and key.endswith(suffix) and len(key) > len(own) + len(suffix)
              and _scope_token(key[len(own):len(key) - len(suffix)])]
    return [workflow['state_key']] + scoped


def _scope_token(text):
    return text == 'all' or _scope_moid(text)


def _resolve_scope(scope, parsed):
    """The moid a run is confined to, None for all of vCenter."""
    if scope == 'event':
        scope = parsed['scope'] if parsed else ALL_SCOPE
    return None if scope == ALL_SCOPE else scope


def _identify(request):
    """``(workflow, event, parsed)``: the workflow's id, vCenter, scope and state key; the trigger event, parsed."""
    request = _defaulted(request)
    explicit = _optional_text('workflow_id', request.get('workflow_id'))
    scope = _resolve_scope(normalize_scope(request.get('scope')), None)
    event = parsed = None
    if request.get('event') not in (None, '', {}):
        event, parsed = parse_event(request['event'])
        scope = _resolve_scope(normalize_scope(request.get('scope')), parsed)
    hostname, port = normalize_vcenter(request.get('vcenter_hostname'), request.get('vcenter_port'))
    vcenter = vcenter_name(hostname, port)
    from_alarm = not explicit and parsed and parsed['alarm']
    # U+0000 is text nothing downstream stores (vCenter, PostgreSQL): it becomes U+FFFD, the same in every run.
    workflow_id = (explicit or (parsed['alarm'] if from_alarm else MANUAL_WORKFLOW)).replace('\x00', '\ufffd')
    workflow = {'workflow_id': workflow_id, 'vcenter': vcenter, 'scope': scope, 'per_scope': bool(from_alarm),
                'state_key': state_key(workflow_id, vcenter, (scope or 'all') if from_alarm else None)}
    return workflow, event, parsed


def _reason(parsed):
    """Why the run happens, for the summary."""
    if parsed and parsed['alarm'] is not None:
        return 'alarm %r %s -> %s' % (parsed['alarm'], parsed['from'], parsed['to'])
    if parsed:
        return 'event %s' % parsed['id']
    return 'manual run'


def workflow_identity(request):
    """The workflow of a request (``workflow_id``, ``vcenter``, ``scope``, ``state_key``, ``reason``): what status and cancel need, and all they validate."""
    workflow, _event, parsed = _identify(request)
    return dict(workflow, reason=_reason(parsed), criticality=None, mode=None)


def build_plan(request):
    """The validated plan for a role invocation.

    ``request`` holds the role variables without their ``preemption_`` prefix
    (REQUEST_KEYS; ``vcenter_hostname``/``vcenter_port`` already resolved
    from the VMWARE_* environment when unset). An explicit criticality wins
    over the alarm's; the alarm still decides whether to preempt at all. An
    unset or null variable is its ROLE_DEFAULTS value.
    """
    request = _defaulted(request)
    plan = {key: normalize_number(key, request[key]) for key in NUMBER_RANGES}
    plan['tag'] = normalize_tag(request.get('tag'))
    plan['tag_category'] = _optional_text('tag_category', request.get('tag_category'))
    plan['priority_attribute'] = _optional_text('priority_attribute', request.get('priority_attribute'))
    # Whether the tag exists is tagged_vm_info's to check, before anything is powered off.
    plan['protect_tag'] = _optional_text('protect_tag', request.get('protect_tag'),
                                         "expected the name of a vSphere tag ('name' or 'category:name'), or nothing")
    reply_to = normalize_reply_to(request.get('reply_to'))
    # The plan is shown and recorded: it holds the sink as redact_url shows it, and the URL itself only when it
    # carries no credential (a later run may send there); the role sends to preemption_reply_to as given.
    plan['sink'] = redact_url(reply_to)
    plan['reply_to'] = reply_to if plan['sink'] == reply_to else None
    plan['create_field'] = normalize_bool('create_field', request.get('create_field'))
    explicit = normalize_criticality(request.get('criticality'))
    event_source = _optional_text('event_source', request.get('event_source'))
    workflow, event, parsed = _identify(request)

    action, criticality, reason = 'preempt', explicit, _reason(parsed)
    if parsed and parsed['alarm'] is not None:
        action, from_alarm = alarm_action(parsed['from'], parsed['to'])
        criticality = explicit or from_alarm
    if action == 'preempt' and criticality is None:
        raise PreemptionRequestError(
            'preemption_criticality is required (LOW, MEDIUM or HIGH) unless preemption_event is a vCenter alarm '
            'raised to yellow or red, which sets it.')

    mode = CRITICALITY_MODES[criticality] if criticality else None
    plan.update(workflow)
    # Said when the scope cannot be read: an administrator who set no preemption_scope learns where it came from.
    plan['scope_origin'] = ("preemption_event's data.ComputeResource, else its data.Host"
                            if workflow['scope'] and normalize_scope(request.get('scope')) == 'event' else None)
    plan['capacity_target'] = normalize_capacity_target(request.get('capacity_target'), workflow['scope'])
    plan.update({
        'action': action,
        'reason': reason,
        'criticality': criticality,
        'mode': mode,
        'forced': mode == 'hard',
        'event': event,
        'event_id': parsed['id'] if parsed else None,
        'event_source': event_source or '/vsphere.preemption/%s' % workflow['vcenter'],
    })
    # What the run records of its plan in the state file, so that a later run can finish it as it would have.
    plan['recorded'] = {key: plan[key] for key in RECORDED_PLAN_KEYS}
    return plan
