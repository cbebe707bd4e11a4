# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests, ``bench/`` and ``tools/demo.py`` share: harnesses, fakes and helpers, none of them a test.

    vcenter_events    what vCenter's event log holds, newer than a key
"""
