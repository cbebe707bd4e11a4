# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one way a URL given by the user is shown or stored: without the credentials it may carry.

A CloudEvent sink (``preemption_reply_to``) or a state database
(``preemption_state_url``) may carry a user and password
(``https://user:pass@host/``) or a token in its query (``?access_token=...``).
`redact_url` is what the state, plans, facts, stats, annotations, events and
messages hold instead; only the request itself uses the full URL.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = '***'


def redact_url(url):
    """``url`` with its user info and every query value replaced by ``***`` and no fragment; None and '' as they are.

    ``https://u:p@sink.example/hook?access_token=t&x`` is ``https://***@sink.example/hook?access_token=***&***``.
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        # Not parseable as a URL: nothing in it can be shown safely but its scheme.
        return '%s://%s' % (url.partition(':')[0] if '://' in url else '', REDACTED)
    _userinfo, at, hostport = parts.netloc.rpartition('@')
    netloc = REDACTED + '@' + hostport if at else hostport
    query = '&'.join(('%s=%s' % (piece.partition('=')[0], REDACTED)) if '=' in piece else REDACTED
                     for piece in parts.query.split('&')) if parts.query else ''
    return urlunsplit((parts.scheme, netloc, parts.path, query, ''))


def url_secrets(url, passwords_only=False):
    """What ``url`` carries that no output may repeat, as written and percent-decoded, longest first.

    The user, the password and every query value; with ``passwords_only``, the
    password and ``password`` query values (what libpq repeats in its messages).
    """
    try:
        parts = urlsplit(url or '')
        found = [parts.password] + ([] if passwords_only else [parts.username])
    except ValueError:
        return []
    for piece in parts.query.split('&'):
        key, eq, value = piece.partition('=')
        if eq and (not passwords_only or unquote(key) == 'password'):
            found.append(value)
    return sorted({form for secret in found if secret for form in (secret, unquote(secret))}, key=lambda text: (-len(text), text))
