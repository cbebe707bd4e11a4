# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests, ``bench/`` and ``tools/demo.py`` share: harnesses, fakes and helpers, none of them a test.

Real things, run locally
    vcsim/               govmomi's vCenter simulator: main.go, built and run by harness.py (Simulator, VCenterClient)
    postgres/            a real PostgreSQL server (harness.py), its pytest fixtures, a state-backend controller process
    ansible_cli          the real ``ansible`` / ``ansible-playbook`` with this checkout as vsphere.preemption
    rulebook_cli         the real ``ansible-rulebook`` (Rulebook), waiting for a condition
    event_receiver       a real CloudEvent receiver over HTTP (EventReceiver)
    machine              a free loopback port; the harnesses' Debian packages, installed on demand
Fakes and faults
    fault_proxy          a proxy in front of the simulator or a CloudEvent sink that injects faults (FaultProxy)
    controller_stub      automation controller's job-template API, as ansible-rulebook's run_job_template uses it
    json_server          a loopback HTTP(S) server answering JSON (JsonServer, ScriptedServer)
    state_fakes          a settable Clock and predictable run Ids for the state stores; processes racing for one
    process_umask        the process umask, set for a block
What a test reads or builds
    preempt_helpers      simulator set-up, alarm events and runs of the role's playbooks
    preemption_invariants  the promises every preemption keeps, checked after a test's runs
    preemption_requests  the role's requests and the VEBA red-alarm fixture, for the unit tests
    guest_notice_view    what a guest sees of the notice, and a watcher that polls it
    vcenter_events       what vCenter's event log holds, newer than a key
"""
