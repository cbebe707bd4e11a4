# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The two shipped rulebooks: same rules, and every role variable handed to the playbooks as the role would default it."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible_rulebook.util import substitute_variables

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RULEBOOKS = os.path.join(REPO, 'extensions', 'eda', 'rulebooks')
ROLE_DEFAULTS = os.path.join(REPO, 'roles', 'preempt', 'defaults', 'main.yml')
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


def event():
    return {'payload': load(FIXTURE), 'meta': {'headers': {}}}


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
    cleared = event()
    cleared['payload']['data']['From'], cleared['payload']['data']['To'] = 'red', to
    variables = {'event': cleared}
    if restore_on_clear is not None:
        variables['preemption_restore_on_clear'] = restore_on_clear
    assert playbook_of(dropped, variables) == playbook


def test_unset_variables_get_the_role_defaults():
    defaults = load(ROLE_DEFAULTS)
    extra_vars = actions()['vsphere.preemption.preempt']['extra_vars']
    assert set(extra_vars) == set(defaults), 'every role variable (and only those) is handed to the playbooks'
    rendered = substitute_variables(extra_vars, {'event': event()})
    assert rendered.pop('preemption_event') == load(FIXTURE)
    defaults.pop('preemption_event')
    assert rendered == defaults


def test_set_variables_pass_through_with_their_types():
    extra_vars = actions()['vsphere.preemption.preempt']['extra_vars']
    given = {name: {'set': name, 'n': 1} for name in extra_vars}
    rendered = substitute_variables(extra_vars, dict(given, event=event()))
    assert rendered.pop('preemption_event') == load(FIXTURE)  # the event always comes from the trigger
    given.pop('preemption_event')
    assert rendered == given


@pytest.mark.parametrize('name', ['preemption.yml', 'preemption_vcenter.yml'])
def test_rulebook_secrets_are_not_handed_to_the_playbooks(name):
    text = json.dumps(ruleset(name)['rules'])
    assert 'preemption_webhook_token' not in text
