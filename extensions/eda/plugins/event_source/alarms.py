# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ansible-rulebook event source ``vsphere.preemption.alarms``: vCenter alarm status changes as VEBA CloudEvents."""

from __future__ import annotations

import asyncio
import collections
import datetime
import http.client
import json
import logging
import os
import runpy
import sys
import tempfile
import threading
import uuid

DOCUMENTATION = r"""
---
short_description: Watch vCenter for alarm status changes and emit them as VEBA-style CloudEvents.
description:
  - An ansible-rulebook event source that reads vCenter's own event stream for
    C(AlarmStatusChangedEvent) through pyvmomi, so the vsphere.preemption
    rulebook works with no VMware Event Broker Appliance (VEBA) or Knative in between.
  - It opens an EventHistoryCollector filtered to C(AlarmStatusChangedEvent) that starts at
    vCenter's current time, so alarms that changed before the source started are never replayed,
    and waits for changes of the collector's latest page with C(WaitForUpdatesEx).
  - "Each event is put on the queue as C({payload: <CloudEvent>}), the same shape
    C(eda.builtin.webhook) gives a structured-mode CloudEvent POSTed by VEBA, so rules read
    C(event.payload.data.Alarm.Name), C(event.payload.data.From) and C(event.payload.data.To) either way."
  - "Each event also carries C(preemption), what the change means for vsphere.preemption, exactly as
    the event filter C(vsphere.preemption.normalize_cloudevent) adds it to a webhook's events: C(alarm),
    C(change) (V(raised), V(eased), V(cleared) or V(none)), C(criticality), C(scope) (the cluster moid,
    else the host moid, else V(all)), C(lock) and C(restore_on_clear) (see that filter)."
  - "The CloudEvent: C(specversion) 1.0, C(id) a UUID derived from vCenter, event key and creation time
    (the same vCenter event always gets the same id), C(source) C(https://<hostname>[:<port>]/sdk),
    C(type) C(com.vmware.event.router/event), C(subject) C(AlarmStatusChangedEvent), C(time),
    C(datacontenttype) C(application/json), C(vsphereapiversion), and C(data) with VEBA's field names:
    C(Key), C(ChainId), C(CreatedTime), C(UserName), C(Datacenter), C(ComputeResource), C(Host), C(Vm),
    C(Ds), C(Net), C(Dvs), C(FullFormattedMessage), C(ChangeTag), C(Alarm), C(Source), C(Entity),
    C(From), C(To), each entity as C({Name, <Kind>: {Type, Value}})."
  - When vCenter goes away (restart, network, expired session) the source logs one line and
    reconnects with exponential backoff; the new collector starts at the newest event already
    seen and its history is read through, so changes that happened meanwhile are delivered and none twice.
  - With O(checkpoint), the source also survives its own restarts; after each event is put on the
    queue, its vCenter event key and creation time (and the keys of the latest events seen) are
    written to the checkpoint file, and a restarted source reads vCenter's event history from there,
    so an alarm that changed while the rulebook was down is delivered when it is back (at least
    once), and an event already delivered is not delivered again.
  - Needs the C(pyvmomi) Python library in the Python that runs ansible-rulebook.
options:
  hostname:
    description:
      - vCenter host name or address.
      - If not set, the environment variable E(VMWARE_HOST) is used; one of the two is required.
    type: str
  username:
    description:
      - vCenter user name.
      - If not set, the environment variable E(VMWARE_USER) is used; one of the two is required.
    type: str
  password:
    description:
      - Password of O(username).
      - If not set, the environment variable E(VMWARE_PASSWORD) is used; one of the two is required.
    type: str
  port:
    description:
      - vCenter HTTPS port.
      - If not set, the environment variable E(VMWARE_PORT) is used.
    type: int
    default: 443
  validate_certs:
    description:
      - Verify vCenter's TLS certificate, trusting the CA bundle in E(REQUESTS_CA_BUNDLE) or
        E(SSL_CERT_FILE) when set, else the system's.
      - If not set, the environment variable E(VMWARE_VALIDATE_CERTS) is used.
    type: bool
    default: true
  alarm_names:
    description:
      - Emit only status changes of the alarms with these names. Empty means every alarm.
    type: list
    elements: str
    default: []
  poll_interval:
    description:
      - Longest time in seconds one wait for new events lasts (C(WaitForUpdatesEx) C(maxWaitSeconds)).
        Events arrive as soon as vCenter has them; this bounds how long a shutdown goes unnoticed.
    type: int
    default: 5
  max_reconnect_delay:
    description:
      - Upper bound in seconds of the reconnection backoff, which starts at 1 s and doubles.
    type: float
    default: 60
  checkpoint:
    description:
      - A file where the source keeps the key and time of the last event it delivered, and resumes
        after them when it starts again. Created (mode 0600, and its directory) when missing; replaced
        atomically on each write. Unset means start at vCenter's current time, as without a checkpoint.
      - A checkpoint written for another vCenter (another O(hostname) or O(port)) is ignored with a warning.
      - In the vsphere.preemption rulebooks, the rulebook variable C(preemption_alarms_checkpoint).
    type: path
  checkpoint_max_age:
    description:
      - Oldest event, in seconds before vCenter's current time, that a restart or a reconnection replays.
        Alarm changes older than that when the source comes back are not delivered.
    type: float
    default: 3600
notes:
  - A wrong user name or password at start-up stops the source (a configuration error), and so does
    a checkpoint file that cannot be read, parsed or written at start-up;
    every other failure to reach vCenter is retried.
  - Delivery with a checkpoint is at least once; an event put on the queue just before the source
    is killed, and not yet in the checkpoint, is delivered again after the restart, with the same
    CloudEvent C(id) (the role's C(workflow_state) never starts a run twice for one event id).
  - The collector's page holds the latest 100 alarm changes; if more arrive between two reads
    the source logs a warning that some may have been missed.
"""

