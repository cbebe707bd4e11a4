# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vCenter simulator (vcsim) harness for the vsphere.preemption tests and demo.

Builds and runs govmomi's vCenter simulator (``tests/support/vcsim/main.go``, or an
official ``vcsim`` given by ``$VCSIM`` or found on ``PATH``) over HTTPS with a
certificate signed by a CA generated per run, so ``validate_certs: true`` is
exercised, and offers a small pyvmomi + REST client for test set-up and checks.

Python API::

    from tests.support.vcsim.harness import Simulator, VCenterClient

    with Simulator(vms=2, tools_running=['DC0_C0_RP0_VM0']) as sim:
        env = sim.env()                  # VMWARE_* + REQUESTS_CA_BUNDLE/SSL_CERT_FILE
        client = VCenterClient(sim)
        tag = client.create_tag('preemptible', client.create_category('preemption'))
        client.attach_tag(tag, client.vm('DC0_C0_RP0_VM0')._moId)

Command line::

    python tests/support/vcsim/harness.py build
    python tests/support/vcsim/harness.py run --vms 3 --tools-running all [--env-file FILE]

Default inventory (vms=2, hosts=3, clusters=1, standalone_hosts=1): datacenter
``DC0``; cluster ``DC0_C0`` (moid ``clustercomputeresource-27``, not ``domain-c*``)
with hosts ``DC0_C0_H0..2``; standalone host ``DC0_H0`` (``host-21``); VMs
``DC0_H0_VM0/1`` (``vm-57``/``vm-60``, on the standalone host) and
``DC0_C0_RP0_VM0/1`` (``vm-63``/``vm-66``, in the cluster), all powered on.
Look moids up by name (``VCenterClient.moid``): they shift with the counts.
See main.go for the full layout.

vcsim 0.24 quirks (checked against this harness):

- pyvmomi attribute access to an UNSET property (``template.resourcePool``,
  ``vm.snapshot``...) makes vcsim's PropertyCollector.Fetch panic and drop the
  connection (RemoteDisconnected); use a PropertyCollector retrieve instead
  (``VCenterClient.get``/``vms``), which simply omits unset properties.
- ``ShutdownGuest`` does not look at VMware Tools: it powers the VM off at once
  (InvalidPowerState when already off). Tools status never changes by itself:
  ``-tools-running`` VMs still say guestToolsRunning after power-off.
- ``MarkAsTemplate`` works (the VM must be powered off); ``PowerOnVM_Task`` on a
  template then fails with InvalidState; its resourcePool becomes unset.
- ``CustomFieldsManager.SetField`` appends a new entry to ``customValue`` and
  ``value`` instead of replacing: read the LAST entry for a key.
  ``summary.customValue`` stays empty. A field defined without ``moType`` gets an
  empty ``type`` that pyvmomi refuses to deserialize, so always pass moType.
- ``-method-delay`` delays the SOAP response of the method itself (a
  ``PowerOffVM_Task`` call returns after the delay; the task is then already done).
  The sleep happens outside the object lock, so concurrent calls overlap: four
  parallel power-offs with a 600 ms delay take about 0.6 s in all.
- REST: only ``/rest/com/vmware/cis/...`` exists (``/api/...`` is 404). Session
  login accepts any non-empty user/password (SOAP enforces -username/-password).
  Tagging: category/tag create/get/list/delete, tag-association ``attach``,
  ``detach``, ``list-attached-objects``, ``attach-tag-to-multiple-objects``,
  ``list-attached-tags``, ``list-attached-objects-on-tags``,
  ``list-attached-tags-on-objects``, ``attach-multiple-tags-to-object``.
  ``detach-multiple-tags-from-object`` answers success but the objects stay listed.
  ``list-attached-objects-on-tags`` with an unknown tag id gives an empty list,
  not an error; ``attach`` does not check that the object exists. ``GET`` of an
  empty tag list gives ``{"value": null}``. Result order is random.
- A PropertyCollector retrieve naming a moid that does not exist fails as a
  whole with ManagedObjectNotFound (as real vCenter does).
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import datetime
import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent.parent
if __name__ == '__main__':
    sys.path.insert(0, str(REPO_ROOT))   # run as a script: tests.support from this checkout

from tests.support.machine import apt_install  # noqa: E402

