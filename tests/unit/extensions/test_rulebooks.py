# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shipped rulebooks: same rules, routing on what the filter computed, and every role variable handed to the playbooks.

Two families: preemption.yml and preemption_vcenter.yml run playbooks (run_playbook, the ansible-rulebook CLI);
preemption_controller.yml and preemption_vcenter_controller.yml launch job templates (run_job_template, what an
Event-Driven Ansible controller activation can do) and are otherwise the same rulebooks.
"""

from __future__ import annotations

import json
import os

import jinja2
import pytest
import yaml
from ansible_rulebook.util import substitute_variables

from ansible_collections.vsphere.preemption.extensions.eda.plugins.event_filter.normalize_cloudevent import main as normalize
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import ALARM_COLORS, ROLE_DEFAULTS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RULEBOOKS = os.path.join(REPO, 'extensions', 'eda', 'rulebooks')
FIXTURE = os.path.join(REPO, 'tests', 'fixtures', 'veba-alarm-red.json')


def load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def ruleset(name):
    rulebook = load(os.path.join(RULEBOOKS, name))
    assert len(rulebook) == 1
    return rulebook[0]


def actions():
    """The run_playbook actions by playbook, the drop rule's as it runs without preemption_restore_on_clear."""
    rules = ruleset('preemption.yml')['rules']
    return {playbook_of(rule, {'event': event()}): rule['action']['run_playbook'] for rule in rules}


def playbook_of(rule, variables):
    return substitute_variables(rule['action']['run_playbook']['name'], variables).strip()


def event(old=None, new=None):
    """The fixture's alarm (changed from ``old`` to ``new``) as the webhook and the filter hand it to the rules."""
    payload = load(FIXTURE)
    if old is not None:
        payload['data']['From'], payload['data']['To'] = old, new
    return normalize({'payload': payload, 'meta': {'headers': {}}})


def test_both_rulebooks_have_the_same_rules():
    webhook, vcenter = ruleset('preemption.yml'), ruleset('preemption_vcenter.yml')
    assert webhook['rules'] == vcenter['rules']
    assert {k: v for k, v in webhook.items() if k not in ('sources', 'rules')} == {k: v for k, v in vcenter.items() if k not in ('sources', 'rules')}
    assert [list(s) for s in webhook['sources']] == [['name', 'eda.builtin.webhook', 'filters']]
    assert [list(s) for s in vcenter['sources']] == [['name', 'vsphere.preemption.alarms']]


def test_raised_runs_preempt_and_dropped_runs_cancel_with_the_same_variables():
    found = actions()
    assert sorted(found) == ['vsphere.preemption.cancel', 'vsphere.preemption.preempt']
    assert found['vsphere.preemption.preempt']['extra_vars'] == found['vsphere.preemption.cancel']['extra_vars']


@pytest.mark.parametrize('restore_on_clear, to, playbook', [
    (None, 'green', 'vsphere.preemption.cancel'), (False, 'green', 'vsphere.preemption.cancel'),
    (True, 'green', 'vsphere.preemption.restore'), ('true', 'gray', 'vsphere.preemption.restore'),
    # Red to yellow: the pressure is still there; with restore_on_clear the record the restore needs is kept.
    (None, 'yellow', 'vsphere.preemption.cancel'), (True, 'yellow', 'vsphere.preemption.status'),
])
def test_a_drop_to_green_or_gray_restores_only_with_restore_on_clear(restore_on_clear, to, playbook):
    dropped = [rule for rule in ruleset('preemption.yml')['rules'] if rule['name'] == 'Alarm dropped'][0]
    variables = {'event': event('red', to)}
    if restore_on_clear is not None:
        variables['preemption_restore_on_clear'] = restore_on_clear
    assert playbook_of(dropped, variables) == playbook