EXAMPLES = r"""
- name: Preempt when a vCenter alarm turns red, straight from vCenter
  hosts: localhost
  sources:
    - vsphere.preemption.alarms:
        # hostname, username, password, port, validate_certs: VMWARE_* environment when omitted
        alarm_names:
          - cluster-cpu-above-80
        poll_interval: 5
        # Deliver what changed while the rulebook was down (up to an hour back).
        checkpoint: /var/lib/eda/preemption-alarms.checkpoint
  rules:
    - name: Alarm raised
      condition: event.preemption.alarm == "cluster-cpu-above-80" and event.preemption.change == "raised"
      action:
        run_playbook:
          name: vsphere.preemption.preempt
          lock: "{{ event.preemption.lock }}"
          extra_vars:
            preemption_event: "{{ event.payload }}"
"""


# ansible-rulebook runs this file by path, outside any package: the plugins' one bootstrap, run by path
# too, puts the collection on sys.path.
runpy.run_path(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '_collection_path.py'))

from ansible_collections.vsphere.preemption.plugins.module_utils._run.alarm import alarm_change  # noqa: E402
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter import soap as vcenter_soap  # noqa: E402
from ansible_collections.vsphere.preemption.plugins.module_utils._vcenter.errors import VCenterError  # noqa: E402

try:
    from pyVmomi import vim, vmodl
except ImportError:
    HAS_PYVMOMI = False
    CONNECTION_ERRORS = (OSError, http.client.HTTPException)
else:
    HAS_PYVMOMI = True
    # What a call to a vCenter that went away raises: socket/TLS errors, a dropped HTTP connection,
    # or a fault such as NotAuthenticated (session expired) or ManagedObjectNotFound (collector gone).
    CONNECTION_ERRORS = (OSError, http.client.HTTPException, vmodl.MethodFault)

logger = logging.getLogger('vsphere.preemption.alarms')

