# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest fixtures: a vCenter simulator per test module.

Fixtures
    vcsim_binary  (session)  path of the vcsim binary, built once from tests/support/vcsim/main.go if needed
    vcsim         (module)   a started tests.support.vcsim.harness.Simulator, stopped after the module
    vcenter       (module)   a tests.support.vcsim.harness.VCenterClient connected to ``vcsim``
    postgres_server, postgres_url   a real PostgreSQL (tests/support/postgres/fixtures.py)
    umask_022     (function) the process umask set to 022 (inherited by commands the test starts), so a file
                             mode of 0600 is the code's doing, not the umask's

Shape the inventory per test module with either
    VCSIM_OPTIONS = dict(vms=3, tools_running='all', method_delay={'PowerOffVM_Task': 500})
or a module-level marker (which wins over VCSIM_OPTIONS for the keys it sets)
    pytestmark = pytest.mark.vcsim(vms=3, tools_running=['DC0_C0_RP0_VM0'])
The keywords are those of Simulator(). Markers on single tests cannot change the
module-scoped simulator; start a Simulator yourself for that.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.process_umask import umask  # noqa: E402
from tests.support.vcsim import harness  # noqa: E402

# The PostgreSQL fixtures (postgres_server, postgres_url) for the state-backend suites.
pytest_plugins = ('tests.support.postgres.fixtures',)


def pytest_configure(config):
    config.addinivalue_line('markers', 'vcsim(**options): Simulator() keywords for the module-scoped vcsim fixture')
    config.pluginmanager.register(_UnprovenGuard(), 'vsphere-preemption-unproven-guard')


@pytest.fixture(scope='session')
def vcsim_binary() -> str:
    """The vcsim to run ($VCSIM, a vcsim on PATH, or our build of tests/support/vcsim/main.go), built at most once."""
    return harness.vcsim_binary()


def vcsim_options(node) -> dict:
    """Simulator() keywords for a test module: its VCSIM_OPTIONS, updated by its vcsim marker(s)."""
    module = getattr(node, 'module', None)
    options = dict(getattr(module, 'VCSIM_OPTIONS', None) or {})
    for marker in reversed(list(node.iter_markers('vcsim'))):
        options.update(marker.kwargs)
    return options


@pytest.fixture(scope='module')
def vcsim(request, vcsim_binary, tmp_path_factory):
    """A fresh simulator for this test module (logs, CA and certificates under pytest's tmp dir)."""
    options = vcsim_options(request.node)
    options.setdefault('binary', vcsim_binary)
    options.setdefault('workdir', str(tmp_path_factory.mktemp('vcsim')))
    sim = harness.Simulator(**options)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def umask_022():
    with umask(0o022):
        yield


@pytest.fixture(scope='module')
def vcenter(vcsim):
    """pyvmomi + REST helper client on the module's simulator."""
    client = harness.VCenterClient(vcsim)
    try:
        yield client
    finally:
        client.close()


class _UnprovenGuard:
    """A skipped, xfailed or xpassed test proves nothing: the run fails when there is one.

    Counted from the reports themselves, so it holds with or without a terminal reporter (-p no:terminal,
    xdist workers, plugins that replace it).
    """

    def __init__(self):
        self.nodeids = []

    def _note(self, report):
        if report.skipped or hasattr(report, 'wasxfail'):
            self.nodeids.append(report.nodeid)

    def pytest_runtest_logreport(self, report):
        self._note(report)

    def pytest_collectreport(self, report):
        self._note(report)

    def pytest_sessionfinish(self, session, exitstatus):
        if not self.nodeids or exitstatus != 0:
            return
        message = 'FAILED: tests that did not run or prove anything: %s' % ', '.join(sorted(set(self.nodeids)))
        reporter = session.config.pluginmanager.get_plugin('terminalreporter')
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            sys.stderr.write(message + '\n')
        session.exitstatus = 1
