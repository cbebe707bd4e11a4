# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The workflow state's record model: re-run threshold, run records and resumable progress.

The state is one JSON document (the state file holds it whole, the PostgreSQL store a row per workflow
and per vCenter)::

    {"version": 3, "workflows": {"<workflow_id>": <record>, ...},
     "events": {"<vcenter>": [<seen event>, ...]}}

Files of version 1 (0.1) are read and migrated (`migrate`): a workflow taken
from an alarm, keyed ``<alarm>@<vcenter>`` then, is ``<alarm>/<scope>@<vcenter>``
now; the migrated keys are written with the next change. Records of version 2
(0.2) have no ledger: it is built from their runs (``unfinished``, ``earlier``)
when they are read (`with_ledger`), in every backend.

and a record is::

    {"workflow_id": "...",
     "run": <run>,            # the latest run that proceeded (absent after a cancel)
     "unfinished": [<run>],   # older runs that never finished, oldest first
     "runs": 3,               # how many runs of this workflow proceeded
     "ledger": [<entry>],     # the VMs its runs powered off and no restore brought back (ledger.py)
     "released": [<released>],  # the last VMs that left the ledger, and why (ledger.py)
     "restore_wait": {...} | null,  # a restore waiting for the threshold (_run/restore.py)
     "updated": "<timestamp>"}

``absent`` (cancel) forgets ``run`` and ``unfinished`` (the threshold and the
pending work) and keeps the rest: the ledger stays until a restore empties it.

with a run::

    {"run_id": "<uuid4>", "status": "running" | "finished",
     "started": "<timestamp>", "finished": "<timestamp>" | null,
     "tag": ..., "criticality": ..., "trigger": ..., "event": {...},
     "results": {...}}

A seen event is the trigger event that started a run, remembered apart from
the workflow records so that forgetting a workflow (``absent``) does not let
the same event start it again::

    {"event_id": "<CloudEvent id>", "workflow_id": "...", "run_id": "...", "started": "<timestamp>"}

``<vcenter>`` is what follows the last ``@`` of the workflow id
(``<workflow>@<vcenter>``), empty for an unqualified one. Files without
``events`` (written before it existed) load as they are.

Timestamps (_timestamps.py) are UTC ISO 8601 with microseconds and ``Z``
(``2021-11-05T13:02:34.437444Z``).

