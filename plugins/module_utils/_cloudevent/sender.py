# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Build a CloudEvent with the cloudevents SDK and POST it with requests.

The event is handled as a plain dict (its context attributes plus ``data``)
so it can be returned by a module, logged, and rebuilt unchanged on a retry:
`build_event` validates and makes it, `encode_event` turns it into HTTP
headers and body in binary or structured content mode, `send_event` posts it.

Binary mode percent-encodes ``ce-*`` header values as the CloudEvents HTTP
binding (section 3.1.3.2) says, through the SDK's own binding, so any text
(spaces, ``%``, quotes, newlines, emoji) travels, and a receiver on a current
SDK reads the same attributes in both modes.
"""

from __future__ import annotations

import datetime
import re
import traceback
import uuid
import warnings

from urllib.parse import urljoin, urlsplit

from ansible_collections.vsphere.preemption.plugins.module_utils._errors import PreemptionError, retryable_status, transport_retryable
from ansible_collections.vsphere.preemption.plugins.module_utils._url_redaction import redact_url

CLOUDEVENTS_IMPORT_ERROR = None
try:
    # cloudevents 2.x: its HTTP binding percent-encodes header values (the 1.x API under cloudevents.v1 does not).
    from cloudevents.core.bindings.http import to_binary_event, to_structured_event
    from cloudevents.core.exceptions import BaseCloudEventException
    from cloudevents.core.v1.event import CloudEvent
except ImportError:
    CLOUDEVENTS_IMPORT_ERROR = traceback.format_exc()

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from urllib3.exceptions import InsecureRequestWarning
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_TYPE = 'com.vmware.workflows.vsphere.VmPreemptedEvent.v0'
DEFAULT_SOURCE = '/vsphere.preemption'
DATA_CONTENT_TYPE = 'application/json'
MODES = ('binary', 'structured')
# Context attributes of CloudEvents 1.0 (and `data`): set through their own options, never as extensions.
RESERVED_ATTRIBUTES = frozenset(('specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype',
                                 'dataschema', 'data', 'data_base64'))
EXTENSION_NAME = re.compile(r'^[a-z0-9]{1,20}$')
SNIPPET_LENGTH = 200
# Many HTTP servers refuse requests whose header section passes 8 KiB (nginx, Apache, Knative's queue proxy):
# an event whose ce-* headers would, goes in structured mode, which carries the same event in the body.
BINARY_HEADERS_MAX = 8192


class CloudEventError(PreemptionError):
    """Invalid input or a failed delivery; one line, never carrying header values. Invalid input is not retryable."""


class DeliveryError(CloudEventError):
    """The sink was not reached or did not accept the event; ``status`` is the HTTP status when it answered.

    ``retryable``: the sink may accept it later (5xx, 408, 429, a refused, reset
    or timed-out connection); not for any other status or an untrusted certificate.
    """

    def __init__(self, message, status=None, retryable=False):
        super().__init__(message, retryable=retryable)
        self.status = status


def utc_timestamp(moment=None):
    """``2021-11-05T13:02:34.437444Z``: RFC 3339 with microseconds, as the state file writes it."""
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def validate_url(url):
    """An http(s) URL with a host, or CloudEventError."""
    parts = urlsplit(url or '')
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise CloudEventError('url must be an http:// or https:// URL with a host name, got %r.' % redact_url(url or ''))
    try:
        parts.port
    except ValueError:
        raise CloudEventError('url %r has an invalid port.' % redact_url(url)) from None


def extension_value(name, value):
    """The string form of an extension value (CloudEvents Boolean, Integer or String)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise CloudEventError('CloudEvent extension %r must be a string, an integer or a boolean, got %s.' % (name, type(value).__name__))


def validate_extensions(extensions):
    """Check the names (lowercase a-z/0-9, at most 20 characters, not a context attribute); values as strings."""
    result = {}
    for name in sorted(extensions or {}):
        if not isinstance(name, str) or not EXTENSION_NAME.match(name):
            raise CloudEventError('CloudEvent extension name %r is invalid: use 1 to 20 lowercase letters a-z or digits 0-9.' % (name,))
        if name in RESERVED_ATTRIBUTES:
            raise CloudEventError('CloudEvent extension name %r is a context attribute of CloudEvents; set it with its own option.' % name)
        result[name] = extension_value(name, extensions[name])
    return result


def validate_headers(headers):
    """Extra HTTP headers as strings; none may replace what carries the event itself."""
    result = {}
    for name, value in (headers or {}).items():
        lowered = str(name).lower()
        if lowered == 'content-type' or lowered.startswith('ce-'):
            raise CloudEventError('Header %r would change the CloudEvent itself; set the event through the other options.' % name)
        if value is None or isinstance(value, (dict, list)):
            raise CloudEventError('Header %r must have a string value.' % name)
        result[str(name)] = str(value)
    return result


def build_event(event_type=DEFAULT_TYPE, source=DEFAULT_SOURCE, event_id=None, subject=None, data=None, extensions=None, time=None):
    """The event as a dict of its context attributes plus ``data`` (JSON content).

    ``event_id`` defaults to a fresh uuid4 and ``time`` to now (UTC, ``Z``).
    Raises CloudEventError for an empty type or source or invalid extensions.
    """
    for option, value, required in (('type', event_type, True), ('source', source, True), ('id', event_id, False), ('subject', subject, False)):
        if (required or value is not None) and (not isinstance(value, str) or not value):
            raise CloudEventError('CloudEvent %s must be a non-empty string.' % option)
    event = {
        'specversion': '1.0',
        'id': event_id or str(uuid.uuid4()),
        'source': source,
        'type': event_type,
        'time': time or utc_timestamp(),
        'datacontenttype': DATA_CONTENT_TYPE,
    }
    if subject is not None:
        event['subject'] = subject
    event.update(validate_extensions(extensions))
    event['data'] = data
    return event


