# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role's defaults are defined once (request.ROLE_DEFAULTS); its argument specs document them, and accept null for each."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import ROLE_DEFAULTS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(REPO, 'roles', 'preempt')
PREFIX = 'preemption_'


def load(*path):
    with open(os.path.join(ROLE, *path), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


SPECS = load('meta', 'argument_specs.yml')['argument_specs']
ROLE_OPTIONS = [(entry, name, spec) for entry, specs in SPECS.items() for name, spec in specs['options'].items()
                if name[len(PREFIX):] in ROLE_DEFAULTS]


def described(spec):
    description = spec['description']
    return ' '.join(description) if isinstance(description, list) else description


def shown(value):
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize('entry, name, spec', ROLE_OPTIONS, ids=['%s:%s' % (entry, name) for entry, name, _spec in ROLE_OPTIONS])
def test_documented_default_is_the_plans(entry, name, spec):
    default = ROLE_DEFAULTS[name[len(PREFIX):]]
    if 'default' in spec:
        assert spec['default'] == default
    elif name == 'preemption_restore_wait':
        assert default is None and 'Default V(true) when a rulebook started the run' in described(spec)
    elif default is not None:
        assert 'Default V(%s), also when given as null.' % shown(default) in described(spec)


@pytest.mark.parametrize('entry', sorted(SPECS))
def test_null_passes_the_role_argument_validation(entry):
    # What the rulebooks pass for every variable they were not given; the plan then uses the default.
    spec = {name: {key: value for key, value in option.items() if key not in ('description', 'version_added')}
            for name, option in SPECS[entry]['options'].items()}
    nulls = {name: None for name in spec if name[len(PREFIX):] in ROLE_DEFAULTS}
    result = ArgumentSpecValidator(spec).validate(nulls, validate_role_argument_spec=True)
    assert result.error_messages == []


def test_every_default_is_documented_and_the_role_defaults_hold_only_the_setup_variables():
    documented = {name[len(PREFIX):] for _entry, name, _spec in ROLE_OPTIONS}
    assert documented == set(ROLE_DEFAULTS)
    defaults = load('defaults', 'main.yml')
    assert sorted(defaults) == sorted(name for name in SPECS['setup']['options'] if name.startswith(PREFIX + 'setup_'))
    for name, value in defaults.items():
        assert SPECS['setup']['options'][name].get('default') == value
