# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures of the module_utils tests that talk HTTPS to a local fake.

    tls     (module)    a CA and a certificate for 127.0.0.1 (tests.support.vcsim.harness.generate_tls)
    server  (function)  a ScriptedServer (tests/support/json_server.py) on that certificate, which requests trusts
"""

from __future__ import annotations

import pytest

from tests.support.json_server import ScriptedServer
from tests.support.vcsim.harness import generate_tls


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    return generate_tls(tmp_path_factory.mktemp('tls'))


@pytest.fixture
def server(tls, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', tls.ca_file)
    monkeypatch.delenv('SSL_CERT_FILE', raising=False)
    srv = ScriptedServer(tls)
    yield srv
    srv.close()