EVENT_TYPE = 'AlarmStatusChangedEvent'
CLOUDEVENT_TYPE = 'com.vmware.event.router/event'
PAGE_SIZE = 100
SEEN_MEMORY = 1000
FIRST_RECONNECT_DELAY = 1.0
# A vCenter call that has not answered after the wait plus this many seconds counts as a lost connection.
CALL_TIMEOUT = 60.0
OPTIONS = ('hostname', 'username', 'password', 'port', 'validate_certs', 'alarm_names', 'poll_interval', 'max_reconnect_delay',
           'checkpoint', 'checkpoint_max_age')
CHECKPOINT_VERSION = 1
ENV_FALLBACK = {'hostname': 'VMWARE_HOST', 'username': 'VMWARE_USER', 'password': 'VMWARE_PASSWORD',
                'port': 'VMWARE_PORT', 'validate_certs': 'VMWARE_VALIDATE_CERTS'}
TRUE_STRINGS = frozenset(('1', 'true', 'yes', 'on', 'y', 't'))
FALSE_STRINGS = frozenset(('0', 'false', 'no', 'off', 'n', 'f'))


# --------------------------------------------------------------------------- options

def _to_bool(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    raise ValueError('vsphere.preemption.alarms: %s must be a boolean (true/false), got %r' % (name, value))


def _to_number(name, value, kind, minimum):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ValueError('vsphere.preemption.alarms: %s must be a number >= %s, got %r' % (name, minimum, value))
    return number


def source_options(args, environ=None):
    """The source's settings from its rulebook arguments, with the modules' VMWARE_* environment fallbacks.

    Raises ValueError with one line naming the bad option (never showing the password).
    """
    environ = os.environ if environ is None else environ
    # ansible-rulebook adds its own eda_* arguments (e.g. eda_feedback_queue).
    unknown = sorted(k for k in args if k not in OPTIONS and not k.startswith('eda_'))
    if unknown:
        raise ValueError('vsphere.preemption.alarms: unknown option(s) %s; known: %s' % (', '.join(unknown), ', '.join(OPTIONS)))
    merged = {}
    for name in OPTIONS:
        value = args.get(name)
        if value in (None, '') and name in ENV_FALLBACK:
            value = environ.get(ENV_FALLBACK[name]) or None
        merged[name] = value
    for name in ('hostname', 'username', 'password'):
        if not merged[name]:
            raise ValueError('vsphere.preemption.alarms: %s is required (the option, or the environment variable %s)' % (name, ENV_FALLBACK[name]))
    names = merged['alarm_names']
    if names is None:
        names = []
    elif isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise ValueError('vsphere.preemption.alarms: alarm_names must be a list of alarm names, got %r' % (names,))
    checkpoint = merged['checkpoint']
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise ValueError('vsphere.preemption.alarms: checkpoint must be a file path, got %r' % (checkpoint,))
    return {
        'hostname': str(merged['hostname']),
        'username': str(merged['username']),
        'password': str(merged['password']),
        'port': _to_number('port', 443 if merged['port'] is None else merged['port'], int, 1),
        'validate_certs': True if merged['validate_certs'] is None else _to_bool('validate_certs', merged['validate_certs']),
        'alarm_names': frozenset(names),
        'poll_interval': _to_number('poll_interval', 5 if merged['poll_interval'] is None else merged['poll_interval'], int, 1),
        'max_reconnect_delay': _to_number('max_reconnect_delay', 60 if merged['max_reconnect_delay'] is None else merged['max_reconnect_delay'],
                                          float, FIRST_RECONNECT_DELAY),
        # An empty string is what a rulebook passes for an unset variable rendered with default('').
        'checkpoint': os.path.abspath(os.path.expanduser(checkpoint)) if checkpoint else None,
        'checkpoint_max_age': _to_number('checkpoint_max_age', 3600 if merged['checkpoint_max_age'] is None else merged['checkpoint_max_age'],
                                         float, 0),
    }


# --------------------------------------------------------------------------- the CloudEvent

TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%fZ'


def _timestamp(value):
    """RFC 3339 in UTC with microseconds and a Z, as VEBA writes times (pyvmomi's are timezone-aware)."""
    return value.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT)


