#!/usr/bin/env python
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Order the collection index antsibull-docs writes as an administrator reads it.

``navigation.py RST_DIR`` rewrites ``RST_DIR/index.rst``: the title as the collection is spelled
(``vsphere.preemption``, not ``Vsphere.Preemption``); then the Quick start, the guides, the role, the modules
and Event-Driven Ansible, in that order.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TITLE = 'vsphere.preemption'
# Sections of the index (level "-"), in the order they are shown; any other section follows them.
ORDER = ('Description', 'Quick start', 'Guides', 'Role Index', 'Plugin Index', 'Event-Driven Ansible')


def _sections(text):
    """``(head, [(title, text)])``: the index split before each level "-" section (with its label, if any)."""
    starts = [m.start() for m in re.finditer(r'\n(?:\.\. _[^\n]+:\n\n)?[^\n]+\n-+\n', text)]
    head = text[:starts[0]] if starts else text
    parts = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    return head, [(re.search(r'\n([^\n]+)\n-+\n', part).group(1), part) for part in parts]


def reorder(text):
    text = re.sub(r'\n[^\n]+\n=+\n', '\n%s\n%s\n' % (TITLE, '=' * len(TITLE)), text, count=1)
    head, sections = _sections(text)
    rank = {title: index for index, title in enumerate(ORDER)}
    ordered = sorted(sections, key=lambda section: rank.get(section[0], len(ORDER)))
    return head + ''.join(part.rstrip('\n') + '\n\n' for _title, part in ordered)


def main(rst_dir):
    rst = Path(rst_dir)
    index = rst / 'index.rst'
    index.write_text(reorder(index.read_text()))
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
