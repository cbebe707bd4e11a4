# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The workflow state in PostgreSQL, shared by several controllers.

The same records as the state file (state_file.py), one row each, in one table
created on first use::

    vsphere_preemption_state(kind, name, body jsonb, updated)

``kind`` is ``workflow`` (``name`` the workflow id, ``body`` its record) or
``events`` (``name`` the vCenter, ``body`` its seen trigger events). Each state
change is one transaction that first takes a transaction-scoped advisory lock
on the workflow's vCenter, then reads, decides with the same pure functions as
the file and writes: of concurrent callers on any machine exactly one proceeds.
The time of a decision is the database server's, so controllers whose clocks
differ still share one threshold.

The password comes from the URL or from libpq's ``PGPASSWORD``/``PGPASSFILE``
and appears in no message: errors name the URL as `redact_url` shows it, and
whatever libpq repeats of the password is masked.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit
import uuid

from ansible_collections.vsphere.preemption.plugins.module_utils._state.records import (
    STATE_FILE_VERSION,
    StateError,
    absent_in,
    progress_in,
    release_in,
    start_in,
    vcenter_of,
    workflow_record,
)
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url, url_secrets

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError as exc:
    PSYCOPG_IMPORT_ERROR = exc
else:
    PSYCOPG_IMPORT_ERROR = None

SCHEMES = ('postgresql', 'postgres')
TABLE = 'vsphere_preemption_state'
CONNECT_TIMEOUT = 10
LOCK_TIMEOUT = '30s'
LOCK_PREFIX = 'vsphere.preemption:'
# SQLSTATE classes (and codes) another attempt may cure: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention (shutdown), system error,
# and a lock wait that timed out.
RETRYABLE_SQLSTATE_CLASSES = ('08', '40', '53', '57', '58')
RETRYABLE_SQLSTATES = ('55P03',)
CREATE_TABLE = '''CREATE TABLE IF NOT EXISTS %s (
    kind text NOT NULL CHECK (kind IN ('workflow', 'events')),
    name text NOT NULL,
    body jsonb NOT NULL,
    updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name))''' % TABLE


class StateDatabaseError(StateError):
    """The state database cannot be reached, entered or used; ``retryable`` says whether to try again."""

    def __init__(self, message, retryable):
        super().__init__(message, retryable=retryable)


def _retryable(exc):
    """Whether another attempt may cure an error raised on an open connection."""
    state = exc.sqlstate
    if state is None:
        # No SQLSTATE: the connection itself broke (server gone, network).
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in RETRYABLE_SQLSTATE_CLASSES or state in RETRYABLE_SQLSTATES