def _parse_timestamp(text):
    return datetime.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)


def _moref(ref):
    # pylint: disable=protected-access
    return None if ref is None else {'Type': ref._wsdlName, 'Value': ref._moId}


def _argument(arg, attribute, kind):
    """An EntityEventArgument as VEBA serializes it: {Name, <Kind>: {Type, Value}}, or None."""
    if arg is None:
        return None
    return {'Name': arg.name, kind: _moref(getattr(arg, attribute, None))}


def vcenter_source(hostname, port=443):
    """The CloudEvent ``source`` VEBA uses for a vCenter: its SDK URL."""
    return 'https://%s%s/sdk' % (hostname, '' if int(port) == 443 else ':%s' % port)


def to_cloudevent(event, source, api_version=None):
    """A vim.event.AlarmStatusChangedEvent as the CloudEvent (a dict) VEBA would deliver for it.

    ``source`` is the vCenter's SDK URL (vcenter_source()); ``api_version`` its about.apiVersion.
    """
    created = _timestamp(event.createdTime)
    data = {
        'Key': event.key,
        'ChainId': event.chainId,
        'CreatedTime': created,
        'UserName': event.userName or '',
        'Datacenter': _argument(event.datacenter, 'datacenter', 'Datacenter'),
        'ComputeResource': _argument(event.computeResource, 'computeResource', 'ComputeResource'),
        'Host': _argument(event.host, 'host', 'Host'),
        'Vm': _argument(event.vm, 'vm', 'Vm'),
        'Ds': _argument(event.ds, 'datastore', 'Datastore'),
        'Net': _argument(event.net, 'network', 'Network'),
        'Dvs': _argument(event.dvs, 'dvs', 'Dvs'),
        'FullFormattedMessage': event.fullFormattedMessage or '',
        'ChangeTag': event.changeTag or '',
        'Alarm': _argument(event.alarm, 'alarm', 'Alarm'),
        'Source': _argument(event.source, 'entity', 'Entity'),
        'Entity': _argument(event.entity, 'entity', 'Entity'),
        'From': str(getattr(event, 'from')),
        'To': str(event.to),
    }
    cloudevent = {
        'specversion': '1.0',
        # Stable for one vCenter event, so receivers (and the role's CloudEvent id) can deduplicate.
        'id': str(uuid.uuid5(uuid.NAMESPACE_URL, '%s#%s@%s' % (source, event.key, created))),
        'source': source,
        'type': CLOUDEVENT_TYPE,
        'subject': event._wsdlName,  # pylint: disable=protected-access
        'datacontenttype': 'application/json',
        'time': created,
        'data': data,
    }
    if api_version:
        cloudevent['vsphereapiversion'] = api_version
    return cloudevent


# --------------------------------------------------------------------------- which events are new

class EventCursor:
    """Picks the events of a collector page that were not emitted yet.

    vCenter keeps the latest page of a collector current; each read returns the whole page. An event
    is new when it was created at or after ``since`` (the start: vcsim ignores the collector's time
    filter) and its (key, creation time) was not seen before; keys alone restart with a new vCenter.
    """

    def __init__(self, since, page_size=PAGE_SIZE, memory=SEEN_MEMORY, seen=()):
        self.since = since
        self.newest = since
        self.page_size = page_size
        self._memory = memory
        self._seen = collections.OrderedDict((ident, None) for ident in list(seen)[-memory:])
        self._reads = 0

    def seen(self):
        """The (key, creation time) of the events remembered, oldest first."""
        return list(self._seen)

    def fresh(self, page, complete=False):
        """The new events of ``page`` in vCenter's order (by key); remembers them.

        ``complete``: the page is the whole history since the start, not a latest page that may have overflowed.
        """
        new = []
        for event in sorted(page or [], key=lambda e: e.key):
            ident = (event.key, event.createdTime)
            if event.createdTime < self.since or ident in self._seen:
                continue
            self._seen[ident] = None
            if len(self._seen) > self._memory:
                self._seen.popitem(last=False)
            new.append(event)
            self.newest = max(self.newest, event.createdTime)
        if self._reads and not complete and new and len(new) >= self.page_size:
            logger.warning('More than %d alarm status changes arrived between two reads of vCenter; some may have been missed.', self.page_size)
        self._reads += 1
        return new


