# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The states of ``vsphere.preemption.workflow_state`` over a state store, as the action plugin returns them."""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import vcenter_of

STATES = ('started', 'progress', 'finished', 'absent', 'query', 'ledger')
# How many known workflow ids an unknown one is answered with.
KNOWN_IDS_SHOWN = 20


def start_message(workflow_id, threshold, outcome):
    if outcome['duplicate']:
        seen = outcome['duplicate_of']
        return 'Duplicate event: trigger event %r already started run %s of workflow %r at %s; not run again.' % (
            seen['event_id'], seen['run_id'], workflow_id, seen['started'])
    if outcome['last_started'] is None:
        return 'Workflow %r has no earlier run: proceeding.' % workflow_id
    verdict = 'proceeding' if outcome['proceed'] else 'skipped (%s s left)' % outcome['remaining']
    return 'Workflow %r last started at %s, %s s ago; threshold %d s: %s.' % (
        workflow_id, outcome['last_started'], outcome['elapsed'], threshold, verdict)


def check_params(params):
    """The message for parameters the argument spec cannot check, or ''."""
    if not params['workflow_id'].strip():
        return 'workflow_id must name the workflow, not be an empty string.'
    if params['threshold'] < 0:
        return 'threshold must be 0 or a positive number of seconds, not %d.' % params['threshold']
    return ''


def run_state(store, params, check_mode):
    """Do what ``params['state']`` asks of ``store``; returns ``(changed, result fields)``."""
    state, workflow_id = params['state'], params['workflow_id']
    if state == 'started':
        outcome = store.started(workflow_id, params['threshold'], tag=params['tag'], criticality=params['criticality'],
                                trigger=params['trigger'], event=params['event'], event_id=params['event_id'],
                                results=params['results'], check_mode=check_mode)
        run = outcome['run']
        return outcome['proceed'], dict(
            proceed=outcome['proceed'], run_id=run['run_id'] if run else None, run=run, pending=outcome['pending'],
            last_started=outcome['last_started'], remaining=outcome['remaining'], record=outcome['record'],
            duplicate=outcome['duplicate'], duplicate_of=outcome['duplicate_of'],
            msg=start_message(workflow_id, params['threshold'], outcome))
    if state in ('progress', 'finished'):
        changed, run, record = store.progress(workflow_id, params['run_id'], params['results'] or {},
                                              finish=state == 'finished', check_mode=check_mode)
        return changed, dict(run=run, record=record)
    if state == 'absent':
        removed, kept = store.absent(workflow_id, check_mode=check_mode)
        return removed is not None, dict(record=kept)
    if state == 'ledger':
        changed, record = store.release(workflow_id, params['results'] or {}, check_mode=check_mode)
        return changed, dict(record=record)
    record = store.query(workflow_id)
    fields = dict(record=record)
    if record is None:
        fields['known_ids'] = known_ids(store.workflow_ids(), workflow_id)
    return False, fields


def known_ids(workflow_ids, workflow_id):
    """The ids of the workflows with a record on the vCenter of ``workflow_id`` (at most KNOWN_IDS_SHOWN), for an unknown one."""
    vcenter = vcenter_of(workflow_id)
    return [known for known in workflow_ids if vcenter_of(known) == vcenter][:KNOWN_IDS_SHOWN]
