# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role's privileges: what the guide's table says is what the role holds, and vCenter's own are no difference."""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.roles import RUN_PRIVILEGES, SYSTEM_PRIVILEGES, role_changes

GUIDE = Path(__file__).resolve().parents[4] / 'docs' / 'docsite' / 'rst' / 'guide_privileges.rst'


def _table_rows(title):
    """``{privilege: (step, methods)}`` of the list-table under the section ``title``."""
    text = GUIDE.read_text()
    section = text.split('\n%s\n' % title, 1)[1].split('\n.. code-block::', 1)[0].split('\nPrivileges of', 1)[0]
    rows = re.findall(r'^   \* - ``([\w.]+)``\n     - (.*)\n     - (.*)$', section, re.MULTILINE)
    return {privilege: (step, methods) for privilege, step, methods in rows}


def test_the_guides_table_is_the_roles_privileges_with_their_step_and_method():
    rows = _table_rows('Privileges of the run')
    assert set(rows) == set(RUN_PRIVILEGES)
    for privilege, (step, methods) in RUN_PRIVILEGES.items():
        assert rows[privilege][0] == step
        assert rows[privilege][1].replace('``', '') == methods


def test_no_setup_privilege_is_in_the_run_role():
    assert not set(_table_rows('Privileges of the set-up only')) & set(RUN_PRIVILEGES)


def test_role_changes_leave_vcenters_own_privileges_aside():
    wanted = sorted(RUN_PRIVILEGES)
    assert role_changes(wanted + list(SYSTEM_PRIVILEGES), wanted) == ([], [])
    assert role_changes(wanted + ['Datastore.Browse'], wanted) == ([], ['Datastore.Browse'])
    assert role_changes(wanted[1:], wanted) == ([wanted[0]], [])
