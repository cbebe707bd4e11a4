# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a vCenter module of this collection in the task's controller process, where it would run anyway (private).

A module process costs about half a second of CPU (an interpreter, the AnsiballZ payload, its imports) for a
step that mostly waits on vCenter, and a preemption run has four. When the module would run on the controller
(connection ``local``, no become, no async, no task ``environment``) with the controller's own Python, its
``main()`` runs in the task's worker process instead: the same AnsibleModule reads the same arguments and
prints the same JSON, which Ansible parses as it parses a module's output. Anything else (a remote or
delegated host, another interpreter, ``ANSIBLE_KEEP_REMOTE_FILES`` to debug the module) runs the module as usual.

The module file is imported when Ansible loads the action class, which it does in the main process before it
forks each task's worker: pyvmomi and the collection's code are imported once per run, not once per step.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

from ansible import constants as C
from ansible.module_utils import basic
from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.plugins.action.normal import ActionModule as NormalAction

_PROFILE = 'legacy'  # the serialization profile of a module that declares none, as these do
_LOCAL = ('local', 'ansible.builtin.local', 'ansible.legacy.local')


def _same_file(one, other):
    try:
        return os.path.samefile(one, other)
    except (OSError, TypeError):
        return False


class ModuleInController(NormalAction):
    """The action of a vCenter module: ansible-core's ``normal`` action, but its module (``MODULE``, the imported
    module file) runs here when it would run here."""

    MODULE = None

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        # The one place a module process starts: the task's own module only (the action calls it so), else as usual.
        if module_name is None and module_args is None and self._runs_in_controller(task_vars or {}):
            return self._run_main(task_vars or {})
        return super()._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars, **kwargs)

    def _runs_in_controller(self, task_vars):
        """True when the module process would be the controller's Python, as the controller's user, in its environment."""
        if self._connection.transport not in _LOCAL or self._play_context.become or self._task.async_val:
            return False
        environment = {}
        self._compute_environment_string(environment)
        if environment or C.DEFAULT_KEEP_REMOTE_FILES:
            return False
        return _same_file(self._module_python(task_vars), sys.executable)

    def _module_python(self, task_vars):
        """The interpreter Ansible would start for the module (as _configure_module finds it), None if undiscovered."""
        host_vars = task_vars.get('ansible_delegated_vars', {}).get(self._task.delegate_to, {}) if self._task.delegate_to else task_vars
        configured = C.config.get_config_value('INTERPRETER_PYTHON', variables=host_vars)
        interpreter = self._templar.template(configured) if configured else None
        if not interpreter or str(interpreter).startswith('auto'):
            interpreter = host_vars.get('ansible_facts', {}).get('discovered_interpreter_python')
        return interpreter

    def _run_main(self, task_vars):
        """The module's result, from its main() run here as AnsiballZ would run it."""
        module_args = self._task.args.copy()
        self._update_module_args(self._task.action, module_args, task_vars)
        basic._ANSIBLE_ARGS = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args),
                                         cls=get_module_encoder(_PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
        basic._ANSIBLE_PROFILE = _PROFILE
        stdout = io.StringIO()
        # A module's stderr is not shown when it prints its result; here it would reach the terminal.
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
            with contextlib.suppress(SystemExit):  # exit_json and fail_json end with sys.exit, as in a module process
                self.MODULE.main()
        return json.loads(stdout.getvalue(), cls=get_module_decoder(_PROFILE, Direction.MODULE_TO_CONTROLLER))
