# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The base of the collection's controller-only action plugins (private: free to change)."""

from __future__ import annotations

import abc

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """An action that works on the controller only: no module process, nothing sent to the host.

    A subclass names its ``ARGUMENT_SPEC`` (and ``REQUIRED_IF``) and implements
    ``act(params, no_log_values, task_vars)``, returning its result. Options that fail the
    spec are one failure with ``retryable: false``, as a module's are: bad options stay bad
    (plus ``OPTIONS_FAILED``, the fields a subclass returns always).
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}
    REQUIRED_IF = ()
    OPTIONS_FAILED = {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        try:
            validation, params = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, required_if=list(self.REQUIRED_IF))
        except AnsibleActionFail as exc:
            return dict(result, failed=True, msg=exc.message, retryable=False, **self.OPTIONS_FAILED)
        result.update(self.act(params, set(validation._no_log_values), task_vars or {}))
        return result

    @abc.abstractmethod
    def act(self, params, no_log_values, task_vars):
        """The action's result from its checked ``params``; ``no_log_values`` are the secret option values."""
