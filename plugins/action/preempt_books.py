# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vsphere.preemption.preempt_books: the preempt role's books, kept in Python (documented in plugins/modules).

A thin door: it checks that each registered result it is given is one, and hands them to the pure functions of
module_utils/_run/bookkeeping.py and _run/restore.py.
"""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.module_utils._run import bookkeeping
from ansible_collections.vsphere.preemption.plugins.module_utils._run import restore
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import utcnow
from ansible_collections.vsphere.preemption.plugins.plugin_utils._controller_action import ControllerAction

FAILED_STEPS = ('session', 'select', 'annotate', 'history', 'cloudevent')
# Per step: the options it needs (each a registered result, a dict, unless said otherwise), then those it may take.
STEPS = {
    'history': (('start',), ()),
    'preempt': (('plan', 'start'), ('found', 'power', 'history')),
    'failure': (('plan', 'what', 'result'), ('subject',)),
    'summary': (('plan', 'outcome'), ()),
    'status': (('plan', 'queried'), ()),
    'restore_plan': (('plan', 'record'), ('wait', 'waited')),
    'restore_selection': (('plan', 'restore', 'found', 'history'), ('measured',)),
    'restore_work': (('plan', 'restore', 'selection', 'power'), ()),
}
# ``wait`` is the role variable as given: restore_plan itself says what it must be.
NOT_DICTS = {'what': str, 'subject': str, 'wait': object}
# Every option but step is a registered result, or data the role passes as given: the door checks them (_inputs).
ARGUMENT_SPEC = dict({name: dict(type='raw') for needed, optional in STEPS.values() for name in needed + optional},
                     step=dict(type='str', required=True, choices=list(STEPS)))


class BooksError(Exception):
    """Options that are not the registered results the step needs."""


def _inputs(step, params):
    """The step's options, checked: each needed one given, each given one of its type (a dict unless NOT_DICTS says)."""
    needed, optional = STEPS[step]
    for name in needed:
        if params.get(name) is None:
            raise BooksError('step %s needs %s.' % (step, name))
    unused = sorted(name for name in ARGUMENT_SPEC if name != 'step' and params.get(name) is not None and name not in needed + optional)
    if unused:
        raise BooksError('step %s takes no %s.' % (step, ', '.join(unused)))
    for name in needed + optional:
        kind = NOT_DICTS.get(name, dict)
        if params.get(name) is not None and not isinstance(params[name], kind):
            raise BooksError('%s must be a %s%s, not %s.' % (name, kind.__name__, ' (a registered result)' if kind is dict else '',
                                                             type(params[name]).__name__))
    if step == 'failure' and params['what'] not in FAILED_STEPS:
        raise BooksError('what must be one of %s, not %r.' % (', '.join(FAILED_STEPS), params['what']))
    return {name: params.get(name) for name in needed + optional}


def _preempt(plan, start, found, power, history, check_mode):
    """What the run did, owes and says, from the registered results of its steps."""
    if start.get('proceed'):
        done = bookkeeping.work(start, power or {}, history or {})
    else:
        done = {'progress': None, 'annotations': [], 'events': [], 'finish': [], 'resumed': [], 'current': {'powered_off': [], 'failed': []}}
    # The summary comes after the CloudEvent step, which stops the role when it fails: reaching it means sent.
    outcome = bookkeeping.outcome(start, found or {}, done if start.get('proceed') else None, not check_mode)
    # Without a sink of its own (preemption_reply_to), the run cannot send an owed event whose URL was not stored.
    unsent = [entry for entry in done['events'] if not entry['url']] if not plan.get('sink') else []
    return dict(done, outcome=outcome, power_error=bookkeeping.power_failure(done, power or {}, plan),
                sink_error=bookkeeping.step_failure('sink', done, plan) if unsent else '')


def books(step, params, check_mode):
    """The result of ``step`` (see the module's documentation) from its checked options ``params``."""
    args = _inputs(step, params)
    plan = args.get('plan')
    if step == 'history':
        return bookkeeping.history_request(args['start']) if args['start'].get('proceed') else {'vms': [], 'since': None}
    if step == 'preempt':
        return _preempt(plan, args['start'], args['found'], args['power'], args['history'], check_mode)
    if step == 'failure':
        return {'failed': True, 'msg': bookkeeping.step_failure(args['what'], args['result'], plan, args['subject'])}
    if step == 'summary':
        return bookkeeping.run_summary(plan, args['outcome'], check_mode)
    if step == 'status':
        return {'lines': bookkeeping.status_lines(plan, args['queried']['results'])}
    if step == 'restore_plan':
        queried = args['record']
        planned = restore.restore_plan(queried['record'], plan, utcnow(), plan.get('event_id') is not None, queried.get('known_ids') or [],
                                       False if args['wait'] is None else args['wait'], args['waited'])
        return dict(planned, outcome=restore.restore_summary(plan, planned, check_mode=check_mode))
    if step == 'restore_selection':
        return restore.restore_selection(args['restore'], args['found'], args['history'], plan, args['measured'] or None)
    done = restore.restore_work(args['restore'], args['selection'], args['power'], plan)
    outcome = restore.restore_summary(plan, args['restore'], args['selection'], done, check_mode)
    # Not returned as `failed`: a list there would fail the task. The VMs that failed are in the outcome.
    return dict(done, outcome=outcome, power_error=restore.power_on_failure(done.pop('failed')))


class ActionModule(ControllerAction):
    # Books of the controller's run: nothing is sent to the host.
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, params, no_log_values, task_vars):
        try:
            answer = books(params['step'], params, bool(self._task.check_mode))
        except BooksError as exc:
            return dict(failed=True, msg='preempt_books: %s' % exc, retryable=False)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A dict that is not the registered result the step needs (another task's, or a hand-made one).
            return dict(failed=True, retryable=False,
                        msg='preempt_books step %s needs the registered results of the role vsphere.preemption.preempt: %s: %s'
                            % (params['step'], type(exc).__name__, exc))
        return dict(answer, changed=False)
