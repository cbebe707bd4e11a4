# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write the Sphinx inventory of the Ansible documentation labels these docs link to.

The build machines have no internet, so intersphinx cannot download
docs.ansible.com's objects.inv. The few labels the generated plugin pages and the
guides use are listed here with their place in the Ansible documentation; a page
that links to a label missing from this list fails the build (sphinx-build -W),
so the list cannot silently go stale.
"""

import sys
import zlib

# label -> (path in https://docs.ansible.com/projects/ansible/devel/, title)
LABELS = {
    'action_plugins': ('plugins/action.html#action-plugins', 'Action plugins'),
    'ansible_configuration_settings': ('reference_appendices/config.html#ansible-configuration-settings',
                                       'Ansible Configuration Settings'),
    'common_return_values': ('reference_appendices/common_return_values.html#common-return-values', 'Return Values'),
}


def inventory():
    """The inventory in Sphinx's version 2 format."""
    header = ('# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
              '# The remainder of this file is compressed using zlib.\n')
    lines = ''.join(f'{label} std:label -1 {uri} {title}\n' for label, (uri, title) in sorted(LABELS.items()))
    return header.encode() + zlib.compress(lines.encode())


def main():
    with open(sys.argv[1], 'wb') as f:
        f.write(inventory())


if __name__ == '__main__':
    main()
