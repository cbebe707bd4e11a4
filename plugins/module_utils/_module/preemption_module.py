# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The AnsibleModule of this collection's modules: every failure says whether it is worth another attempt."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


class PreemptionModule(AnsibleModule):
    """An AnsibleModule whose failures always carry ``retryable``.

    It is False unless the caller passes the flag of the error it caught, so
    invalid options (also those AnsibleModule itself rejects) and a missing
    library are never retried.
    """

    def fail_json(self, msg, **kwargs):
        kwargs.setdefault('retryable', False)
        super().fail_json(msg=msg, **kwargs)
