# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One "controller" calling the workflow state, in a process of its own, for the multi-controller tests.

    python tests/support/postgres/controller.py URL METHOD 'JSON KWARGS' [--die-before-commit]

prints the JSON result of ``open_state(url=URL).METHOD(**KWARGS)``. The password
comes from the environment (PGPASSWORD/PGPASSFILE), as on an execution node.
``--die-before-commit`` kills the process with SIGKILL inside the transaction,
after the decision and before anything is written.
"""

from __future__ import annotations

import json
import os
import signal
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO_ROOT, '.build', 'collections'))

from ansible_collections.vsphere.preemption.plugins.module_utils._state import postgres as state_postgres  # noqa: E402
from ansible_collections.vsphere.preemption.plugins.module_utils._state.store import open_state  # noqa: E402


def _die_after(change):
    def changed_then_killed(*args, **kwargs):
        change(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return changed_then_killed


def main(argv):
    url, method, kwargs = argv[0], argv[1], json.loads(argv[2])
    if '--die-before-commit' in argv:
        state_postgres.start_in = _die_after(state_postgres.start_in)
        state_postgres.progress_in = _die_after(state_postgres.progress_in)
    result = getattr(open_state(url=url), method)(**kwargs)
    json.dump(result, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