class Checkpoint:
    """The checkpoint file: where a restarted source resumes, and which events it already delivered.

    One JSON object, replaced atomically (temporary file, fsync, ``os.replace``; mode 0600)::

        {"version": 1, "source": "https://vc/sdk", "key": 15227, "time": "<creation time of that event>",
         "seen": [[15226, "<time>"], [15227, "<time>"]]}

    ``key``/``time`` are the last event delivered (``key`` null and ``time`` the start when none was
    yet); ``seen`` the (key, creation time) of the latest events read, so none is delivered twice.
    """

    def __init__(self, path, source):
        self.path = path
        self.source = source
        self.key = self.time = None

    def _invalid(self, why):
        return ValueError('vsphere.preemption.alarms: the checkpoint file %s %s; fix or remove it (the source then starts at '
                          "vCenter's current time)" % (self.path, why))

    def load(self):
        """``(time, seen)`` to resume from, or ``(None, [])`` for a missing file or one of another vCenter."""
        try:
            with open(self.path, encoding='utf-8') as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return None, []
        except OSError as exc:
            raise self._invalid('cannot be read (%s)' % (exc.strerror or exc)) from None
        except ValueError:
            raise self._invalid('is not JSON') from None
        version = document.get('version') if isinstance(document, dict) else None
        if version != CHECKPOINT_VERSION:
            raise self._invalid('is not a version %d checkpoint of this source (version %r)' % (CHECKPOINT_VERSION, version))
        try:
            time = _parse_timestamp(document['time'])
            seen = [(int(key), _parse_timestamp(created)) for key, created in document['seen']]
            source = document['source']
        except (KeyError, TypeError, ValueError):
            raise self._invalid('is malformed') from None
        if source != self.source:
            logger.warning('The checkpoint %s is of %s, not %s: ignored.', self.path, source, self.source)
            return None, []
        self.key, self.time = document.get('key'), time
        return time, seen

    def save(self, cursor, key=None, time=None):
        """Record ``cursor``'s memory and the event (``key``, ``time``) just delivered (none: the start ``cursor.since``)."""
        self.time = max(filter(None, (self.time, time, cursor.since)))
        self.key = self.key if key is None else key
        document = {'version': CHECKPOINT_VERSION, 'source': self.source, 'key': self.key, 'time': _timestamp(self.time),
                    'seen': [[seen_key, _timestamp(created)] for seen_key, created in cursor.seen()]}
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        descriptor, temp_path = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(self.path), suffix='.tmp')
        try:
            with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_path, self.path)
        except BaseException:
            os.unlink(temp_path)
            raise


