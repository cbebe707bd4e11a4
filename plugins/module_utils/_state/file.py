# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The workflow state file: the record model of records.py in one JSON file on the controller.

Changes happen under an exclusive ``flock`` on the sidecar ``<path>.lock``
(a lock on the data file itself would be lost when the file is replaced),
opened without following a symbolic link, and are written atomically: a
temporary file in the same directory, fsync, then ``os.replace``. Readers
therefore never need the lock. State and lock are mode 0600 whatever they
were; a state file its group or others may write is refused, not trusted.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import json
import os
import stat
import tempfile
import uuid
from contextlib import contextmanager

from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import (
    STATE_FILE_VERSION,
    StateFileError,
    absent_in,
    migrate,
    progress_in,
    release_in,
    start_in,
    workflow_record,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._timestamps import utcnow

DEFAULT_STATE_PATH = '~/.ansible/vsphere_preemption_state.json'


class StateFile:
    """The state file at ``path`` (``~`` expanded).

    ``clock`` returns the current time as an aware UTC datetime and
    ``new_id`` a fresh run id; both are injectable for tests.
    """

    def __init__(self, path=DEFAULT_STATE_PATH, clock=utcnow, new_id=None):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.where = 'the state file %s' % self.path
        self.lock_path = self.path + '.lock'
        self.clock = clock
        self.new_id = new_id or (lambda: str(uuid.uuid4()))

    # -- reading

    def load(self):
        """The whole document; an absent or empty file is an empty document."""
        try:
            with open(self.path, 'rb') as handle:
                self._check_mode_bits(os.fstat(handle.fileno()).st_mode)
                raw = handle.read()
        except FileNotFoundError:
            return {'version': STATE_FILE_VERSION, 'workflows': {}}
        except IsADirectoryError:
            raise StateFileError('The state file %s is a directory; point path at a file.' % self.path) from None
        except OSError as exc:
            raise StateFileError('Cannot read the state file %s: %s.' % (self.path, exc.strerror or exc)) from None
        if not raw.strip():
            # An empty file is a new file (created ahead with `touch` to choose its owner or mode).
            return {'version': STATE_FILE_VERSION, 'workflows': {}}
        try:
            document = json.loads(raw.decode('utf-8'))
        except UnicodeDecodeError:
            raise StateFileError('The state file %s is not UTF-8 text; fix or move it away (it was left as it is).' % self.path) from None
        except ValueError as exc:
            raise StateFileError('The state file %s is not valid JSON (%s); fix or move it away (it was left as it is).'
                                 % (self.path, exc)) from None
        except RecursionError:
            raise StateFileError('The state file %s is not a vsphere.preemption state file (JSON nested too deeply); '
                                 'fix or move it away (it was left as it is).' % self.path) from None
        if not isinstance(document, dict) or not isinstance(document.get('workflows'), dict) \
                or not isinstance(document.get('events', {}), dict):
            raise StateFileError('The state file %s is not a vsphere.preemption state file (expected a JSON object with "workflows"); '
                                 'fix or move it away (it was left as it is).' % self.path)
        version = document.get('version')
        if not isinstance(version, int) or isinstance(version, bool) or version > STATE_FILE_VERSION:
            raise StateFileError('The state file %s has version %r; this collection reads version %d or older.'
                                 % (self.path, version, STATE_FILE_VERSION))
        return migrate(document)

    def _check_mode_bits(self, mode):
        """Refuse a state file others may write: whoever can write it decides which VMs are powered off and on."""
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StateFileError('The state file %s is writable by its group or by others (mode %04o), so it cannot be trusted; '
                                 'check its content, then fix it with: chmod 600 %s' % (self.path, stat.S_IMODE(mode), self.path))

    def record(self, workflow_id, document=None):
        """The record of ``workflow_id`` (a copy), or None."""
        return workflow_record(self.load() if document is None else document, workflow_id, self.where)

    # -- writing

    @contextmanager
    def locked(self):
        """Hold the exclusive lock; creates the directory and the lock file when missing."""
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except FileExistsError as exc:
            raise StateFileError('Cannot create the directory of the state file %s: %s exists and is not a directory.'
                                 % (self.path, exc.filename or directory)) from None
        except OSError as exc:
            raise StateFileError('Cannot create the directory of the state file %s: %s: %s.'
                                 % (self.path, exc.filename or directory, exc.strerror or exc)) from None
        try:
            # Never through a symbolic link: one planted there would make this create or truncate its target.
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StateFileError('Cannot lock the state file %s: its lock file %s is a symbolic link; remove it '
                                     '(the collection creates the lock file itself).' % (self.path, self.lock_path)) from None
            raise StateFileError('Cannot lock the state file %s: cannot create %s: %s.'
                                 % (self.path, self.lock_path, exc.strerror or exc)) from None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise StateFileError('Cannot lock the state file %s: its lock file %s is not a regular file; remove it.'
                                     % (self.path, self.lock_path))
            os.fchmod(descriptor, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            # Closing the descriptor releases the lock.
            os.close(descriptor)

    def write(self, document):
        """Replace the file atomically with ``document`` (call while holding `locked`)."""
        directory = os.path.dirname(self.path)
        # 0600 whatever the file was: the state names VMs, runs and events, and steers what is powered off and on.
        mode = 0o600
        payload = (json.dumps(document, indent=2, sort_keys=True) + '\n').encode('utf-8')
        temp_path = None
        try:
            descriptor, temp_path = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(self.path), suffix='.tmp')
            with os.fdopen(descriptor, 'wb') as handle:
                handle.write(payload)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(temp_path, self.path)
            temp_path = None
        except OSError as exc:
            raise StateFileError('Cannot write the state file %s: %s.' % (self.path, exc.strerror or exc)) from None
        finally:
            if temp_path is not None:
                try:
                    os.unlink(temp_path)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise
        self._sync_directory(directory)

    @staticmethod
    def _sync_directory(directory):
        """Make the rename itself durable; some filesystems cannot fsync a directory, which is fine."""
        try:
            descriptor = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(descriptor)
        except OSError:
            pass
        finally:
            os.close(descriptor)

    @contextmanager
    def _transaction(self, check_mode):
        """Yield the current document; write it back on exit if it changed (never in check mode)."""
        if check_mode:
            yield self.load()
            return
        with self.locked():
            document = self.load()
            before = copy.deepcopy(document)
            yield document
            if document != before:
                self.write(document)

    # -- the states of the workflow_state module

    def started(self, workflow_id, threshold, tag=None, criticality=None, trigger=None, event=None, event_id=None,
                results=None, check_mode=False):
        """Decide and, when the run proceeds, record it.

        Returns the `decide_start` dict plus ``run`` (the new run, or None when
        skipped), ``record`` (the workflow record afterwards), ``duplicate``
        (True when trigger event ``event_id`` already started a run of this
        workflow: then ``proceed`` is False whatever the threshold) and
        ``duplicate_of`` (that start: ``event_id``, ``workflow_id``, ``run_id``,
        ``started``; else None). Exactly one of several concurrent callers
        inside one threshold window proceeds. In check mode the decision is
        reported and nothing is written.
        """
        with self._transaction(check_mode) as document:
            return start_in(document, workflow_id, threshold, self.clock(), self.new_id, self.where, tag=tag,
                            criticality=criticality, trigger=trigger, event=event, event_id=event_id, results=results)

    def progress(self, workflow_id, run_id, results, finish=False, check_mode=False):
        """Merge ``results`` into run ``run_id`` (and mark it finished with ``finish``).

        Returns ``(changed, run, record)``.
        """
        with self._transaction(check_mode) as document:
            return progress_in(document, workflow_id, run_id, results, self.clock(), self.where, finish=finish)

    def finished(self, workflow_id, run_id, results, check_mode=False):
        """Mark run ``run_id`` finished with its final ``results``; ``(changed, run, record)``."""
        return self.progress(workflow_id, run_id, results, finish=True, check_mode=check_mode)

    def absent(self, workflow_id, check_mode=False):
        """Forget ``workflow_id``'s runs and threshold; ``(removed record or None, what is kept: its ledger or None)``.

        Seen trigger events are kept.
        """
        if workflow_id not in self.load()['workflows']:
            # Nothing to forget: take no lock, so the directory and the lock file are not created for nothing.
            return None, None
        with self._transaction(check_mode) as document:
            return absent_in(document, workflow_id, self.clock(), self.where)

    def release(self, workflow_id, report, check_mode=False):
        """Take restored VMs, and VMs found no longer ours, out of the ledger; ``(changed, record)``."""
        with self._transaction(check_mode) as document:
            return release_in(document, workflow_id, report, self.clock(), self.where)

    def workflow_ids(self):
        """The ids of every workflow with a record, sorted; reads without the lock."""
        return sorted(self.load()['workflows'])

    def query(self, workflow_id):
        """The record of ``workflow_id`` or None; reads without the lock (writes are atomic renames)."""
        return self.record(workflow_id)