def _sdk_event(event):
    """The SDK's CloudEvent for ``event`` (its ``time`` an aware datetime, as the SDK wants it)."""
    attributes = {name: value for name, value in event.items() if name != 'data'}
    if isinstance(attributes.get('time'), str):
        try:
            attributes['time'] = datetime.datetime.fromisoformat(attributes['time'].replace('Z', '+00:00'))
        except ValueError:
            raise CloudEventError('CloudEvent time %r is not an RFC 3339 timestamp.' % attributes['time']) from None
    try:
        return CloudEvent(attributes, event.get('data'))
    except BaseCloudEventException as exc:
        raise CloudEventError('Invalid CloudEvent: %s' % ' '.join(str(exc).split())) from None


def encode_event(event, mode='binary'):
    """``(headers, body)`` of the HTTP request carrying ``event`` in the given content mode.

    Binary mode puts the attributes in percent-encoded ``ce-*`` headers and the
    JSON data in the body; structured mode sends the whole event as
    ``application/cloudevents+json``. An event whose headers would pass
    BINARY_HEADERS_MAX goes in structured mode.
    """
    if mode not in MODES:
        raise CloudEventError('mode must be one of %s, got %r.' % (', '.join(MODES), mode))
    cloud_event = _sdk_event(event)
    if mode == 'binary':
        message = to_binary_event(cloud_event)
        if sum(len(name) + len(value) + 4 for name, value in message.headers.items()) <= BINARY_HEADERS_MAX:
            return dict(message.headers), message.body
    message = to_structured_event(cloud_event)
    return dict(message.headers), message.body


def describe_send_error(exc, url, timeout):
    """One line for a transport failure, naming the sink but not its credentials or query."""
    sink = redact_url(url)
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        if 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text:
            return ('Cannot verify the TLS certificate of the CloudEvent sink %s. Trust its CA with REQUESTS_CA_BUNDLE, '
                    'or set validate_certs: false.' % sink)
        return 'TLS handshake with the CloudEvent sink %s failed.' % sink
    if isinstance(exc, requests.exceptions.Timeout):
        reason = 'no answer within %s seconds' % timeout
    elif 'Connection refused' in text:
        reason = 'connection refused'
    elif 'Name or service not known' in text or 'nodename nor servname' in text or 'Temporary failure in name resolution' in text:
        reason = 'cannot resolve the host name %r' % urlsplit(url).hostname
    else:
        reason = exc.__class__.__name__
    return 'Cannot send the CloudEvent to %s: %s.' % (sink, reason)


def send_error_retryable(exc):
    """Whether a failed POST may pass later: a connection refused, reset or timed out may; TLS trouble or a bad URL not."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, requests.exceptions.Timeout) or transport_retryable(exc)


def response_snippet(text):
    """The start of a response body on one line, for an error message."""
    flat = ' '.join((text or '').split())
    return flat if len(flat) <= SNIPPET_LENGTH else flat[:SNIPPET_LENGTH] + '...'


def redirect_host(url, location):
    """The host (and port) a redirect points to, nothing of its path or query: what a message may name."""
    try:
        target = urlsplit(urljoin(url, location or ''))
        port = target.port
    except ValueError:
        return 'an invalid location'
    host = target.hostname or 'no host'
    return '%s:%s' % (host, port) if port else host


def send_event(url, event, mode='binary', headers=None, timeout=10, validate_certs=True, session=None):
    """POST ``event`` to ``url``; return the HTTP status of a 2xx answer.

    ``verify`` is passed on the request itself because requests ignores a
    session's ``verify=False`` when REQUESTS_CA_BUNDLE is set. Redirects are
    never followed: requests would turn the POST into a bodiless GET (302) or
    re-send the event and its headers to another host (307, 308). Raises
    DeliveryError for a non-2xx answer (with its status and the start of its
    body; for a redirect, the host it points to) or a transport failure.
    """
    validate_url(url)
    request_headers = validate_headers(headers)
    event_headers, body = encode_event(event, mode)
    request_headers.update(event_headers)
    poster = session or requests
    with warnings.catch_warnings():
        if not validate_certs:
            # The user chose not to verify; the warning would only repeat it on stderr.
            warnings.simplefilter('ignore', InsecureRequestWarning)
        try:
            response = poster.post(url, data=body, headers=request_headers, timeout=timeout, verify=validate_certs,
                                   allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise DeliveryError(describe_send_error(exc, url, timeout), retryable=send_error_retryable(exc)) from None
    if 300 <= response.status_code < 400:
        raise DeliveryError('The CloudEvent sink %s answered HTTP %s %s, a redirect to %s; redirects are not followed, so the event '
                            'was not sent. Set the URL the sink really receives on.' % (
                                redact_url(url), response.status_code, response.reason or '',
                                redirect_host(url, response.headers.get('Location'))),
                            status=response.status_code, retryable=False)
    if not 200 <= response.status_code < 300:
        snippet = response_snippet(response.text)
        raise DeliveryError('The CloudEvent sink %s answered HTTP %s %s%s' % (
            redact_url(url), response.status_code, response.reason or '', (': ' + snippet) if snippet else '.'),
            status=response.status_code, retryable=retryable_status(response.status_code))
    return response.status_code
