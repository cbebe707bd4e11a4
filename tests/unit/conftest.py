# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make this checkout importable as ``ansible_collections.vsphere.preemption`` for the unit tests."""

from __future__ import annotations

import importlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'vsphere', 'preemption')

if not os.path.lexists(LINK):
    # Same link as `make setup` and tests/support/ansible_cli.py create.
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(os.path.relpath(REPO, os.path.dirname(LINK)), LINK)
    except FileExistsError:  # another test process made it first
        pass
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# pytest.ini may have put the directory on sys.path before it existed; forget that negative lookup.
sys.path_importer_cache.pop(COLLECTIONS, None)
importlib.invalidate_caches()