class StateDatabase:
    """The workflow state in the PostgreSQL database at ``url`` (``postgresql://user[:password]@host[:port]/dbname[?...]``).

    Same methods, arguments and results as `StateFile`. ``path`` (and ``where``) name the
    database in messages, without the password. ``clock`` returns the current time as an aware UTC
    datetime (default: the database server's clock) and ``new_id`` a fresh run id.
    """

    def __init__(self, url, clock=None, new_id=None):
        scheme = urlsplit(url).scheme if isinstance(url, str) else None
        if scheme not in SCHEMES:
            raise StateDatabaseError('The state url must be a postgresql:// URL (postgresql://user@host:port/dbname), '
                                     'not one with the scheme %r.' % scheme, retryable=False)
        self.url = url
        self.path = redact_url(url)
        self.where = 'the state database %s' % self.path
        self.clock = clock
        self.new_id = new_id or (lambda: str(uuid.uuid4()))
        self._passwords = url_secrets(url, passwords_only=True)
        self._table_ready = False

    # -- the connection

    def _error(self, exc, template, retryable):
        """A StateDatabaseError from ``template`` (with %(url)s and %(detail)s): one line, no password."""
        detail = ' '.join(str(exc).split())
        for password in self._passwords:
            # libpq may echo parts of a malformed connection string.
            detail = detail.replace(password, '********')
        return StateDatabaseError(template % dict(url=self.path, detail=detail), retryable=retryable)

    def _connect(self):
        if PSYCOPG_IMPORT_ERROR is not None:
            raise StateDatabaseError('The PostgreSQL state backend needs the psycopg (3) Python library on the controller: '
                                     "pip install 'psycopg[binary]' (%s)." % PSYCOPG_IMPORT_ERROR, retryable=False)
        options = dict(autocommit=True, application_name='vsphere.preemption')
        if 'connect_timeout' not in dict(parse_qsl(urlsplit(self.url).query)):
            options['connect_timeout'] = CONNECT_TIMEOUT
        try:
            return psycopg.connect(self.url, **options)
        except psycopg.OperationalError as exc:
            pgconn = exc.pgconn
            if pgconn is not None and (pgconn.used_password or pgconn.needs_password):
                # The server answered and asked for a password: what failed after that is the password,
                # the user or the database, none of which another attempt cures.
                raise self._error(exc, 'The state database %(url)s refused the connection: %(detail)s; check the user, the password '
                                  '(in the URL, PGPASSWORD or PGPASSFILE) and the database name.', retryable=False) from None
            raise self._error(exc, 'Cannot connect to the state database %(url)s: %(detail)s', retryable=True) from None
        except psycopg.Error as exc:
            raise self._error(exc, 'Invalid state database URL %(url)s: %(detail)s', retryable=False) from None

    @contextmanager
    def _session(self):
        """An open connection; database errors become StateDatabaseError."""
        connection = self._connect()
        try:
            yield connection
        except psycopg.Error as exc:
            raise self._error(exc, 'The state database %(url)s failed: %(detail)s', retryable=_retryable(exc)) from None
        finally:
            connection.close()

    # -- rows <-> document

    @staticmethod
    def _table_exists(connection):
        return connection.execute('SELECT to_regclass(%s)', (TABLE,)).fetchone()[0] is not None

    def _create_table(self, connection):
        """Create the table unless it exists (inside the caller's transaction, serialized between creators)."""
        if self._table_ready or self._table_exists(connection):
            self._table_ready = True
            return
        connection.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (LOCK_PREFIX + 'create',))
        connection.execute(CREATE_TABLE)
        self._table_ready = True

    def _load(self, connection, workflow_id):
        """The part of the state document ``workflow_id`` needs: its record and its vCenter's seen events."""
        document = {'version': STATE_FILE_VERSION, 'workflows': {}, 'events': {}}
        if not (self._table_ready or self._table_exists(connection)):
            return document
        rows = connection.execute(
            "SELECT kind, name, body FROM %s WHERE (kind = 'workflow' AND name = %%s) OR (kind = 'events' AND name = %%s)" % TABLE,
            (workflow_id, vcenter_of(workflow_id))).fetchall()
        for kind, name, body in rows:
            document['workflows' if kind == 'workflow' else 'events'][name] = body
        return document

    @staticmethod
    def _save(connection, before, after):
        """Write the rows of ``after`` that differ from ``before``; a row gone from ``after`` is deleted."""
        for kind, section in (('workflow', 'workflows'), ('events', 'events')):
            for name in set(before[section]) | set(after[section]):
                body = after[section].get(name)
                if body == before[section].get(name):
                    continue
                if body is None:
                    connection.execute('DELETE FROM %s WHERE kind = %%s AND name = %%s' % TABLE, (kind, name))
                else:
                    connection.execute(
                        'INSERT INTO %s (kind, name, body) VALUES (%%s, %%s, %%s) '
                        'ON CONFLICT (kind, name) DO UPDATE SET body = EXCLUDED.body, updated = now()' % TABLE,
                        (kind, name, Jsonb(body)))

    def _now(self, connection):
        return self.clock() if self.clock else connection.execute('SELECT clock_timestamp()').fetchone()[0]

    def _change(self, workflow_id, check_mode, change):
        """``change(document, now)`` under the vCenter's lock in one transaction; in check mode nothing is written."""
        with self._session() as connection:
            if check_mode:
                return change(self._load(connection, workflow_id), self._now(connection))
            with connection.transaction():
                self._create_table(connection)
                connection.execute("SET LOCAL lock_timeout = '%s'" % LOCK_TIMEOUT)
                connection.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (LOCK_PREFIX + vcenter_of(workflow_id),))
                document = self._load(connection, workflow_id)
                before = copy.deepcopy(document)
                result = change(document, self._now(connection))
                self._save(connection, before, document)
            return result

    # -- the states of the workflow_state module (see StateFile)

    def started(self, workflow_id, threshold, tag=None, criticality=None, trigger=None, event=None, event_id=None,
                results=None, check_mode=False):
        """As `StateFile.started`."""
        return self._change(workflow_id, check_mode, lambda document, now: start_in(
            document, workflow_id, threshold, now, self.new_id, self.where, tag=tag, criticality=criticality,
            trigger=trigger, event=event, event_id=event_id, results=results))

    def progress(self, workflow_id, run_id, results, finish=False, check_mode=False):
        """As `StateFile.progress`: ``(changed, run, record)``."""
        return self._change(workflow_id, check_mode, lambda document, now: progress_in(
            document, workflow_id, run_id, results, now, self.where, finish=finish))

    def finished(self, workflow_id, run_id, results, check_mode=False):
        """As `StateFile.finished`: ``(changed, run, record)``."""
        return self.progress(workflow_id, run_id, results, finish=True, check_mode=check_mode)

    def absent(self, workflow_id, check_mode=False):
        """As `StateFile.absent`: ``(removed record or None, kept ledger record or None)``. Seen trigger events are kept."""
        if self._stored_record(workflow_id) is None:
            # Nothing to forget: create no table for nothing.
            return None, None
        return self._change(workflow_id, check_mode, lambda document, now: absent_in(document, workflow_id, now, self.where))

    def release(self, workflow_id, report, check_mode=False):
        """As `StateFile.release`: ``(changed, record)``."""
        return self._change(workflow_id, check_mode, lambda document, now: release_in(document, workflow_id, report, now, self.where))

    def _stored_record(self, workflow_id):
        """The stored record of ``workflow_id`` as it is (not checked: forgetting is the way out of a malformed one)."""
        with self._session() as connection:
            return self._load(connection, workflow_id)['workflows'].get(workflow_id)

    def workflow_ids(self):
        """As `StateFile.workflow_ids`: the ids of every workflow with a record, sorted."""
        with self._session() as connection:
            if not (self._table_ready or self._table_exists(connection)):
                return []
            rows = connection.execute("SELECT name FROM %s WHERE kind = 'workflow' ORDER BY name" % TABLE).fetchall()
            return [name for (name,) in rows]

    def query(self, workflow_id):
        """As `StateFile.query`: the record of ``workflow_id`` or None."""
        with self._session() as connection:
            return workflow_record(self._load(connection, workflow_id), workflow_id, self.where)