def reconnect_delays(first, maximum):
    """1, 2, 4, ... seconds, capped at ``maximum``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, maximum)


def login_refused(exc):
    """True when connecting failed because vCenter rejected the credentials (not worth retrying)."""
    return isinstance(exc.__context__, vim.fault.InvalidLogin)


# --------------------------------------------------------------------------- vCenter (blocking, in a worker thread)

class VCenterEventStream:
    """One vCenter session with an EventHistoryCollector for alarm status changes. Blocking calls."""

    def __init__(self, options, begin=None):
        self.options = options
        self.si = vcenter_soap.connect(options['hostname'], options['username'], options['password'], options['port'], options['validate_certs'])
        self.collector = self.property_collector = None
        self.version = ''
        try:
            self._bound_calls(options['poll_interval'] + CALL_TIMEOUT)
            content = self.si.RetrieveContent()
            self.api_version = content.about.apiVersion
            self.source = vcenter_source(options['hostname'], options['port'])
            # vCenter's clock, not ours: "now" is when vCenter says it is; a resumption goes back at most checkpoint_max_age.
            now = self.si.CurrentTime()
            self.begin = now if begin is None else max(begin, now - datetime.timedelta(seconds=options['checkpoint_max_age']))
            spec = vim.event.EventFilterSpec(eventTypeId=[EVENT_TYPE], maxCount=PAGE_SIZE,
                                             time=vim.event.EventFilterSpec.ByTime(beginTime=self.begin))
            self.collector = content.eventManager.CreateCollectorForEvents(filter=spec)
            self.collector.SetCollectorPageSize(PAGE_SIZE)
            # A collector of our own, so the session's shared one keeps no filters of ours.
            self.property_collector = content.propertyCollector.CreatePropertyCollector()
            pc = vmodl.query.PropertyCollector
            self.property_collector.CreateFilter(pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=self.collector, skip=False)],
                propSet=[pc.PropertySpec(type=vim.event.EventHistoryCollector, pathSet=['latestPage'])]), partialUpdates=False)
        except BaseException:
            self.close()
            raise

    def _bound_calls(self, seconds):
        """Give every HTTP call of this session a socket timeout: a silently dropped connection must fail, not hang."""
        stub = getattr(self.si, '_stub', None)
        scheme_args = getattr(stub, 'schemeArgs', None)
        if isinstance(scheme_args, dict):
            scheme_args['timeout'] = seconds
            stub.DropConnections()  # pooled connections were opened without the timeout

    def backlog(self):
        """Every event of the collector since ``begin``, oldest first, as one page: what changed while nobody watched."""
        self.collector.RewindCollector()
        events = []
        while True:
            batch = self.collector.ReadNextEvents(PAGE_SIZE)
            if not batch:
                return [events]
            events.extend(batch)

    def wait(self):
        """Wait up to poll_interval for the latest page to change; return the pages seen (lists of events)."""
        update = self.property_collector.WaitForUpdatesEx(
            self.version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=self.options['poll_interval']))
        if update is None:
            return []
        self.version = update.version
        pages = []
        for filter_set in update.filterSet or []:
            for object_set in filter_set.objectSet or []:
                for change in object_set.changeSet or []:
                    if change.name == 'latestPage':
                        pages.append(list(change.val or []))
        return pages

    def close(self):
        """Best effort: drop the collectors and log out (vCenter may already be gone)."""
        for obj, method in ((self.property_collector, 'DestroyPropertyCollector'), (self.collector, 'DestroyCollector')):
            if obj is not None:
                try:
                    getattr(obj, method)()
                except Exception:  # pylint: disable=broad-exception-caught
                    pass  # the session is being thrown away anyway
        vcenter_soap.disconnect(self.si)


# --------------------------------------------------------------------------- the source

class AlarmSource:
    """Feeds the rulebook queue from vCenter, reconnecting with backoff. ``open_stream``/``sleep`` are seams for tests.

    ``checkpoint``: a `Checkpoint` to resume from and record each delivered event in, or None.
    """

    def __init__(self, options, open_stream=None, sleep=asyncio.sleep, checkpoint=None):
        self.options = options
        self.open_stream = open_stream or (lambda begin: VCenterEventStream(options, begin))
        self.sleep = sleep
        self.checkpoint = checkpoint
        self.cursor = None
        self._resume, self._seen = checkpoint.load() if checkpoint else (None, [])

    def _wanted(self, event):
        names = self.options['alarm_names']
        return not names or event.alarm.name in names

    async def _connect(self, delays):
        """A working stream; retries with the backoff ``delays`` until vCenter answers."""
        where = '%s:%s' % (self.options['hostname'], self.options['port'])
        while True:
            try:
                stream = await asyncio.to_thread(self.open_stream, self.cursor.newest if self.cursor else self._resume)
            except VCenterError as exc:
                if self.cursor is None and login_refused(exc):
                    raise
                reason = str(exc)
            except CONNECTION_ERRORS as exc:
                reason = 'vCenter %s: %s' % (where, exc.__class__.__name__)
            else:
                logger.info('Watching vCenter %s for %s since %s', where, EVENT_TYPE, _timestamp(stream.begin))
                return stream
            delay = next(delays)
            logger.error('%s Retrying in %g s.', reason, delay)
            await self.sleep(delay)

    async def _deliver(self, queue, stream, page, complete=False):
        for event in self.cursor.fresh(page, complete=complete):
            if self._wanted(event):
                payload = to_cloudevent(event, stream.source, stream.api_version)
                await queue.put({'payload': payload, 'preemption': alarm_change(payload)})
                if self.checkpoint:
                    self._save_checkpoint(event)

    def _save_checkpoint(self, event):
        try:
            self.checkpoint.save(self.cursor, event.key, event.createdTime)
        except OSError as exc:
            # The event is delivered; only a restart would deliver it again.
            logger.error('Cannot write the checkpoint %s: %s.', self.checkpoint.path, exc.strerror or exc)

    def _start_cursor(self, stream):
        self.cursor = EventCursor(stream.begin, seen=self._seen)
        if self.checkpoint:
            # Written at once: an unwritable path stops the source now, and a restart resumes from here
            # even when nothing was delivered meanwhile.
            try:
                self.checkpoint.save(self.cursor)
            except OSError as exc:
                raise ValueError('vsphere.preemption.alarms: cannot write the checkpoint file %s: %s'
                                 % (self.checkpoint.path, exc.strerror or exc)) from None

    async def run(self, queue):
        while True:
            stream = await self._connect(reconnect_delays(FIRST_RECONNECT_DELAY, self.options['max_reconnect_delay']))
            try:
                if self.cursor is None:
                    self._start_cursor(stream)
                else:
                    self.cursor.since = max(self.cursor.since, stream.begin)
                # First the history since the start (what changed while nobody watched), then the latest page as it changes.
                read, complete = stream.backlog, True
                while True:
                    try:
                        pages = await asyncio.wait_for(asyncio.to_thread(read), self.options['poll_interval'] + CALL_TIMEOUT)
                    except (asyncio.TimeoutError,) + CONNECTION_ERRORS as exc:
                        logger.warning('Lost vCenter %s:%s (%s); reconnecting.', self.options['hostname'], self.options['port'], exc.__class__.__name__)
                        break
                    for page in pages:
                        await self._deliver(queue, stream, page, complete=complete)
                    read, complete = stream.wait, False
            finally:
                # Not awaited: logging out of a vCenter that is gone may take a while, and shutdown must not wait.
                threading.Thread(target=stream.close, daemon=True).start()


async def main(queue, args):
    """ansible-rulebook entry point."""
    if not HAS_PYVMOMI or vcenter_soap.PYVMOMI_IMPORT_ERROR:
        raise ImportError('vsphere.preemption.alarms needs the pyvmomi Python library in the Python that runs ansible-rulebook '
                          '(%s): pip install pyvmomi' % sys.executable)
    options = source_options(args)
    checkpoint = Checkpoint(options['checkpoint'], vcenter_source(options['hostname'], options['port'])) if options['checkpoint'] else None
    await AlarmSource(options, checkpoint=checkpoint).run(queue)


if __name__ == '__main__':
    # Run by hand to see the events: VMWARE_* in the environment, Ctrl-C to stop.

    class _PrintQueue:
        async def put(self, event):
            print(event)  # noqa: T201

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {}))