MAIN_GO = HERE / 'main.go'
BUILD_DIR = REPO_ROOT / '.build' / 'vcsim'
GOPATH = '/usr/share/gocode'
GOVMOMI_SIMULATOR_SRC = Path(GOPATH) / 'src' / 'github.com' / 'vmware' / 'govmomi' / 'simulator'
APT_PACKAGES = ('golang-go', 'golang-github-vmware-govmomi-dev')
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

_GOVC_URL_RE = re.compile(r'GOVC_URL=(\S+)')

TLSFiles = collections.namedtuple('TLSFiles', ['ca_file', 'cert_file', 'key_file'])


class VcsimError(RuntimeError):
    """The simulator could not be built, started or talked to."""


# --------------------------------------------------------------------------- build

def _go_executable() -> str | None:
    found = shutil.which('go')
    if found:
        return found
    for candidate in ('/usr/lib/go/bin/go', '/usr/lib/go-1.19/bin/go'):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _ensure_toolchain() -> str:
    """Return the go executable, installing Debian's Go and govmomi sources when missing (as root)."""
    go = _go_executable()
    if go and GOVMOMI_SIMULATOR_SRC.is_dir():
        return go
    if os.geteuid() != 0:
        raise VcsimError(
            'building the vCenter simulator needs Go and the govmomi sources; install them with '
            '`sudo apt-get install -y %s` (or set VCSIM=/path/to/vcsim, or put a vcsim on PATH)' % ' '.join(APT_PACKAGES))
    apt_install(APT_PACKAGES, VcsimError)
    go = _go_executable()
    if not go or not GOVMOMI_SIMULATOR_SRC.is_dir():
        raise VcsimError('installed %s but go or %s is still missing' % (' '.join(APT_PACKAGES), GOVMOMI_SIMULATOR_SRC))
    return go


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a+') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_vcsim(force: bool = False) -> str:
    """Build ``<repo>/.build/vcsim/vcsim`` from main.go unless it is newer than main.go; return its path."""
    out = BUILD_DIR / 'vcsim'
    with _file_lock(BUILD_DIR / '.lock'):
        if not force and out.is_file() and out.stat().st_mtime >= MAIN_GO.stat().st_mtime:
            return str(out)
        go = _ensure_toolchain()
        env = dict(os.environ, GOPATH=GOPATH, GO111MODULE='off', GOFLAGS='', GOCACHE=str(BUILD_DIR / 'gocache'))
        if not shutil.which('gcc') and not shutil.which('cc'):
            env['CGO_ENABLED'] = '0'
        tmp = out.with_name('vcsim.tmp.%d' % os.getpid())
        proc = subprocess.run([go, 'build', '-o', str(tmp), str(MAIN_GO)], cwd=str(REPO_ROOT), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise VcsimError('go build of %s failed (rc=%d):\n%s' % (MAIN_GO, proc.returncode, proc.stdout[-4000:]))
        os.replace(tmp, out)
        return str(out)


def vcsim_binary() -> str:
    """Path of the vcsim to run: ``$VCSIM``, else ``vcsim`` on PATH, else our build of main.go."""
    env_bin = os.environ.get('VCSIM')
    if env_bin:
        if not (os.path.isfile(env_bin) and os.access(env_bin, os.X_OK)):
            raise VcsimError('VCSIM=%s is not an executable file' % env_bin)
        return env_bin
    on_path = shutil.which('vcsim')
    if on_path:
        return on_path
    return build_vcsim()


# --------------------------------------------------------------------------- TLS

def _new_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_pem(path: Path, data: bytes, private: bool = False) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    return str(path)


def _make_ca(common_name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'vsphere.preemption tests'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def generate_ca(directory, name: str = 'other-ca') -> str:
    """Write a fresh self-signed CA certificate ``<directory>/<name>.pem`` (unrelated to any server); return its path.

    Used for the "wrong CA" tests: a client trusting only this CA must refuse the simulator.
    """
    from cryptography.hazmat.primitives import serialization

    _key, cert = _make_ca('vsphere.preemption unrelated test CA')
    return _write_pem(Path(directory) / ('%s.pem' % name), cert.public_bytes(serialization.Encoding.PEM))


def generate_tls(directory) -> TLSFiles:
    """Write ``ca.pem``, ``server.pem`` and ``server-key.pem`` into directory; return their paths as TLSFiles.

    The server certificate is for 127.0.0.1 and localhost (SAN IP and DNS), signed by the new CA.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    ca_key, ca_cert = _make_ca('vsphere.preemption test CA')
    key = _new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
                                                    x509.DNSName('localhost')]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    return TLSFiles(
        ca_file=_write_pem(directory / 'ca.pem', ca_cert.public_bytes(pem)),
        cert_file=_write_pem(directory / 'server.pem', cert.public_bytes(pem)),
        key_file=_write_pem(directory / 'server-key.pem', key_pem, private=True),
    )


# --------------------------------------------------------------------------- simulator

def _pdeathsig():
    """Child side of Popen: ask Linux to SIGTERM the simulator when the parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort only
        pass


class Simulator:
    """A vcsim process serving HTTPS on 127.0.0.1 with a generated CA.

    ``vms`` VMs per resource pool, ``hosts`` hosts per cluster, ``clusters`` and
    ``standalone_hosts`` per datacenter (the official vcsim flags -vm, -host,
    -cluster, -standalone-host). ``tools_running``: None, ``'all'`` or a list
    of VM names reporting VMware Tools running. ``method_delay``: ``{method: ms}``
    (e.g. ``{'PowerOffVM_Task': 500}``) delaying the SOAP response of those methods.
    ``task_duration``: ``{method: ms}`` (``PowerOffVM_Task``, ``PowerOnVM_Task``,
    ``ShutdownGuest``...) answered at once and completed that long afterwards, as
    vCenter does (vcsim 0.24 completes a task inside the call); our main.go only.
    """

    def __init__(self, vms: int = 2, hosts: int = 3, clusters: int = 1, standalone_hosts: int = 1,
                 tools_running=None, method_delay: dict | None = None, username: str = 'user',
                 password: str = 'pass', workdir=None, datacenters: int = 1, pools: int = 0,
                 delay: int = 0, port: int = 0, binary: str | None = None, extra_args=(), task_duration: dict | None = None):
        self.vms = vms
        self.hosts = hosts
        self.clusters = clusters
        self.standalone_hosts = standalone_hosts
        self.datacenters = datacenters
        self.pools = pools
        self.tools_running = tools_running
        self.method_delay = dict(method_delay or {})
        self.task_duration = dict(task_duration or {})
        self.delay = delay
        self.username = username
        self.password = password
        self.workdir = workdir
        self.requested_port = port
        self.binary = binary
        self.extra_args = list(extra_args)
        self.host = '127.0.0.1'
        self.port: int | None = None
        self.url: str | None = None
        self.pid: int | None = None
        self.ca_file: str | None = None
        self.tls: TLSFiles | None = None
        self.process: subprocess.Popen | None = None
        self._own_workdir = False
        self._stdout = None
        self._stderr = None

    # -- command line
    def _tools_running_arg(self) -> str | None:
        value = self.tools_running
        if value is None or value is False or value == 'none':
            return None
        if value is True or value == 'all':
            return 'all'
        if isinstance(value, str):
            return value
        names = [str(n) for n in value]
        if not names:
            return None
        if any(',' in n for n in names):
            raise ValueError('VM names in tools_running cannot contain a comma: %r' % names)
        return ','.join(names)

    def command(self) -> list[str]:
        if self.tls is None:
            raise VcsimError('command() needs the TLS files: call start()')
        args = [
            self.binary or vcsim_binary(),
            '-l', '%s:%d' % (self.host, self.requested_port),
            '-dc', str(self.datacenters),
            '-cluster', str(self.clusters),
            '-host', str(self.hosts),
            '-standalone-host', str(self.standalone_hosts),
            '-vm', str(self.vms),
            '-pool', str(self.pools),
            '-username', self.username,
            '-password', self.password,
            '-tlscert', self.tls.cert_file,
            '-tlskey', self.tls.key_file,
        ]
        if self.delay:
            args += ['-delay', str(int(self.delay))]
        if self.method_delay:
            args += ['-method-delay', ','.join('%s:%d' % (m, int(ms)) for m, ms in self.method_delay.items())]
        if self.task_duration:
            args += ['-task-duration', ','.join('%s:%d' % (m, int(ms)) for m, ms in self.task_duration.items())]
        tools = self._tools_running_arg()
        if tools is not None:
            args += ['-tools-running', tools]
        return args + self.extra_args

    # -- life cycle
    def _log_text(self) -> str:
        parts = []
        for handle in (self._stdout, self._stderr):
            if handle is not None:
                with contextlib.suppress(OSError, ValueError):
                    handle.flush()
                with contextlib.suppress(OSError):
                    with open(handle.name, errors='replace') as reader:
                        parts.append(reader.read()[-4000:])
        return '\n'.join(p for p in parts if p)

    def start(self, timeout: float = START_TIMEOUT) -> 'Simulator':
        if self.process is not None and self.process.poll() is None:
            return self
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix='vcsim-')
            self._own_workdir = True
        workdir = Path(self.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.tls = generate_tls(workdir)
        self.ca_file = self.tls.ca_file
        cmd = self.command()
        self._stdout = open(workdir / 'vcsim.stdout', 'w+')
        self._stderr = open(workdir / 'vcsim.stderr', 'w+')
        in_main_thread = threading.current_thread() is threading.main_thread()
        # cwd=workdir: vcsim reads -username/-password as file names when such files exist.
        self.process = subprocess.Popen(cmd, cwd=str(workdir), stdin=subprocess.DEVNULL, stdout=self._stdout,
                                        stderr=self._stderr, preexec_fn=_pdeathsig if in_main_thread and sys.platform == 'linux' else None)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        line = None
        while time.monotonic() < deadline:
            with open(self._stdout.name, errors='replace') as reader:
                match = _GOVC_URL_RE.search(reader.read())
            if match:
                line = match.group(1)
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        if line is None:
            rc = self.process.poll()
            logs = self._log_text()
            self.stop()
            hint = ''
            if '-tools-running' in cmd and 'flag provided but not defined' in logs:
                hint = '\n(-tools-running needs the harness build of tests/support/vcsim/main.go, not the official vcsim)'
            raise VcsimError('vcsim %s before printing GOVC_URL (command: %s)\n%s%s' % (
                'exited with rc=%s' % rc if rc is not None else 'did not start within %ss' % timeout,
                ' '.join(shlex.quote(c) for c in cmd), logs, hint))
        parsed = urllib.parse.urlsplit(line)
        self.port = parsed.port
        self.pid = self.process.pid
        self.url = urllib.parse.urlunsplit((parsed.scheme, '%s:%d' % (self.host, self.port), parsed.path or '/sdk', '', ''))
        if parsed.scheme != 'https':
            self.stop()
            raise VcsimError('vcsim is not serving HTTPS: %s' % line)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the simulator: SIGTERM, then SIGKILL after 5 s. Safe to call more than once."""
        proc = self.process
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait()
            atexit.unregister(self.stop)
        for handle in (self._stdout, self._stderr):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        if self._own_workdir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._own_workdir = False

    def __enter__(self) -> 'Simulator':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- consumers
    def env(self, validate_certs: bool = True) -> dict:
        """Environment for Ansible modules/playbooks (VMWARE_* fallbacks) and for TLS trust of our CA."""
        if self.port is None:
            raise VcsimError('the simulator is not started')
        return {
            'VMWARE_HOST': self.host,
            'VMWARE_PORT': str(self.port),
            'VMWARE_USER': self.username,
            'VMWARE_PASSWORD': self.password,
            'VMWARE_VALIDATE_CERTS': 'true' if validate_certs else 'false',
            'REQUESTS_CA_BUNDLE': self.ca_file,
            'SSL_CERT_FILE': self.ca_file,
        }

    def ssl_context(self, validate_certs: bool = True) -> ssl.SSLContext:
        if not validate_certs:
            return ssl._create_unverified_context()
        return ssl.create_default_context(cafile=self.ca_file)

    def set_usage(self, vms: dict | None = None, hosts: dict | None = None, clusters: dict | None = None) -> None:
        """Set CPU and memory usage, which vcsim 0.24 leaves empty; our main.go only (POST /preemption-test/usage).

        ``vms``/``hosts``: ``{name: {'cpu_mhz': ..., 'memory_mb': ...}}`` (a VM's
        summary.quickStats overallCpuUsage/hostMemoryUsage, a host's
        overallCpuUsage/overallMemoryUsage); ``clusters``: the same keys plus
        ``cpu_capacity_mhz``/``memory_capacity_mb`` (its summary.usageSummary).
        Keys left out keep their value. Power operations do not change them.
        """
        import json
        import urllib.request

        body = json.dumps({'vms': vms or {}, 'hosts': hosts or {}, 'clusters': clusters or {}}).encode()
        request = urllib.request.Request('https://%s:%d/preemption-test/usage' % (self.host, self.port), data=body,
                                         method='POST', headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, context=self.ssl_context(), timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise VcsimError('setting usage failed: HTTP %d %s' % (exc.code, exc.read().decode(errors='replace'))) from None

    def port_is_free(self) -> bool:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                return False
            return True


# --------------------------------------------------------------------------- client

class VCenterClient:
    """pyvmomi + /rest helpers against a started Simulator (or anything with host/port/username/password/ca_file)."""

    REST = '/rest/com/vmware/cis'

    def __init__(self, sim: Simulator, validate_certs: bool = True):
        import requests
        from pyVim.connect import SmartConnect

        self.sim = sim
        self.base = 'https://%s:%d' % (sim.host, sim.port)
        self.verify = sim.ca_file if validate_certs else False
        context = ssl.create_default_context(cafile=sim.ca_file) if validate_certs else ssl._create_unverified_context()
        self.si = SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, sslContext=context)
        self.content = self.si.RetrieveContent()
        self.http = requests.Session()
        self.http.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE: verify= is given on each request
        resp = self.http.post(self.base + self.REST + '/session', auth=(sim.username, sim.password),
                              verify=self.verify, timeout=30)
        if resp.status_code != 200:
            raise VcsimError('REST login failed: HTTP %d %s' % (resp.status_code, resp.text))
        self.session_id = resp.json()['value']
        self.http.headers['vmware-api-session-id'] = self.session_id

    # -- REST
    def rest(self, method: str, path: str, json=None, params=None):
        """Call ``/rest/com/vmware/cis<path>``; return the response's ``value`` (None when empty)."""
        resp = self.http.request(method, self.base + self.REST + path, json=json, params=params,
                                 verify=self.verify, timeout=30)
        if resp.status_code >= 300:
            raise VcsimError('%s %s: HTTP %d %s' % (method, path, resp.status_code, resp.text))
        if not resp.content:
            return None
        return resp.json().get('value')

    def create_category(self, name: str, cardinality: str = 'MULTIPLE', associable_types=()) -> str:
        spec = {'name': name, 'description': '', 'cardinality': cardinality, 'associable_types': list(associable_types)}
        return self.rest('POST', '/tagging/category', json={'create_spec': spec})

    def create_tag(self, name: str, category_id: str) -> str:
        spec = {'name': name, 'description': '', 'category_id': category_id}
        return self.rest('POST', '/tagging/tag', json={'create_spec': spec})

    def attach_tag(self, tag_id: str, vm_moid: str, object_type: str = 'VirtualMachine') -> None:
        self.rest('POST', '/tagging/tag-association/id:%s' % tag_id, params={'~action': 'attach'},
                  json={'object_id': {'type': object_type, 'id': vm_moid}})

    def detach_tag(self, tag_id: str, vm_moid: str, object_type: str = 'VirtualMachine') -> None:
        self.rest('POST', '/tagging/tag-association/id:%s' % tag_id, params={'~action': 'detach'},
                  json={'object_id': {'type': object_type, 'id': vm_moid}})

    def attached_objects(self, tag_ids) -> dict:
        """``{tag_id: [{'type': ..., 'id': ...}, ...]}`` via list-attached-objects-on-tags."""
        if isinstance(tag_ids, str):
            tag_ids = [tag_ids]
        value = self.rest('POST', '/tagging/tag-association', params={'~action': 'list-attached-objects-on-tags'},
                          json={'tag_ids': list(tag_ids)}) or []
        return {item['tag_id']: list(item.get('object_ids') or []) for item in value}

    # -- inventory
    def _view(self, vimtype):
        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vimtype], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def _retrieve(self, vimtype, paths) -> list[dict]:
        from pyVmomi import vim, vmodl

        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vimtype], True)
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view, skip=True,
                    selectSet=[vmodl.query.PropertyCollector.TraversalSpec(name='view', path='view', skip=False,
                                                                           type=vim.view.ContainerView)])],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vimtype, pathSet=list(paths))])
            result = self.content.propertyCollector.RetrieveContents([spec])
        finally:
            view.Destroy()
        rows = []
        for obj in result or []:
            row = {'_obj': obj.obj, 'moid': obj.obj._moId}
            for prop in obj.propSet:
                row[prop.name] = prop.val
            rows.append(row)
        return rows

    def vms(self) -> list[dict]:
        """Every VM (templates too): moid, name, power_state, host/cluster (moids), host_name, cluster_name,
        template, tools_running_status; sorted by name."""
        from pyVmomi import vim

        hosts = {}
        for row in self._retrieve(vim.HostSystem, ['name', 'parent']):
            parent = row.get('parent')
            cluster = parent if isinstance(parent, vim.ClusterComputeResource) else None
            hosts[row['moid']] = (row.get('name'), cluster)
        clusters = {row['moid']: row.get('name') for row in self._retrieve(vim.ClusterComputeResource, ['name'])}
        out = []
        for row in self._retrieve(vim.VirtualMachine, ['name', 'runtime.powerState', 'runtime.host', 'config.template',
                                                       'guest.toolsRunningStatus']):
            host = row.get('runtime.host')
            host_moid = host._moId if host is not None else None
            host_name, cluster = hosts.get(host_moid, (None, None))
            cluster_moid = cluster._moId if cluster is not None else None
            out.append({
                'moid': row['moid'],
                'name': row.get('name'),
                'power_state': str(row.get('runtime.powerState')),
                'host': host_moid,
                'host_name': host_name,
                'cluster': cluster_moid,
                'cluster_name': clusters.get(cluster_moid),
                'template': bool(row.get('config.template')),
                'tools_running_status': row.get('guest.toolsRunningStatus'),
            })
        return sorted(out, key=lambda v: (v['name'], v['moid']))

    def get(self, obj, path: str):
        """One property through the PropertyCollector; None when unset.

        Prefer this to pyvmomi attribute access for properties that may be unset: vcsim 0.24's
        PropertyCollector.Fetch (what ``vm.resourcePool`` calls) panics on an unset property and
        drops the connection (RemoteDisconnected).
        """
        from pyVmomi import vmodl

        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj, skip=False)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=type(obj), pathSet=[path])])
        for content in self.content.propertyCollector.RetrieveContents([spec]) or []:
            for prop in content.propSet:
                if prop.name == path:
                    return prop.val
        return None

    def vm(self, name_or_moid: str):
        """The pyvmomi VirtualMachine with this moid or name (KeyError when none)."""
        from pyVmomi import vim

        rows = self._retrieve(vim.VirtualMachine, ['name'])
        for row in rows:
            if row['moid'] == name_or_moid:
                return row['_obj']
        for row in rows:
            if row.get('name') == name_or_moid:
                return row['_obj']
        raise KeyError('no VM %r' % name_or_moid)

    def moid(self, name: str) -> str:
        return self.vm(name)._moId

    def power_state(self, moid: str) -> str:
        return str(self.get(self.vm(moid), 'runtime.powerState'))

    def _wait(self, task):
        from pyVim.task import WaitForTask

        WaitForTask(task, si=self.si)

    def power_on(self, moid: str) -> None:
        vm = self.vm(moid)
        if self.get(vm, 'runtime.powerState') != 'poweredOn':
            self._wait(vm.PowerOnVM_Task())

    def power_off(self, moid: str) -> None:
        vm = self.vm(moid)
        if self.get(vm, 'runtime.powerState') != 'poweredOff':
            self._wait(vm.PowerOffVM_Task())

    def tools_running_status(self, moid: str) -> str:
        return self.get(self.vm(moid), 'guest.toolsRunningStatus')

    def mark_template(self, moid: str) -> None:
        """Power the VM off (hard) if needed, then mark it as a template."""
        self.power_off(moid)
        self.vm(moid).MarkAsTemplate()

    # -- custom attributes
    def _field_key(self, name: str):
        from pyVmomi import vim

        for field in self.content.customFieldsManager.field or []:
            if field.name == name and field.managedObjectType in (None, vim.VirtualMachine):
                return field.key
        return None

    def add_custom_field(self, name: str) -> int:
        """Define a VirtualMachine custom attribute (or return the existing one's key).

        Always with moType VirtualMachine: vcsim 0.24 gives a global field (no moType) an empty ``type``,
        which pyvmomi then refuses to deserialize, breaking every later read of the field list.
        """
        from pyVmomi import vim

        key = self._field_key(name)
        if key is not None:
            return key
        return self.content.customFieldsManager.AddFieldDefinition(name=name, moType=vim.VirtualMachine).key

    def remove_custom_field(self, name: str) -> None:
        """Delete the VirtualMachine custom attribute's definition, if there is one."""
        key = self._field_key(name)
        if key is not None:
            self.content.customFieldsManager.RemoveCustomFieldDef(key=key)

    def custom_value(self, moid: str, field_name: str) -> str | None:
        """The VM's value for the attribute, None when unset or undefined.

        vcsim appends on every SetField instead of replacing, so the last entry for the key wins.
        """
        key = self._field_key(field_name)
        if key is None:
            return None
        value = None
        for item in self.get(self.vm(moid), 'customValue') or []:
            if item.key == key:
                value = item.value
        return value

    def set_custom_value(self, moid: str, field_name: str, value: str) -> None:
        key = self._field_key(field_name)
        if key is None:
            raise KeyError('no custom attribute %r (add_custom_field first)' % field_name)
        self.content.customFieldsManager.SetField(entity=self.vm(moid), key=key, value=value)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.http.delete(self.base + self.REST + '/session', verify=self.verify, timeout=10)
        self.http.close()
        with contextlib.suppress(Exception):
            from pyVim.connect import Disconnect

            Disconnect(self.si)

    def __enter__(self) -> 'VCenterClient':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- CLI

