# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the vsphere.preemption.preempt role; each is documented in the YAML file named after it."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vsphere.preemption.plugins.module_utils.preemption_request import (
    PreemptionRequestError,
    build_plan,
    permanent_error,
    plan_error,
    run_report,
    run_summary,
    status_lines,
    workflow_identity,
)


def _checked(function, *args):
    try:
        return function(*args)
    except PreemptionRequestError as exc:
        raise AnsibleFilterError(str(exc)) from None


def preemption_plan(request):
    return _checked(build_plan, request)


def preemption_workflow(request):
    return _checked(workflow_identity, request)


def preemption_plan_error(request, workflow_only=False):
    return plan_error(request, workflow_only)


def preemption_report(run, plan, powered_off):
    try:
        return run_report(run, plan, powered_off)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('preemption_report needs a run from vsphere.preemption.workflow_state, the plan the run recorded '
                                 'and a list of {moid, name, method} dicts: %s: %s' % (type(exc).__name__, exc)) from None


def preemption_permanent_error(message):
    return permanent_error(message)


def preemption_summary(plan, outcome, check_mode=False):
    return run_summary(plan, outcome, check_mode)


def preemption_status(record, workflow, state_file):
    return status_lines(workflow, record, state_file)


class FilterModule:
    def filters(self):
        return {
            'preemption_plan': preemption_plan,
            'preemption_workflow': preemption_workflow,
            'preemption_plan_error': preemption_plan_error,
            'preemption_permanent_error': preemption_permanent_error,
            'preemption_report': preemption_report,
            'preemption_summary': preemption_summary,
            'preemption_status': preemption_status,
        }
