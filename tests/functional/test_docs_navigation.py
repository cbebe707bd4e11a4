# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The documentation's index as `make docs` writes it: Quick start first, then guides, role, modules, EDA; no filters
(the collection publishes none: the role keeps its books in the action plugin preempt_books)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.ansible_cli import BIN, REPO, ansible_env


def test_the_index_leads_with_the_quick_start_and_has_no_filters(tmp_path):
    rst = tmp_path / 'rst'
    rst.mkdir(mode=0o700)
    generate = subprocess.run([os.path.join(BIN, 'antsibull-docs'), 'collection', '--use-current', '--squash-hierarchy',
                               '--dest-dir', str(rst), 'vsphere.preemption'], env=ansible_env(), capture_output=True, text=True,
                              timeout=300, check=False)
    assert generate.returncode == 0, generate.stderr
    reorder = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'docs', 'navigation.py'), str(rst)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert reorder.returncode == 0, reorder.stderr
    index = (rst / 'index.rst').read_text()
    assert re.search(r'^vsphere\.preemption\n=+\n', index, re.MULTILINE) and 'Vsphere.Preemption' not in index
    sections = re.findall(r'^([A-Z][\w -]+)\n-+\n', index, re.MULTILINE)
    assert sections == ['Description', 'Quick start', 'Guides', 'Role Index', 'Plugin Index', 'Event-Driven Ansible'], sections
    assert index.index('docsite/quickstart') < index.index('docsite/guide_preempt') < index.index('preempt_role') \
        < index.index('tagged_vm_info_module') < index.index('docsite/eda_plugins')
    assert '_filter' not in index and 'Filter Plugins' not in index
    assert not sorted(rst.glob('*_filter.rst'))
