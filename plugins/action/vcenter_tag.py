# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vcenter_tag module, run in the controller's process where it would run anyway (see _module_in_controller)."""

from __future__ import annotations

from ansible_collections.vsphere.preemption.plugins.modules import vcenter_tag
from ansible_collections.vsphere.preemption.plugins.plugin_utils._module_in_controller import ModuleInController


class ActionModule(ModuleInController):
    MODULE = vcenter_tag
