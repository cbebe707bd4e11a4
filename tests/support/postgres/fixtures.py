# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures for a real PostgreSQL (registered by tests/conftest.py as a plugin).

Fixtures
    postgres_server  (session)   a started tests.support.postgres.harness.PostgresServer, stopped at the end
    postgres_url     (function)  the URL (password included) of a new empty database for this test
"""

from __future__ import annotations

import pytest

from tests.support.postgres.harness import PostgresServer


@pytest.fixture(scope='session')
def postgres_server():
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    return postgres_server.create_database()
