# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An action plugin's options are documented by the doc-only module of the same name.

ansible-test's validate-modules compares a module's argument spec with its
DOCUMENTATION, but an action plugin's spec lives in plugins/action/, where it
does not look; this test holds the two equal (names, types, defaults, choices).
"""

from __future__ import annotations

import importlib

import pytest
import yaml

ACTION_PLUGINS = ('preempt_plan', 'preempt_books', 'workflow_state', 'cloudevent', 'vcenter_session')


def documented_options(name):
    module = importlib.import_module('ansible_collections.vsphere.preemption.plugins.modules.' + name)
    documentation = yaml.safe_load(module.DOCUMENTATION)
    options = {}
    for fragment in documentation.get('extends_documentation_fragment') or ():
        fragments = importlib.import_module('ansible_collections.vsphere.preemption.plugins.doc_fragments.' + fragment.rsplit('.', 1)[-1])
        options.update(yaml.safe_load(fragments.ModuleDocFragment.DOCUMENTATION)['options'])
    options.update(documentation['options'])
    return options


def argument_spec(name):
    return importlib.import_module('ansible_collections.vsphere.preemption.plugins.action.' + name).ARGUMENT_SPEC


def facts(spec):
    """What a user relies on: the type ('str' when left out), the default and the choices."""
    return {key: (option.get('type', 'str'), option.get('default'), sorted(option.get('choices') or []))
            for key, option in spec.items()}


@pytest.mark.parametrize('name', ACTION_PLUGINS)
def test_every_option_an_action_plugin_takes_is_documented_as_it_is(name):
    documented = documented_options(name)
    spec = argument_spec(name)
    assert sorted(documented) == sorted(spec)
    # preempt_plan takes the role's variables as given (type raw) and checks them itself; its docs give their types.
    typed = {key: option for key, option in spec.items() if option.get('type') != 'raw'}
    assert facts({key: documented[key] for key in typed}) == facts(typed)
