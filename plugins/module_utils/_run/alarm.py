# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What an alarm CloudEvent means for preemption, decided once.

`alarm_change` reads a VEBA-shaped ``AlarmStatusChangedEvent`` and returns
plain data: the alarm, the change (raised, eased, cleared or none), the
criticality a raise implies, and the scope the event concerns, which is
also the rulebooks' lock. The event filter ``normalize_cloudevent`` and the
event source ``alarms`` put it on each event for the rulebooks to route on;
the plan (request.py) takes its decision and scope from the same functions.

It never raises: an event filter that raises stops the rulebook's source,
so whatever cannot be read is change ``none``.
"""

from __future__ import annotations

ALARM_COLORS = ('green', 'yellow', 'red', 'gray')
ALARM_SUBJECT = 'AlarmStatusChangedEvent'
ALARM_TYPE = 'com.vmware.vsphere.AlarmStatusChangedEvent.v0'
ALL_SCOPE = 'all'
RESTORE_LOCK_PREFIX = 'restore:'


def transition(old, new):
    """``(change, criticality)`` of an alarm going from colour ``old`` to ``new``.

    Raised: to red from another colour (HIGH), to yellow from green or gray
    (MEDIUM). Eased: red to yellow. Cleared: to green or gray from another
    colour. Anything else (unchanged, or not a colour): none.
    """
    if old not in ALARM_COLORS or new not in ALARM_COLORS or old == new:
        return 'none', None
    if new == 'red':
        return 'raised', 'HIGH'
    if new == 'yellow':
        return ('eased', None) if old == 'red' else ('raised', 'MEDIUM')
    return 'cleared', None


def text_value(value):
    """A stripped non-empty string, else None."""
    return (value.strip() or None) if isinstance(value, str) else None


def _moid(data, section):
    """``data[section][section]['Value']`` (e.g. data.Host.Host.Value), None when absent or unreadable."""
    outer = data.get(section)
    inner = outer.get(section) if isinstance(outer, dict) else None
    return text_value(inner.get('Value')) if isinstance(inner, dict) else None


def event_scope(data):
    """The scope an event's ``data`` concerns: its cluster's moid, else its host's, else ``all``."""
    if not isinstance(data, dict):
        return ALL_SCOPE
    return _moid(data, 'ComputeResource') or _moid(data, 'Host') or ALL_SCOPE


def color_value(value):
    """A From/To colour stripped and in lower case; None when not a string."""
    return value.strip().lower() if isinstance(value, str) else None


def alarm_change(payload):
    """What the CloudEvent ``payload`` means, as plain data (see the module docstring); never raises.

    ``{alarm, change, criticality, scope, lock, restore_on_clear: {playbook, lock}}``: ``change``
    is ``none`` (and ``alarm`` None) for anything that is not a readable alarm status change.
    ``lock`` is the scope; ``restore_on_clear`` is what a drop runs instead of the cancel when
    the rulebook variable preemption_restore_on_clear is true (None unless eased or cleared).
    """
    try:
        return _read(payload)
    except Exception:  # pylint: disable=broad-except
        # Every field read is type-checked; this guards the rulebook's event path against what a source
        # hands over that is not plain JSON (a mapping whose reads fail).
        return _result(None, 'none', None, ALL_SCOPE)


def _read(payload):
    if not isinstance(payload, dict) or not (payload.get('subject') == ALARM_SUBJECT or payload.get('type') == ALARM_TYPE):
        return _result(None, 'none', None, ALL_SCOPE)
    data = payload.get('data')
    if not isinstance(data, dict):
        return _result(None, 'none', None, ALL_SCOPE)
    scope = event_scope(data)
    alarm = data.get('Alarm')
    name = text_value(alarm.get('Name')) if isinstance(alarm, dict) else None
    change, criticality = transition(color_value(data.get('From')), color_value(data.get('To')))
    if name is None or change == 'none':
        return _result(None, 'none', None, scope)
    return _result(name, change, criticality, scope)


def _result(alarm, change, criticality, scope):
    restore_on_clear = None
    if change == 'cleared':
        # A restore may wait out the threshold: under a lock of its own, so a new raise of the scope is not held up.
        restore_on_clear = {'playbook': 'restore', 'lock': RESTORE_LOCK_PREFIX + scope}
    elif change == 'eased':
        restore_on_clear = {'playbook': 'status', 'lock': scope}
    return {'alarm': alarm, 'change': change, 'criticality': criticality, 'scope': scope, 'lock': scope,
            'restore_on_clear': restore_on_clear}
