# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The promises every preemption keeps, whatever went wrong on the way, checked against vCenter and the sink.

Used by the fault, crash and concurrency suites after the runs of a scenario:

- every tagged VM that a run powered off carries its annotation (same run id);
- every run that powered off VMs announced them with exactly one CloudEvent id,
  listing exactly the VMs annotated with that run id, and no other event arrived;
- vCenter's event log shows each VM powered off at most once;
- every VM outside the tagged, in-scope set the runs were given (untagged, out
  of scope) is untouched: still powered on, never powered off, unannotated.
"""

from __future__ import annotations

import collections
import datetime

from tests.support.preempt_helpers import FIELD, annotation, power_on_all

EVENT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'


def reset(vcenter, moids):
    """Every VM powered on, no preemption annotation left on the given VMs; returns the time of the reset."""
    power_on_all(vcenter)
    for moid in moids:
        if vcenter.custom_value(moid, FIELD):
            vcenter.set_custom_value(moid, FIELD, '')
    return datetime.datetime.now(datetime.timezone.utc)


def power_off_counts(vcenter, since):
    """``{moid: n}``: how many times vCenter logged a VmPoweredOffEvent for each VM since ``since``."""
    from pyVmomi import vim

    # The simulator ignores the time filter and pages 10 events unless told otherwise: filter here, and ask for
    # its whole history (its last 1,000 events).
    spec = vim.event.EventFilterSpec(eventTypeId=['VmPoweredOffEvent'], time=vim.event.EventFilterSpec.ByTime(beginTime=since),
                                     maxCount=1000)
    events = vcenter.content.eventManager.QueryEvents(spec) or []
    return dict(collections.Counter(event.vm.vm._moId for event in events if event.createdTime >= since))


def check(vcenter, tagged, sink, since, deliveries_per_event=1):
    """Assert the promises for the VMs ``tagged`` ({name: moid}) after the runs since ``since``.

    ``tagged`` is the set the runs may touch: the tagged VMs in the runs' scope.
    Every other VM of the inventory must be as `reset` left it.

    ``deliveries_per_event``: accepted deliveries of each CloudEvent id the sink
    must show (1; None when a run killed between the sink's answer and its record
    may have made a resumed run deliver the same id again).
    Returns ``{run_id: sorted moids}`` of the runs that powered VMs off.
    """
    counts = power_off_counts(vcenter, since)
    twice = {moid: n for moid, n in counts.items() if n > 1}
    assert not twice, 'VMs powered off more than once: %r' % twice
    others = {vm['name']: vm for vm in vcenter.vms() if vm['moid'] not in tagged.values()}
    touched = {name: (vm['power_state'], counts.get(vm['moid'], 0), vcenter.custom_value(vm['moid'], FIELD))
               for name, vm in others.items()
               if (vm['power_state'] != 'poweredOn' and not vm['template']) or counts.get(vm['moid'])
               or vcenter.custom_value(vm['moid'], FIELD)}
    assert not touched, 'VMs outside the tagged, in-scope set were touched (power state, power-offs, annotation): %r' % touched
    by_run = collections.defaultdict(list)
    for name, moid in sorted(tagged.items()):
        if vcenter.power_state(moid) != 'poweredOff':
            continue
        value = annotation(vcenter, moid)
        assert value and value.get('preempted') is True and value.get('runID'), (
            'VM %s (%s) is powered off without its preemption annotation: %r' % (name, moid, value))
        by_run[value['runID']].append(moid)
    by_run = {run_id: sorted(moids) for run_id, moids in by_run.items()}

    accepted = [request for request in sink.requests if request.accepted] if sink is not None else []
    ids = collections.Counter(request.event['id'] for request in accepted)
    if deliveries_per_event is not None:
        assert all(count == deliveries_per_event for count in ids.values()), 'CloudEvent deliveries per id: %r' % dict(ids)
    events = {request.event['id']: request.event for request in accepted}
    announced = collections.defaultdict(list)
    for event in events.values():
        assert event['type'] == EVENT_TYPE
        announced[event['data']['runID']].append(sorted(vm['Value'] for vm in event['data']['virtualMachines']))
    if sink is not None:
        assert dict(announced) == {run_id: [moids] for run_id, moids in by_run.items()}, (
            'CloudEvents (run id: [VMs]) %r do not match the annotations %r' % (dict(announced), by_run))
    return by_run
