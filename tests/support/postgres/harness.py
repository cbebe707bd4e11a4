# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away PostgreSQL server for the state-backend tests.

Debian's ``postgresql`` package (installed with apt-get when missing and we are
root), ``initdb`` in a temporary directory, ``pg_ctl`` serving a Unix socket in
that directory and a free loopback port. The superuser ``postgres`` is trusted
on the socket (for set-up); TCP needs a password (scram-sha-256), so wrong
passwords are really refused. ``initdb`` refuses to run as root: as root the
server runs as the package's ``postgres`` user.

Python API::

    from tests.support.postgres.harness import PostgresServer

    with PostgresServer() as server:
        url = server.create_database()   # postgresql://preemption:<pw>@127.0.0.1:<port>/<db>
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import psycopg

from tests.support.machine import apt_install, free_port

APT_PACKAGES = ('postgresql',)
SERVICE_USER = 'postgres'
ROLE = 'preemption'
START_TIMEOUT = 60


class PostgresError(RuntimeError):
    """The server could not be installed, initialised or started."""


def _bin_dir():
    """The directory of initdb/pg_ctl: Debian's newest /usr/lib/postgresql/<N>/bin, else PATH."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda path: int(path.split('/')[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which('initdb')
    return os.path.dirname(initdb) if initdb else None


def _ensure_installed():
    directory = _bin_dir()
    if directory:
        return directory
    if os.geteuid() != 0:
        raise PostgresError('the PostgreSQL tests need initdb and pg_ctl: `sudo apt-get install -y %s`' % ' '.join(APT_PACKAGES))
    apt_install(APT_PACKAGES, PostgresError)
    directory = _bin_dir()
    if not directory:
        raise PostgresError('installed %s but initdb is still missing' % ' '.join(APT_PACKAGES))
    return directory


class PostgresServer:
    """One PostgreSQL server in a temporary directory; ``start()``/``stop()`` or a ``with`` block."""

    def __init__(self):
        self.bin_dir = None
        self.directory = None
        self.port = None
        self.password = uuid.uuid4().hex
        self._run_as = {}

    # -- processes

    def _run(self, *args):
        proc = subprocess.run([os.path.join(self.bin_dir, args[0]), *args[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False, timeout=START_TIMEOUT, cwd=self.directory, **self._run_as)
        if proc.returncode != 0:
            raise PostgresError('`%s` failed (rc=%d):\n%s%s' % (' '.join(args), proc.returncode, proc.stdout[-4000:], self._log_tail()))
        return proc.stdout

    def _log_tail(self):
        try:
            with open(os.path.join(self.directory, 'log'), encoding='utf-8', errors='replace') as handle:
                return '\nserver log:\n' + handle.read()[-4000:]
        except OSError:
            return ''

    def start(self):
        self.bin_dir = _ensure_installed()
        self.directory = tempfile.mkdtemp(prefix='preemption-pg-')
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_USER)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
            self._run_as = dict(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        superuser_password = os.path.join(self.directory, 'pwfile')
        with open(superuser_password, 'w', encoding='utf-8') as handle:
            handle.write(uuid.uuid4().hex + '\n')
        if self._run_as:
            os.chown(superuser_password, self._run_as['user'], self._run_as['group'])
        data = os.path.join(self.directory, 'data')
        self._run('initdb', '-D', data, '-U', SERVICE_USER, '-E', 'UTF8', '--no-sync', '--auth-local=trust',
                  '--auth-host=scram-sha-256', '--pwfile', superuser_password)
        atexit.register(self.stop)
        self.port = free_port()
        self._run('pg_ctl', '-D', data, '-l', os.path.join(self.directory, 'log'), '-w', '-t', str(START_TIMEOUT), 'start',
                  '-o', '-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' % (self.port, self.directory))
        with self.admin() as connection:
            connection.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (ROLE, self.password))
        return self

    def stop(self):
        if self.directory is None:
            return
        try:
            self._run('pg_ctl', '-D', os.path.join(self.directory, 'data'), '-m', 'immediate', '-w', 'stop')
        except PostgresError:
            pass  # never started, or already gone
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- using it

    def admin(self):
        """A superuser connection over the Unix socket (autocommit)."""
        return psycopg.connect(host=self.directory, port=self.port, user=SERVICE_USER, dbname='postgres', autocommit=True)

    def url(self, database, password=True, user=ROLE, port=None):
        secret = ':%s' % self.password if password else ''
        return 'postgresql://%s%s@127.0.0.1:%d/%s' % (user, secret, port or self.port, database)

    def create_database(self):
        """A new empty database owned by the test role; its URL, password included."""
        name = 'state_%s' % uuid.uuid4().hex[:12]
        with self.admin() as connection:
            connection.execute('CREATE DATABASE %s OWNER %s' % (name, ROLE))
        return self.url(name)
