# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The process umask set for a while: under 022, a file created 0600 is the code's doing, not the umask's."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def umask(mask=0o022):
    """Set the process umask (inherited by the commands started meanwhile), restore it after."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)
