# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""VM operations over a vCenter session: inventory and selection, power off/on, the guest notice,
custom attributes, VM events, tagging.

May import `_vcenter`, `_errors`, `_timestamps`. See ../README.md for the layer map. Private: may
change in any release.
"""