def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='harness.py', description='vCenter simulator for vsphere.preemption')
    sub = parser.add_subparsers(dest='cmd', required=True)
    build = sub.add_parser('build', help='build tests/support/vcsim/main.go (or find $VCSIM / vcsim on PATH); print the path')
    build.add_argument('--force', action='store_true', help='rebuild even when up to date')
    run = sub.add_parser('run', help='run the simulator until SIGTERM/SIGINT, printing export lines')
    run.add_argument('--vms', type=int, default=2, help='VMs per resource pool (default 2)')
    run.add_argument('--hosts', type=int, default=3, help='hosts per cluster (default 3)')
    run.add_argument('--clusters', type=int, default=1)
    run.add_argument('--standalone-hosts', type=int, default=1)
    run.add_argument('--datacenters', type=int, default=1)
    run.add_argument('--pools', type=int, default=0, help='child resource pools per cluster')
    run.add_argument('--tools-running', default=None, help="none, all, or comma-separated VM names")
    run.add_argument('--method-delay', default=None, help='Method1:ms1,Method2:ms2')
    run.add_argument('--delay', type=int, default=0, help='ms of delay for every method')
    run.add_argument('--username', default='user')
    run.add_argument('--password', default='pass')
    run.add_argument('--port', type=int, default=0, help='listen port on 127.0.0.1 (default: a free one)')
    run.add_argument('--workdir', default=None, help='where to write the CA, certificates and logs')
    run.add_argument('--env-file', default=None, help='also write the export line to this file')
    args = parser.parse_args(argv)

    if args.cmd == 'build':
        print(build_vcsim(force=True) if args.force else vcsim_binary(), flush=True)
        return 0

    method_delay = {}
    for item in filter(None, (args.method_delay or '').split(',')):
        method, _sep, ms = item.partition(':')
        method_delay[method.strip()] = int(ms)
    sim = Simulator(vms=args.vms, hosts=args.hosts, clusters=args.clusters, standalone_hosts=args.standalone_hosts,
                    datacenters=args.datacenters, pools=args.pools, tools_running=args.tools_running,
                    method_delay=method_delay, delay=args.delay, username=args.username, password=args.password,
                    port=args.port, workdir=args.workdir)
    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sim.start()
    try:
        variables = dict(sim.env(), GOVC_URL='https://%s:%s@%s:%d/sdk' % (
            urllib.parse.quote(sim.username, safe=''), urllib.parse.quote(sim.password, safe=''), sim.host, sim.port),
            GOVC_TLS_CA_CERTS=sim.ca_file)
        line = 'export ' + ' '.join('%s=%s' % (k, shlex.quote(v)) for k, v in variables.items())
        if args.env_file:
            tmp = args.env_file + '.tmp'
            with open(tmp, 'w') as handle:
                handle.write(line + '\n')
            os.replace(tmp, args.env_file)
        print(line, flush=True)
        while not stop.wait(0.5):
            if not sim.running:
                if stop.wait(0.5):  # e.g. Ctrl-C reached vcsim (same process group) before our handler ran
                    break
                print('vcsim exited unexpectedly (rc=%s)' % sim.process.returncode, file=sys.stderr)
                return 1
        return 0
    finally:
        sim.stop()


if __name__ == '__main__':
    sys.exit(_main())
