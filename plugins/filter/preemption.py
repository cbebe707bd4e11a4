# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the vsphere.preemption.preempt role; each is documented in the YAML file named after it.

They hand the role's registered results to the plain functions of
module_utils/_run/bookkeeping.py, so that the role keeps no books in Jinja.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vsphere.preemption.plugins.module_utils._run import restore as preemption_restore
from ansible_collections.vsphere.preemption.plugins.module_utils._run import bookkeeping as preemption_run
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import utcnow


def _checked(function, *args):
    try:
        return function(*args)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('%s needs the registered results of the role vsphere.preemption.preempt: %s: %s'
                                 % (function.__name__, type(exc).__name__, exc)) from None


def preemption_probe(start, power=None):
    return _checked(preemption_run.probe_moids, start, power or {})


def preemption_history(start):
    return _checked(preemption_run.history_request, start)


def preemption_work(start, power=None, probe=None, history=None):
    return _checked(preemption_run.work, start, power or {}, probe or {}, history or {})


def preemption_step_error(result, what, plan, subject=None):
    return _checked(preemption_run.step_failure, what, result, plan, subject)


def preemption_power_error(work, power, plan):
    return _checked(preemption_run.power_failure, work, power or {}, plan)


def preemption_outcome(start, found=None, work=None, sent=False):
    return _checked(preemption_run.outcome, start, found or {}, work, sent)


def preemption_summary(plan, outcome, check_mode=False):
    return _checked(preemption_run.run_summary, plan, outcome, check_mode)


def preemption_status(queried, workflow):
    return _checked(preemption_run.status_lines, workflow, queried)


def preemption_restore_plan(record, plan, triggered=False, known_ids=None, wait=False, waited=None):
    return _checked(preemption_restore.restore_plan, record, plan, utcnow(), bool(triggered), known_ids or [], wait, waited)


def preemption_restore_selection(restore, found, history, plan, measured=None):
    return _checked(preemption_restore.restore_selection, restore, found or {}, history or {}, plan, measured or None)


def preemption_restore_work(restore, selection, power, plan):
    return _checked(preemption_restore.restore_work, restore, selection, power or {}, plan)


def preemption_restore_summary(plan, restore, selection=None, work=None, check_mode=False):
    return _checked(preemption_restore.restore_summary, plan, restore, selection, work, bool(check_mode))


class FilterModule:
    def filters(self):
        return {
            'preemption_probe': preemption_probe,
            'preemption_history': preemption_history,
            'preemption_work': preemption_work,
            'preemption_step_error': preemption_step_error,
            'preemption_power_error': preemption_power_error,
            'preemption_outcome': preemption_outcome,
            'preemption_summary': preemption_summary,
            'preemption_status': preemption_status,
            'preemption_restore_plan': preemption_restore_plan,
            'preemption_restore_selection': preemption_restore_selection,
            'preemption_restore_work': preemption_restore_work,
            'preemption_restore_summary': preemption_restore_summary,
        }
