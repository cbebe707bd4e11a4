#!/bin/sh
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs inside a preemptible VM. Polls the preemption notice that
# vsphere.preemption.power_off writes into the VM's guestinfo.preemption key
# and, once per notice, runs a drain hook before the deadline in it.
#
# Environment (all optional):
#   PREEMPTION_HOOK       executable run once per notice (default /etc/vsphere-preemption/drain)
#   PREEMPTION_INTERVAL   seconds between polls (default 5)
#   PREEMPTION_STATE      file remembering the notice already handled (default /run/vsphere-preemption/notice)
#   VMWARE_RPCTOOL        the vmware-rpctool binary (default: vmware-rpctool on PATH)
# The hook gets the notice (JSON) on stdin and in PREEMPTION_NOTICE, its deadline
# (RFC 3339 UTC) in PREEMPTION_DEADLINE and the seconds left in PREEMPTION_SECONDS_LEFT;
# it is stopped when the deadline passes. The notice is data: it is never evaluated.
#
# Usage: vsphere-preemption-notice.sh [--once]   (--once: poll a single time, then exit)

set -u

HOOK=${PREEMPTION_HOOK:-/etc/vsphere-preemption/drain}
INTERVAL=${PREEMPTION_INTERVAL:-5}
STATE=${PREEMPTION_STATE:-/run/vsphere-preemption/notice}
RPCTOOL=${VMWARE_RPCTOOL:-vmware-rpctool}

log() {
    printf 'vsphere-preemption-notice: %s\n' "$*" >&2
}

# The notice, or nothing when there is none (the key unset or emptied after a restore).
read_notice() {
    "$RPCTOOL" "info-get guestinfo.preemption" 2>/dev/null || true
}

handle() {
    notice=$1
    deadline=$(printf '%s' "$notice" | sed -n 's/.*"deadline":"\([^"]*\)".*/\1/p')
    left=0
    if [ -n "$deadline" ] && end=$(date -u -d "$deadline" +%s 2>/dev/null); then
        left=$((end - $(date -u +%s)))
    fi
    [ "$left" -gt 0 ] || left=0
    log "preemption notice, deadline ${deadline:-unknown} (${left} s left)"
    if [ ! -x "$HOOK" ]; then
        log "no executable drain hook at $HOOK; nothing to drain"
        return 0
    fi
    # Past the deadline the VM is being powered off anyway; still give the hook one second.
    [ "$left" -gt 0 ] || left=1
    printf '%s' "$notice" | PREEMPTION_NOTICE=$notice PREEMPTION_DEADLINE=$deadline PREEMPTION_SECONDS_LEFT=$left \
        timeout "$left" "$HOOK"
    status=$?
    [ "$status" -eq 0 ] || log "drain hook exited with status $status"
}

poll() {
    notice=$(read_notice)
    handled=$(cat "$STATE" 2>/dev/null || true)
    if [ -z "$notice" ]; then
        # Restored (power_on cleared the key): the next notice is a new one.
        [ -z "$handled" ] || : > "$STATE"
        return 0
    fi
    [ "$notice" != "$handled" ] || return 0
    # Remember it first: a hook that crashes the guest must not run again for the same notice.
    printf '%s' "$notice" > "$STATE"
    handle "$notice"
}

mkdir -p "$(dirname "$STATE")"
if [ "${1:-}" = "--once" ]; then
    poll
    exit 0
fi
while :; do
    poll
    sleep "$INTERVAL"
done
