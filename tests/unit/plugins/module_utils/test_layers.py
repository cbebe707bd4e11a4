# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The layers of plugins/module_utils, as its README.md maps them: each file in a layer, no import upwards.

The map is read from the README's table, so the documented rule and the
checked rule cannot drift apart.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULE_UTILS = os.path.join(REPO, 'plugins', 'module_utils')
PREFIX = 'ansible_collections.vsphere.preemption.plugins.module_utils'
ROW = re.compile(r'^\| (\d+) \| `(_\w+)(?:/|\.py)` \| [^|]+ \| ([^|]+) \|$')


def layer_map(readme):
    """``{layer: (rank, allowed layers)}`` from the README's table."""
    ranks, allowed = {}, {}
    for line in readme.splitlines():
        match = ROW.match(line.strip())
        if match:
            ranks[match.group(2)] = int(match.group(1))
            allowed[match.group(2)] = match.group(3).strip()
    layers = {}
    for name, rank in ranks.items():
        text = allowed[name]
        if text == 'everything below':
            may = {other for other, other_rank in ranks.items() if other_rank < rank}
        else:
            may = set(re.findall(r'`(_\w+)`', text))
        layers[name] = (rank, may)
    return layers


def layer_of(relative_path):
    """The layer a file under module_utils belongs to: its package, or the module itself (``_errors``)."""
    return relative_path.split(os.sep)[0].removesuffix('.py')


def imported_layers(source, own_module):
    """The module_utils layers ``source`` imports (absolute or relative), anywhere in the file."""
    found = set()
    package = own_module.rsplit('.', 1)[0]
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + ['%s.%s' % (base, alias.name) for alias in node.names]
        for name in names:
            if name.startswith(PREFIX + '.'):
                found.add(name[len(PREFIX) + 1:].split('.')[0])
    return found


def violations(layers, own_layer, imported):
    """The imports a file of ``own_layer`` must not make: a layer above it, a sibling, or an unknown one."""
    rank, may = layers[own_layer]
    return sorted(other for other in imported if other != own_layer and other not in may)


def module_files():
    for directory, _dirs, files in os.walk(MODULE_UTILS):
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.relpath(os.path.join(directory, name), MODULE_UTILS)


def module_name(relative_path):
    return PREFIX + '.' + relative_path[:-3].replace(os.sep, '.').removesuffix('.__init__')


@pytest.fixture(scope='module')
def layers():
    with open(os.path.join(MODULE_UTILS, 'README.md')) as f:
        found = layer_map(f.read())
    assert {'_errors', '_vcenter', '_vm', '_state', '_run'} <= set(found), 'README.md lost the layer table: %r' % found
    return found


def test_every_file_belongs_to_a_mapped_layer(layers):
    stray = [path for path in module_files() if layer_of(path) not in layers]
    assert stray == [], 'put these in a layer package (plugins/module_utils/README.md): %s' % stray


def test_every_layer_package_has_an_init_for_ansibles_module_utils_finder(layers):
    for name in layers:
        if os.path.isdir(os.path.join(MODULE_UTILS, name)):
            assert os.path.isfile(os.path.join(MODULE_UTILS, name, '__init__.py')), name


def test_no_layer_imports_a_layer_above_it_or_a_sibling(layers):
    wrong = {}
    for path in module_files():
        with open(os.path.join(MODULE_UTILS, path)) as f:
            found = violations(layers, layer_of(path), imported_layers(f.read(), module_name(path)))
        if found:
            wrong[path] = found
    assert wrong == {}, 'imports against plugins/module_utils/README.md: %s' % wrong


@pytest.mark.parametrize('path', list(module_files()))
def test_each_file_imports_on_its_own(path):
    importlib.import_module(module_name(path))


# Control flow between an ops adapter and its engine, never shown to the user.
SIGNALS = {'AlreadyOff', 'AlreadyOn'}


def test_every_error_class_is_a_preemption_error():
    """One error hierarchy: whatever module_utils raises to the user carries ``retryable`` from PreemptionError."""
    base = importlib.import_module(PREFIX + '._errors').PreemptionError
    outside = []
    for path in module_files():
        module = importlib.import_module(module_name(path))
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, BaseException) and not issubclass(cls, base):
                if name not in SIGNALS:
                    outside.append('%s.%s' % (path, name))
    assert outside == [], 'derive these from _errors.PreemptionError: %s' % outside


def test_the_check_sees_an_upward_import_a_sibling_and_a_relative_one(layers):
    """The checker itself: each kind of wrong import is reported, an allowed one is not."""
    upward = 'from %s._run.request import build_plan\n' % PREFIX
    sibling = 'from %s import _state\n' % PREFIX
    relative = 'from .._vm import inventory\n'
    allowed = 'from %s._errors import PreemptionError\nfrom %s._vcenter.call import vcenter_call\n' % (PREFIX, PREFIX)
    own = PREFIX + '._vcenter.soap'
    assert violations(layers, '_vcenter', imported_layers(upward, own)) == ['_run']
    assert violations(layers, '_vcenter', imported_layers(sibling, own)) == ['_state']
    assert violations(layers, '_vcenter', imported_layers(relative, own)) == ['_vm']
    assert violations(layers, '_vm', imported_layers(allowed, PREFIX + '._vm.power_off')) == []
    assert violations(layers, '_errors', imported_layers(allowed, PREFIX + '._errors')) == ['_vcenter']
