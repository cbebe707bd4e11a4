# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url, url_secrets


@pytest.mark.parametrize('url, shown', [
    ('https://user:secret@events.example.com:8443/hook?access_token=abc&x#frag', 'https://***@events.example.com:8443/hook?access_token=***&***'),
    ('https://tok@sink/', 'https://***@sink/'),
    ('http://[::1]:5000/', 'http://[::1]:5000/'),
    ('http://sink/a?', 'http://sink/a'),
    ('postgresql://u:pa%zzss@127.0.0.1:1/db?password=p2&sslmode=require', 'postgresql://***@127.0.0.1:1/db?password=***&sslmode=***'),
    ('postgresql://a:b@c@host/db', 'postgresql://***@host/db'),
    ('http://example.com:99999/x', 'http://example.com:99999/x'),
    ('http://[::1/x?t=1', 'http://***'),
    (None, None), ('', ''),
])
def test_user_info_and_query_values_never_shown(url, shown):
    assert redact_url(url) == shown


def test_the_secrets_no_output_may_repeat():
    assert url_secrets('postgresql://u:pa%zzss@127.0.0.1:1/db', passwords_only=True) == ['pa%zzss']
    assert url_secrets('postgresql://u:p%41ss@h/db?password=q%42q&sslmode=x', passwords_only=True) == ['p%41ss', 'q%42q', 'pAss', 'qBq']
    assert url_secrets('postgresql://u@h/db', passwords_only=True) == []
    assert url_secrets('https://bot:pw@sink/h?access_token=t%2Bk&x') == ['t%2Bk', 'bot', 't+k', 'pw']
    assert url_secrets('http://sink/') == []