The decisions (threshold, pending run, merging progress, seen events) are
pure functions of a record and a time, and the state changes pure functions of
a document (`start_in`, `progress_in`, `absent_in`, `release_in`): `StateFile` (file.py) adds the file
handling around them, and the PostgreSQL store (postgres.py) its
transactions, so both backends behave the same.
"""

from __future__ import annotations

import copy
import datetime

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError
from ansible_collections.vsphere.preemption.plugins.module_utils._state import ledger
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import format_timestamp, parse_timestamp


STATE_FILE_VERSION = 3
RUNNING = 'running'
FINISHED = 'finished'
# The memory of trigger events: at least the newest EVENTS_KEPT per vCenter and every one of the last
# EVENTS_MAX_AGE, but never more than EVENTS_CAP (a bound on the document whatever arrives).
EVENTS_KEPT = 1000
EVENTS_MAX_AGE = datetime.timedelta(days=7)
EVENTS_CAP = 10000


class StateError(PreemptionError):
    """A state that cannot be read, trusted or written, whatever the backend; one line naming where.

    ``retryable`` says whether another attempt may pass (see the contract's failures section).
    """


class StateFileError(StateError):
    """A state file that cannot be read, trusted or written; one line naming the path."""


class RunNotFound(StateFileError):
    """A progress/finished call naming a run the workflow does not have (raised by every backend)."""


# ---------------------------------------------------------------- pure decisions

def new_run(run_id, now, tag=None, criticality=None, trigger=None, event=None, results=None):
    """The run record `started` writes when a run proceeds; ``results`` are what it knows at its start (its plan)."""
    return {
        'run_id': run_id,
        'status': RUNNING,
        'started': format_timestamp(now),
        'finished': None,
        'tag': tag,
        'criticality': criticality,
        'trigger': trigger,
        'event': copy.deepcopy(event),
        'results': copy.deepcopy(results or {}),
    }


def pending_run(record):
    """The most recent run of the record that never finished, or None."""
    if not record or not record.get('run'):
        return None
    if record['run'].get('status') != FINISHED:
        return record['run']
    unfinished = record.get('unfinished') or []
    return unfinished[-1] if unfinished else None


def decide_start(record, now, threshold):
    """Whether a new run may proceed now.

    The threshold counts from the start of the latest run that proceeded,
    finished or not: a run that crashed half-way still did this window's
    preemption, and its leftovers are the caller's to finish (see `pending`).

    Returns a dict: ``proceed``, ``last_started`` (timestamp or None),
    ``elapsed`` and ``remaining`` (seconds, rounded to ms; ``remaining`` is 0
    when proceeding) and ``pending`` (the most recent unfinished run or None).
    """
    if not record or not record.get('run'):
        # No run, or a cancelled workflow (its ledger kept): no threshold.
        return dict(proceed=True, last_started=None, elapsed=None, remaining=0.0, pending=None)
    last_started = record['run']['started']
    elapsed = (now - parse_timestamp(last_started)).total_seconds()
    # A start up to `threshold` in the future (the clock stepped back) still blocks, until `threshold`
    # after it; one further ahead means a clock that is off, and must not block the workflow for that long.
    proceed = abs(elapsed) >= threshold
    remaining = 0.0 if proceed else round(threshold - elapsed, 3)
    return dict(proceed=proceed, last_started=last_started, elapsed=round(elapsed, 3), remaining=remaining,
                pending=copy.deepcopy(pending_run(record)))


def start_record(record, workflow_id, run, now):
    """The record after `run` proceeded; an unfinished current run is kept in ``unfinished``. The ledger and
    the released list are kept; a waiting restore is cancelled by the new run (see `start_in`)."""
    unfinished = copy.deepcopy(record.get('unfinished') or []) if record else []
    if record and record.get('run') and record['run'].get('status') != FINISHED:
        unfinished.append(copy.deepcopy(record['run']))
    new = {
        'workflow_id': workflow_id,
        'run': copy.deepcopy(run),
        'unfinished': unfinished,
        'runs': (record.get('runs', 0) if record else 0) + 1,
        'ledger': copy.deepcopy(record.get('ledger') or []) if record else [],
        'released': copy.deepcopy(record.get('released') or []) if record else [],
        'updated': format_timestamp(now),
    }
    if record and record.get('restore_wait'):
        new['restore_wait'] = copy.deepcopy(record['restore_wait'])
    return new


def _merge_lists(current, update):
    """Union of two lists; dicts with a ``moid`` are keyed by it (the update wins), others deduplicated."""
    merged = copy.deepcopy(current)
    positions = {item['moid']: index for index, item in enumerate(merged) if isinstance(item, dict) and 'moid' in item}
    for item in update:
        if isinstance(item, dict) and 'moid' in item:
            if item['moid'] in positions:
                merged[positions[item['moid']]] = copy.deepcopy(item)
            else:
                positions[item['moid']] = len(merged)
                merged.append(copy.deepcopy(item))
        elif item not in merged:
            merged.append(copy.deepcopy(item))
    return merged


def merge_results(current, update):
    """Merge a progress report into the results so far, losing nothing a retried step already reported.

    Lists are unioned (items with a ``moid`` keyed by it), dicts merged
    recursively, anything else replaced by the update.
    """
    merged = copy.deepcopy(current or {})
    for key, value in (update or {}).items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_lists(merged[key], value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_results(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def update_run(record, run_id, results, now, finish=False):
    """The record after a progress (or, with ``finish``, finished) report for run ``run_id``.

    Returns ``(record, run)``: the new record, or the same one unchanged when
    the report adds nothing, and the run as it now stands. A finished run that
    had been superseded leaves ``unfinished``. The VMs the report says the run
    powered off enter the ledger (ledger.record_run). Raises RunNotFound when
    the workflow has no such run (a cancel forgets the runs, not the ledger).
    """
    runs = ([record['run']] if record.get('run') else []) + list(record.get('unfinished') or [])
    matches = [run for run in runs if run['run_id'] == run_id]
    if not matches:
        known = ', '.join(run['run_id'] for run in runs)
        raise RunNotFound('Workflow %r has no run %r (its runs: %s).' % (record.get('workflow_id'), run_id, known))
    run = copy.deepcopy(matches[0])
    run['results'] = merge_results(run.get('results'), results)
    if finish and run.get('status') != FINISHED:
        run['status'] = FINISHED
        run['finished'] = format_timestamp(now)
    entries, released = ledger.record_run(record, run, results or {}, format_timestamp(now))
    if run == matches[0] and entries == record.get('ledger', []) and released == record.get('released', []):
        return record, run
    new = copy.deepcopy(record)
    new['ledger'], new['released'] = entries, released
    if new['run'].get('run_id') == run_id:
        new['run'] = run
    elif run['status'] == FINISHED:
        new['unfinished'] = [item for item in new['unfinished'] if item.get('run_id') != run_id]
    else:
        new['unfinished'] = [run if item.get('run_id') == run_id else item for item in new['unfinished']]
    new['updated'] = format_timestamp(now)
    return new, run


def vcenter_of(workflow_id):
    """The vCenter part of a ``<workflow>@<vcenter>`` id; empty for an unqualified id."""
    _workflow, at, vcenter = workflow_id.rpartition('@')
    return vcenter if at else ''


def seen_event(events, workflow_id, event_id):
    """The remembered start of ``workflow_id`` by trigger event ``event_id``, or None."""
    for seen in events:
        if seen['event_id'] == event_id and seen['workflow_id'] == workflow_id:
            return seen
    return None


def remember_event(events, seen, now):
    """The memory ``events`` (oldest first) with ``seen`` added, trimmed to its bounds."""
    events = list(events) + [copy.deepcopy(seen)]
    cutoff = now - EVENTS_MAX_AGE
    newest = len(events) - EVENTS_KEPT
    kept = [item for index, item in enumerate(events) if index >= newest or parse_timestamp(item['started']) >= cutoff]
    return kept[-EVENTS_CAP:]


def _migrated_key(key, record):
    """The version 2 key of a version 1 record: 0.1 keyed a workflow taken from an alarm ``<alarm>@<vcenter>``.

    Since 0.2 it is ``<alarm>/<scope>@<vcenter>`` (a workflow per alarm and scope), and the scope is in the
    plan the run recorded. Records without such a plan (a run killed before it recorded one, an explicit
    workflow id) keep their key.
    """
    run = record.get('run') if isinstance(record, dict) else None
    results = run.get('results') if isinstance(run, dict) else None
    plan = results.get('plan') if isinstance(results, dict) else None
    if not isinstance(plan, dict) or not all(isinstance(plan.get(name), str) for name in ('workflow_id', 'vcenter', 'reason')):
        return key
    if not plan['reason'].startswith('alarm ') or key != '%s@%s' % (plan['workflow_id'], plan['vcenter']):
        return key
    return '%s/%s@%s' % (plan['workflow_id'], plan.get('scope') or 'all', plan['vcenter'])


def migrate(document):
    """``document`` in the current version: a version 1 file's records under their version 2 keys.

    Version 2 differs only in its records, which get their ledger when read (`with_ledger`).
    """
    if document.get('version') != 1:
        return dict(document, version=STATE_FILE_VERSION)
    workflows = {}
    for key, record in document['workflows'].items():
        new_key = _migrated_key(key, record)
        if new_key != key:
            record = dict(record, workflow_id=new_key)
        workflows[new_key] = record
    return dict(document, version=STATE_FILE_VERSION, workflows=workflows)


# ---------------------------------------------------------------- state changes on a document (pure)

def _check_record(where, workflow_id, record):
    """Refuse a record this code did not write rather than guess at it."""
    try:
        if not isinstance(record.get('runs', 0), int) or not isinstance(record.get('ledger', []), list) \
                or not isinstance(record.get('released', []), list):
            raise TypeError
        if 'run' not in record and 'ledger' not in record:
            raise KeyError('run')
        ledger.check(record)
        runs = [record['run']] if record.get('run') is not None else []
        for run in runs + list(record.get('unfinished', [])) + list(record.get('earlier', [])):
            if not isinstance(run['run_id'], str) or not isinstance(run.get('results', {}), dict):
                raise TypeError
            parse_timestamp(run['started'])
    except (AttributeError, KeyError, TypeError, ValueError):
        raise StateFileError('The record of workflow %r in %s is malformed; '
                             'fix it, or forget the workflow with state: absent.' % (workflow_id, where)) from None


def _check_events(where, vcenter, events):
    try:
        for seen in events:
            if not all(isinstance(seen[key], str) for key in ('event_id', 'workflow_id', 'run_id')):
                raise TypeError
            parse_timestamp(seen['started'])
    except (KeyError, TypeError, ValueError):
        raise StateFileError('The memory of trigger events of vCenter %r in %s is malformed; fix it, or remove it '
                             '(its events may then start their workflows again).' % (vcenter, where)) from None


def workflow_record(document, workflow_id, where):
    """The record of ``workflow_id`` in ``document`` (a copy), or None; ``where`` names the store in errors."""
    record = document['workflows'].get(workflow_id)
    if record is None:
        return None
    _check_record(where, workflow_id, record)
    return with_ledger(record)


def with_ledger(record):
    """A copy of ``record`` with its ledger: a record of 0.2 (runs in ``unfinished`` and ``earlier``) gets one from them."""
    record = copy.deepcopy(record)
    if 'ledger' not in record:
        record['ledger'], record['released'] = ledger.from_runs(record)
    record.pop('earlier', None)
    return record


def vcenter_events(document, vcenter, where):
    """The seen events of ``vcenter`` in ``document``, oldest first (a copy)."""
    events = document.get('events', {}).get(vcenter, [])
    if not isinstance(events, list):
        events = None
    _check_events(where, vcenter, events)
    return copy.deepcopy(events)


def start_in(document, workflow_id, threshold, now, new_id, where, tag=None, criticality=None, trigger=None, event=None,
             event_id=None, results=None):
    """`StateFile.started` on ``document`` (changed in place); ``new_id()`` gives the run id when the run proceeds."""
    record = workflow_record(document, workflow_id, where)
    result = decide_start(record, now, threshold)
    result.update(run=None, duplicate=False, duplicate_of=None)
    if event_id is not None:
        vcenter = vcenter_of(workflow_id)
        events = vcenter_events(document, vcenter, where)
        seen = seen_event(events, workflow_id, event_id)
        if seen is not None:
            # A redelivered event: its run is done or pending, never started twice.
            result.update(proceed=False, duplicate=True, duplicate_of=seen)
    waiting = (record or {}).get('restore_wait')
    if waiting and not waiting.get('cancelled') and not waiting.get('done'):
        # A raise of the workflow, proceeding or not, cancels its waiting restore: the pressure is back.
        record['restore_wait'] = dict(waiting, cancelled=format_timestamp(now))
        document['workflows'][workflow_id] = record
    if result['proceed']:
        run = new_run(new_id(), now, tag=tag, criticality=criticality, trigger=trigger, event=event, results=results)
        record = start_record(record, workflow_id, run, now)
        document['workflows'][workflow_id] = record
        if event_id is not None:
            seen = dict(event_id=event_id, workflow_id=workflow_id, run_id=run['run_id'], started=run['started'])
            document.setdefault('events', {})[vcenter] = remember_event(events, seen, now)
        result['run'] = copy.deepcopy(run)
    result['record'] = copy.deepcopy(record)
    return result


def progress_in(document, workflow_id, run_id, results, now, where, finish=False):
    """`StateFile.progress` on ``document`` (changed in place); ``(changed, run, record)``."""
    record = workflow_record(document, workflow_id, where)
    if record is None:
        raise RunNotFound('Workflow %r has no record in %s, so it has no run %r.' % (workflow_id, where, run_id))
    new, run = update_run(record, run_id, results, now, finish=finish)
    changed = new is not record
    if changed:
        document['workflows'][workflow_id] = new
    return changed, run, copy.deepcopy(new)


def absent_in(document, workflow_id, now, where):
    """`StateFile.absent` on ``document``: ``(removed, kept)``, the record as it was (None: nothing to forget)
    and what stays of it (its ledger, or None). The seen events stay too."""
    record = document['workflows'].get(workflow_id)
    if record is None or (isinstance(record, dict) and 'run' not in record and 'ledger' in record):
        return None, record
    try:
        kept = workflow_record(document, workflow_id, where)
    except StateFileError:
        # Removal needs no well-formed record: forgetting is the way out of a malformed one.
        kept = None
    del document['workflows'][workflow_id]
    if kept and (kept['ledger'] or kept.get('released')):
        kept = {key: kept[key] for key in ('workflow_id', 'runs', 'ledger', 'released', 'restore_wait') if key in kept}
        kept.update(cancelled=format_timestamp(now), updated=format_timestamp(now))
        document['workflows'][workflow_id] = kept
    else:
        kept = None
    return record, copy.deepcopy(kept)


def release_in(document, workflow_id, report, now, where):
    """`StateFile.release` on ``document`` (changed in place): ``(changed, record)``; see ledger.release.

    ``report['restore_wait']`` (a dict, or None to clear it) records or ends a waiting restore.
    """
    record = workflow_record(document, workflow_id, where)
    if record is None:
        return False, None
    new = copy.deepcopy(record)
    new['ledger'], new['released'] = ledger.release(record, report, format_timestamp(now))
    if 'restore_wait' in report:
        new['restore_wait'] = copy.deepcopy(report['restore_wait'])
    if new == record:
        return False, record
    new['updated'] = format_timestamp(now)
    document['workflows'][workflow_id] = new
    return True, copy.deepcopy(new)