def test_unset_variables_are_null_for_the_role_to_default():
    # Every role variable of the plan's table (and only those: the setup entry point's are no rulebook's) is handed on.
    extra_vars = actions()['vsphere.preemption.preempt']['extra_vars']
    assert set(extra_vars) == {'preemption_' + name for name in ROLE_DEFAULTS} | {'preemption_event'}
    rendered = substitute_variables(extra_vars, {'event': event()})
    assert rendered.pop('preemption_event') == load(FIXTURE)
    # No default is written in a rulebook: null, which the role's plan reads as its default.
    assert rendered == {name: None for name in rendered}


@pytest.mark.parametrize('name', ['preemption.yml', 'preemption_vcenter.yml', 'preemption_controller.yml', 'preemption_vcenter_controller.yml'])
def test_rules_route_on_what_the_event_means_only(name):
    # Conditions read event.preemption (computed in Python), never the CloudEvent's colours, types or scope.
    text = json.dumps(ruleset(name)['rules'])
    for decided_in_python in ('event.payload.data', 'event.payload.subject', 'event.payload.type', 'ComputeResource', "'Host'"):
        assert decided_in_python not in text
    for rule in ruleset(name)['rules']:
        assert rule['condition'].startswith('event.preemption.alarm == vars.preemption_alarm_name and event.preemption.change ')


def test_set_variables_pass_through_with_their_types():
    extra_vars = actions()['vsphere.preemption.preempt']['extra_vars']
    given = {name: {'set': name, 'n': 1} for name in extra_vars}
    rendered = substitute_variables(extra_vars, dict(given, event=event()))
    assert rendered.pop('preemption_event') == load(FIXTURE)  # the event always comes from the trigger
    given.pop('preemption_event')
    assert rendered == given


@pytest.mark.parametrize('name', ['preemption.yml', 'preemption_vcenter.yml', 'preemption_controller.yml', 'preemption_vcenter_controller.yml'])
def test_rulebook_secrets_are_not_handed_to_the_playbooks(name):
    text = json.dumps(ruleset(name)['rules'])
    assert 'preemption_webhook_token' not in text


# --------------------------------------------------------------------------- the controller family

# (rulebook that runs playbooks, its twin that launches job templates)
TWINS = [('preemption.yml', 'preemption_controller.yml'), ('preemption_vcenter.yml', 'preemption_vcenter_controller.yml')]
# The job template variable of each playbook, and its default name.
TEMPLATES = {
    'vsphere.preemption.preempt': ('preemption_job_template', 'vsphere.preemption preempt'),
    'vsphere.preemption.cancel': ('preemption_cancel_job_template', 'vsphere.preemption cancel'),
    'vsphere.preemption.restore': ('preemption_restore_job_template', 'vsphere.preemption restore'),
    'vsphere.preemption.status': ('preemption_status_job_template', 'vsphere.preemption status'),
}


def action_of(rule):
    [(kind, args)] = rule['action'].items()
    return kind, args


@pytest.mark.parametrize('local, controller', TWINS)
def test_the_controller_rulebooks_are_the_local_ones_launching_job_templates(local, controller):
    playbooks, templates = ruleset(local), ruleset(controller)
    # Same hosts, execution strategy, sources and filters; only the ruleset's name tells them apart.
    assert {k: v for k, v in playbooks.items() if k not in ('name', 'rules')} == {k: v for k, v in templates.items() if k not in ('name', 'rules')}
    assert templates['sources'] == playbooks['sources']
    assert [rule['name'] for rule in templates['rules']] == [rule['name'] for rule in playbooks['rules']] == ['Alarm raised', 'Alarm dropped']
    for local_rule, controller_rule in zip(playbooks['rules'], templates['rules']):
        # Name, condition and anything else a rule may carry: all but the action.
        assert {k: v for k, v in controller_rule.items() if k != 'action'} == {k: v for k, v in local_rule.items() if k != 'action'}
        (local_kind, run), (controller_kind, launch) = action_of(local_rule), action_of(controller_rule)
        assert (local_kind, controller_kind) == ('run_playbook', 'run_job_template')
        assert sorted(run) == ['extra_vars', 'lock', 'name']
        assert sorted(launch) == ['job_args', 'lock', 'name', 'organization']
        # The same per-scope lock, and the same extra vars (the event and every role variable), nothing else.
        assert launch['lock'] == run['lock']
        assert launch['job_args'] == {'extra_vars': run['extra_vars']}


