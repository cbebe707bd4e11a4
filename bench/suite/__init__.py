# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark's parts: ``common`` (what every case shares), one module per case (``preempt``, ``search``,
``overhead``, ``storm``), ``report`` (the table) and ``chart`` (bench/results.png); ``bench/run.py`` runs them."""
