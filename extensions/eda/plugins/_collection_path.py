# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.vsphere.preemption`` importable for the EDA plugins beside this file.

ansible-rulebook runs an event source or event filter with runpy, outside any package and
without the collection path on sys.path, so a plugin cannot import this file either: each
runs it by path first. The directory that holds ``ansible_collections/`` is seven levels up.
"""

from __future__ import annotations

import os
import sys


def put_collection_on_path():
    root = os.path.abspath(__file__)
    for _level in range(7):
        root = os.path.dirname(root)
    if os.path.isdir(os.path.join(root, 'ansible_collections', 'vsphere', 'preemption')) and root not in sys.path:
        sys.path.append(root)


put_collection_on_path()