@pytest.mark.parametrize('restore_on_clear', [None, False, True, 'true', 'no'])
@pytest.mark.parametrize('local, controller', TWINS)
def test_each_action_launches_the_job_template_of_the_playbook_its_twin_runs(local, controller, restore_on_clear):
    chosen = set()
    for old in ALARM_COLORS:
        for new in ALARM_COLORS:
            variables = {'event': event(old, new)}
            if restore_on_clear is not None:
                variables['preemption_restore_on_clear'] = restore_on_clear
            change = variables['event']['preemption']['change']
            # The rule whose condition the change meets (none meets no rule).
            matching = {'raised': ['Alarm raised'], 'eased': ['Alarm dropped'], 'cleared': ['Alarm dropped'], 'none': []}[change]
            for local_rule, controller_rule in zip(ruleset(local)['rules'], ruleset(controller)['rules']):
                if local_rule['name'] not in matching:
                    continue
                playbook = playbook_of(local_rule, variables)
                name = action_of(controller_rule)[1]['name']
                variable, default = TEMPLATES[playbook]
                assert substitute_variables(name, variables).strip() == default
                # Each template variable set to a name of its own: the one of this playbook is launched.
                named = dict(variables, **{var: 'JT %s' % var for var, _default in TEMPLATES.values()})
                assert substitute_variables(name, named).strip() == 'JT %s' % variable
                chosen.add(playbook)
    expected = {'vsphere.preemption.preempt', 'vsphere.preemption.cancel'}
    if restore_on_clear in (True, 'true'):
        expected = {'vsphere.preemption.preempt', 'vsphere.preemption.restore', 'vsphere.preemption.status'}
    assert chosen == expected


@pytest.mark.parametrize('controller', [twin for _local, twin in TWINS])
def test_the_organization_is_required(controller):
    for rule in ruleset(controller)['rules']:
        organization = action_of(rule)[1]['organization']
        assert substitute_variables(organization, {'event': event(), 'preemption_organization': 'Ops'}) == 'Ops'
        # Unset, it is an error naming the variable (ansible-rulebook stops), never an empty or "Undefined" organization.
        with pytest.raises(jinja2.UndefinedError, match="'preemption_organization' is undefined"):
            substitute_variables(organization, {'event': event()})


@pytest.mark.parametrize('restore_on_clear', [None, False, 'no', True, 'yes'])
def test_locks_come_from_the_event_and_only_a_restore_takes_its_own(restore_on_clear):
    rules = {rule['name']: rule['action']['run_playbook'] for rule in ruleset('preemption.yml')['rules']}
    restoring = restore_on_clear in (True, 'yes')
    for old, new, rule, lock in (('green', 'red', 'Alarm raised', 'domain-c7'), ('gray', 'yellow', 'Alarm raised', 'domain-c7'),
                                 ('red', 'yellow', 'Alarm dropped', 'domain-c7'),
                                 ('red', 'green', 'Alarm dropped', 'restore:domain-c7' if restoring else 'domain-c7'),
                                 ('yellow', 'gray', 'Alarm dropped', 'restore:domain-c7' if restoring else 'domain-c7')):
        variables = {'event': event(old, new)}
        if restore_on_clear is not None:
            variables['preemption_restore_on_clear'] = restore_on_clear
        assert substitute_variables(rules[rule]['lock'], variables) == lock
    # A host's event (no cluster) locks the host; one with neither, all of vCenter.
    hosted = event('green', 'red')
    hosted['payload']['data']['ComputeResource'] = None
    assert substitute_variables(rules['Alarm raised']['lock'], {'event': normalize(hosted)}) == 'host-21'
    hosted['payload']['data']['Host'] = None
    assert substitute_variables(rules['Alarm raised']['lock'], {'event': normalize(hosted)}) == 'all'
