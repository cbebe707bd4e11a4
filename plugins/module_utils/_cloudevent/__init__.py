# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""CloudEvents delivery: build, encode and send an event to a sink over HTTP.

May import `_errors`, `_timestamps`. See ../README.md for the layer map. Private: may change in any
release.
"""
