# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import json

import pytest

from tests.support.preemption_requests import alarm, red_alarm, request
from ansible_collections.vsphere.preemption.plugins.module_utils._run.request import (
    REQUEST_KEYS,
    ROLE_DEFAULTS,
    PreemptionRequestError,
    alarm_action,
    build_plan,
    plain_data,
    run_settings,
    scope_keys,
    workflow_identity,
)


@pytest.fixture
def red_event():
    return red_alarm()


# ------------------------------------------------------------------ criticality

@pytest.mark.parametrize('given, expected, mode', [
    ('LOW', 'LOW', 'soft'), ('low', 'LOW', 'soft'), (' Medium ', 'MEDIUM', 'soft_then_hard'), ('hIgH', 'HIGH', 'hard'),
])
def test_criticality_any_case_sets_the_mode(given, expected, mode):
    plan = build_plan(request(criticality=given))
    assert (plan['criticality'], plan['mode'], plan['forced']) == (expected, mode, mode == 'hard')
    assert (plan['action'], plan['workflow_id'], plan['scope'], plan['event_id']) == ('preempt', 'manual', None, None)


@pytest.mark.parametrize('bad', ['SUPER', 'critical', 3, ['HIGH']])
def test_bad_criticality_names_value_and_allowed_ones(bad):
    with pytest.raises(PreemptionRequestError) as error:
        build_plan(request(criticality=bad))
    message = str(error.value)
    assert message.startswith('preemption_criticality ')
    assert json.dumps(bad) in message or repr(bad) in message
    assert 'LOW, MEDIUM or HIGH' in message


def test_criticality_is_required_without_an_alarm():
    with pytest.raises(PreemptionRequestError, match='preemption_criticality is required'):
        build_plan(request())
    with pytest.raises(PreemptionRequestError, match='preemption_criticality is required'):
        build_plan(request(criticality='  '))


# ------------------------------------------------------------------ tag, numbers, scope, reply_to

def test_tag_is_stripped_and_required():
    assert build_plan(request(criticality='LOW', tag='  spot ', tag_category=' ops '))['tag'] == 'spot'
    assert build_plan(request(criticality='LOW', tag_category=' ops '))['tag_category'] == 'ops'
    assert build_plan(request(criticality='LOW', tag_category=''))['tag_category'] is None
    for bad in ('', '   ', 7):
        with pytest.raises(PreemptionRequestError, match='^preemption_tag .* is not valid'):
            build_plan(request(criticality='LOW', tag=bad))
    # Null is unset (what a rulebook passes for a variable it was not given): the role's default.
    assert build_plan(request(criticality='LOW', tag=None))['tag'] == ROLE_DEFAULTS['tag'] == 'preemptible'


@pytest.mark.parametrize('name, good, bad', [
    ('max_vms', [1, 1000, '25'], [0, 1001, -1, 'ten', True, 2.5, '']),
    ('parallel', [1, 50], [0, 51]),
    ('retries', [0, 20, ' 3 '], [-1, 21]),
    ('retry_delay', [0, 300], [-1, 301]),
    ('threshold', [0, 86400 * 365], [-1, '1m']),
    ('grace_period', [0, 3600, 30.0], [-5, 3601]),
])
def test_numbers_within_their_range(name, good, bad):
    for value in good:
        assert build_plan(request(criticality='LOW', **{name: value}))[name] == int(value)
    for value in bad:
        with pytest.raises(PreemptionRequestError) as error:
            build_plan(request(criticality='LOW', **{name: value}))
        assert str(error.value).startswith('preemption_%s %s is not valid: an integer ' % (name, repr(value) if isinstance(value, str) else json.dumps(value)))


@pytest.mark.parametrize('scope, expected', [
    ('all', None), ('ALL', None), ('domain-c7', 'domain-c7'), ('host-21', 'host-21'), ('resgroup-8', 'resgroup-8'),
    ('resgroup-v12', 'resgroup-v12'), ('group-v3', 'group-v3'), ('domain-s30', 'domain-s30'), (' host-9 ', 'host-9'),
])
def test_scope_moids_and_keywords(scope, expected):
    assert build_plan(request(criticality='HIGH', scope=scope))['scope'] == expected


@pytest.mark.parametrize('scope, expected', [('clustercomputeresource-27', 'clustercomputeresource-27'), ('folder-3', 'folder-3'),
                                             ('datacenter-2', 'datacenter-2')])
def test_scope_moids_of_the_simulator(scope, expected):
    assert build_plan(request(criticality='HIGH', scope=scope))['scope'] == expected


@pytest.mark.parametrize('scope', ['DC0_C0', ' /DC0/host/DC0_C0 ', 'compute 01 (prod)', 'Rechenzentrum München/Cluster 2'])
def test_scope_names_and_paths_pass_through_for_tagged_vm_info_to_resolve(scope):
    assert build_plan(request(criticality='HIGH', scope=scope))['scope'] == scope.strip()


@pytest.mark.parametrize('scope', [42, ['domain-c7'], {'name': 'DC0_C0'}])
def test_scope_that_is_not_text_is_named(scope):
    with pytest.raises(PreemptionRequestError, match=r"^preemption_scope .* is not valid: use 'event'"):
        build_plan(request(criticality='HIGH', scope=scope))


def test_reply_to_must_be_an_http_url():
    assert build_plan(request(criticality='LOW', reply_to=' https://sink.example.com/events '))['reply_to'] == 'https://sink.example.com/events'
    assert build_plan(request(criticality='LOW', reply_to=''))['reply_to'] is None
    with pytest.raises(PreemptionRequestError, match="^preemption_reply_to 'sink:...' is not valid"):
        build_plan(request(criticality='LOW', reply_to='sink:8080'))


def test_the_sink_is_shown_without_credentials_or_query():
    plan = build_plan(request(criticality='LOW', reply_to='https://bot:s3cret@sink.example.com:8443/hook?token=abc#x'))
    # The plan is shown and recorded: the URL itself only when it carries no credential.
    assert plan['reply_to'] is None and plan['recorded']['reply_to'] is None
    assert plan['sink'] == plan['recorded']['sink'] == 'https://***@sink.example.com:8443/hook?token=***'
    assert 's3cret' not in json.dumps(plan) and 'abc' not in json.dumps(plan)
    with pytest.raises(PreemptionRequestError) as caught:
        build_plan(request(criticality='LOW', reply_to='sink:s3cret@x'))
    assert 's3cret' not in str(caught.value)


@pytest.mark.parametrize('value, expected', [(True, True), ('yes', True), ('True', True), (' 1 ', True), (None, False),
                                             ('false', False), ('', False), (False, False), ('no', False)])
def test_create_field_is_a_boolean(value, expected):
    assert build_plan(request(criticality='LOW', create_field=value))['create_field'] is expected


def test_a_create_field_that_is_no_boolean_is_named():
    with pytest.raises(PreemptionRequestError, match="^preemption_create_field 'maybe' is not valid: use true or false."):
        build_plan(request(criticality='LOW', create_field='maybe'))


def test_unknown_request_keys_are_refused():
    with pytest.raises(PreemptionRequestError, match='Unknown preemption request keys: critcality'):
        build_plan(request(critcality='HIGH'))
    with pytest.raises(PreemptionRequestError, match='must be a dict'):
        build_plan(['HIGH'])


def test_event_text_is_kept_as_plain_data():
    hostile = {'id': '{{ lookup("pipe", "id") }}', 'data': {'Host': {'Name': '{{ 7 * 7 }}'}}}
    assert plain_data(hostile, 'preemption_event') == hostile
    # A plain str, not the tagged subclass ansible-core would render.
    assert plain_data(hostile, 'preemption_event')['id'].__class__ is str
    with pytest.raises(PreemptionRequestError, match='^preemption_event must be JSON data .* not set'):
        plain_data({1, 2}, 'preemption_event')


# ------------------------------------------------------------------ the trigger event

def test_red_alarm_preempts_hard_in_the_event_cluster(red_event):
    plan = build_plan(request(event=red_event))
    assert plan['action'] == 'preempt'
    assert (plan['criticality'], plan['mode'], plan['forced']) == ('HIGH', 'hard', True)
    assert plan['workflow_id'] == 'cluster-cpu-above-80'
    assert plan['scope'] == 'domain-c7'
    assert plan['event_id'] == 'd65a8ad1-7d3c-4f72-ace4-e3f2883c4475'
    assert plan['event'] == red_event
    assert plan['reason'] == "alarm 'cluster-cpu-above-80' green -> red"


def test_event_scope_falls_back_to_the_host_then_to_everything(red_event):
    red_event['data']['ComputeResource'] = None
    assert build_plan(request(event=red_event))['scope'] == 'host-21'
    red_event['data']['Host'] = None
    assert build_plan(request(event=red_event))['scope'] is None
    assert build_plan(request(event=red_event, scope='domain-c9'))['scope'] == 'domain-c9'


def test_scope_all_ignores_the_event(red_event):
    assert build_plan(request(event=red_event, scope='all'))['scope'] is None


def test_event_as_json_text(red_event):
    assert build_plan(request(event=json.dumps(red_event)))['workflow_id'] == 'cluster-cpu-above-80'


def test_explicit_workflow_id_and_criticality_win(red_event):
    plan = build_plan(request(event=red_event, workflow_id=' nightly ', criticality='low'))
    assert (plan['workflow_id'], plan['criticality'], plan['mode']) == ('nightly', 'LOW', 'soft')


@pytest.mark.parametrize('old, new, action, criticality', [
    ('green', 'red', 'preempt', 'HIGH'), ('gray', 'red', 'preempt', 'HIGH'), ('yellow', 'red', 'preempt', 'HIGH'),
    ('green', 'yellow', 'preempt', 'MEDIUM'), ('gray', 'yellow', 'preempt', 'MEDIUM'),
    ('red', 'yellow', 'cancel', None), ('red', 'green', 'cancel', None), ('yellow', 'green', 'cancel', None),
    ('red', 'gray', 'cancel', None), ('green', 'gray', 'cancel', None), ('gray', 'green', 'cancel', None),
    ('red', 'red', 'ignore', None), ('green', 'green', 'ignore', None),
])
def test_alarm_transitions(red_event, old, new, action, criticality):
    assert alarm_action(old, new) == (action, criticality)
    plan = build_plan(request(event=alarm(red_event, old.upper(), new.capitalize())))
    assert (plan['action'], plan['criticality']) == (action, criticality)
    assert plan['workflow_id'] == 'cluster-cpu-above-80'


def test_dropped_alarm_still_validates_explicit_criticality(red_event):
    with pytest.raises(PreemptionRequestError, match='preemption_criticality'):
        build_plan(request(event=alarm(red_event, 'red', 'green'), criticality='urgent'))


def test_a_non_alarm_cloudevent_needs_a_criticality():
    event = {'id': 'job-42', 'specversion': '1.0', 'data': {}}
    with pytest.raises(PreemptionRequestError, match='preemption_criticality is required'):
        build_plan(request(event=event))
    plan = build_plan(request(event=event, criticality='MEDIUM'))
    assert (plan['action'], plan['workflow_id'], plan['event_id'], plan['scope'], plan['reason']) == ('preempt', 'manual', 'job-42', None, 'event job-42')


@pytest.mark.parametrize('mutate, fragment', [
    (lambda e: e.pop('id'), "a CloudEvent needs a non-empty 'id'"),
    (lambda e: e.update(id='  '), "a CloudEvent needs a non-empty 'id'"),
    (lambda e: e.update(data='text'), "needs its 'data' as a dict"),
    (lambda e: e['data'].pop('Alarm'), 'an alarm event needs data.Alarm.Name'),
    (lambda e: e['data']['Alarm'].update(Name=''), 'an alarm event needs data.Alarm.Name'),
    (lambda e: e['data'].update(To='purple'), 'data.To of an alarm event must be one of green, yellow, red, gray'),
    (lambda e: e['data'].pop('From'), 'data.From of an alarm event must be one of'),
    (lambda e: e['data']['ComputeResource'].update(ComputeResource={}), 'data.ComputeResource.ComputeResource.Value must be'),
    (lambda e: e['data'].update(Host='esx-1'), 'data.Host.Host.Value must be'),
])
def test_malformed_events_are_named(red_event, mutate, fragment):
    mutate(red_event)
    with pytest.raises(PreemptionRequestError) as error:
        build_plan(request(event=red_event))
    assert str(error.value).startswith('preemption_event ')
    assert fragment in str(error.value)


@pytest.mark.parametrize('bad', ['not json', '[1, 2]', ['a'], 42])
def test_an_event_that_is_no_dict(bad):
    with pytest.raises(PreemptionRequestError, match='^preemption_event .* is not valid: expected a CloudEvent'):
        build_plan(request(event=bad))


def test_long_values_are_shortened_in_messages(red_event):
    red_event['id'] = ''
    with pytest.raises(PreemptionRequestError) as error:
        build_plan(request(event=red_event))
    assert '...' in str(error.value) and len(str(error.value)) < 250


# ------------------------------------------------------------------ vCenter, workflow identity

def test_the_vcenter_names_the_state_key_and_the_event_source(red_event):
    plan = build_plan(request(event=red_event))
    assert (plan['vcenter'], plan['state_key'], plan['event_source']) == (
        'vc1.example.com', 'cluster-cpu-above-80/domain-c7@vc1.example.com', '/vsphere.preemption/vc1.example.com')
    plan = build_plan(request(criticality='LOW', vcenter_hostname='127.0.0.1', vcenter_port='8989', event_source='urn:x'))
    assert (plan['vcenter'], plan['state_key'], plan['event_source']) == ('127.0.0.1:8989', 'manual@127.0.0.1:8989', 'urn:x')
    assert build_plan(request(criticality='LOW', vcenter_port=443))['vcenter'] == 'vc1.example.com'


def test_a_vcenter_is_required():
    for hostname in (None, '', '  '):
        with pytest.raises(PreemptionRequestError, match=r'^No vCenter to connect to: set vcenter_hostname \(or the VMWARE_HOST environment variable\)'):
            build_plan(request(criticality='LOW', vcenter_hostname=hostname))
    for port in ('http', 0, 70000, True):
        with pytest.raises(PreemptionRequestError, match='^vcenter_port .* is not valid: a TCP port from 1 to 65535'):
            build_plan(request(criticality='LOW', vcenter_port=port))


def test_workflow_identity_needs_no_criticality(red_event):
    assert workflow_identity(request()) == {'workflow_id': 'manual', 'vcenter': 'vc1.example.com', 'state_key': 'manual@vc1.example.com',
                                            'reason': 'manual run', 'criticality': None, 'mode': None, 'scope': None, 'per_scope': False}
    assert workflow_identity(request(event=red_event))['state_key'] == 'cluster-cpu-above-80/domain-c7@vc1.example.com'
    assert workflow_identity(request(workflow_id='nightly', criticality='bogus'))['workflow_id'] == 'nightly'
    assert workflow_identity(request(event=alarm(red_event, 'red', 'green')))['reason'] == "alarm 'cluster-cpu-above-80' red -> green"
    with pytest.raises(PreemptionRequestError, match='^No vCenter'):
        workflow_identity(request(vcenter_hostname=None))


def test_the_plan_says_when_its_scope_came_from_the_event(red_event):
    assert build_plan(request(event=red_event))['scope_origin'] == "preemption_event's data.ComputeResource, else its data.Host"
    assert build_plan(request(event=red_event, scope='domain-c8'))['scope_origin'] is None
    assert build_plan(request(criticality='LOW'))['scope_origin'] is None


def test_the_plan_records_what_finishing_the_run_needs(red_event):
    plan = build_plan(request(event=red_event, reply_to='http://sink/'))
    assert plan['recorded'] == {
        'workflow_id': 'cluster-cpu-above-80', 'criticality': 'HIGH', 'mode': 'hard', 'scope': 'domain-c7',
        'reason': "alarm 'cluster-cpu-above-80' green -> red", 'tag': 'preemptible', 'event_id': red_event['id'],
        'reply_to': 'http://sink/', 'sink': 'http://sink/', 'event_source': '/vsphere.preemption/vc1.example.com', 'vcenter': 'vc1.example.com',
        'notice_period': 0, 'capacity_target': None}


# ------------------------------------------------------------------ spot lifecycle: protect tag, notice period

@pytest.mark.parametrize('given, expected', [(None, 0), ('', 0), (0, 0), ('120', 120), (3600, 3600)])
def test_notice_period_defaults_to_zero_and_accepts_digit_strings(given, expected):
    assert build_plan(request(criticality='LOW', notice_period=given))['notice_period'] == expected


@pytest.mark.parametrize('bad', [-1, 3601, 'soon', 1.5, True])
def test_bad_notice_period_names_the_variable_and_the_range(bad):
    with pytest.raises(PreemptionRequestError) as error:
        build_plan(request(criticality='LOW', notice_period=bad))
    assert str(error.value).startswith('preemption_notice_period ')
    assert 'an integer from 0 to 3600' in str(error.value)


def test_protect_tag_is_optional_text():
    assert build_plan(request(criticality='LOW'))['protect_tag'] is None
    assert build_plan(request(criticality='LOW', protect_tag=' protection:do-not-preempt '))['protect_tag'] == 'protection:do-not-preempt'
    with pytest.raises(PreemptionRequestError) as error:
        build_plan(request(criticality='LOW', protect_tag=['a']))
    assert str(error.value).startswith('preemption_protect_tag ')


# ------------------------------------------------------------------ a workflow per alarm and scope

def test_the_same_alarm_on_two_clusters_is_two_workflows(red_event):
    other = copy.deepcopy(red_event)
    other['data']['ComputeResource']['ComputeResource']['Value'] = 'domain-c9'
    first, second = build_plan(request(event=red_event)), build_plan(request(event=other))
    assert (first['workflow_id'], second['workflow_id']) == ('cluster-cpu-above-80', 'cluster-cpu-above-80')
    assert (first['state_key'], second['state_key']) == ('cluster-cpu-above-80/domain-c7@vc1.example.com',
                                                         'cluster-cpu-above-80/domain-c9@vc1.example.com')
    # The drop of an alarm names its scope the same way, so it finds the record its raise wrote.
    assert workflow_identity(request(event=alarm(other, 'red', 'green')))['state_key'] == second['state_key']


def test_a_host_alarm_is_the_workflow_of_its_cluster_else_of_its_host(red_event):
    on_other_host = copy.deepcopy(red_event)
    on_other_host['data']['Host']['Host']['Value'] = 'host-99'
    assert build_plan(request(event=on_other_host))['state_key'] == build_plan(request(event=red_event))['state_key']
    del on_other_host['data']['ComputeResource']
    assert build_plan(request(event=on_other_host))['state_key'] == 'cluster-cpu-above-80/host-99@vc1.example.com'


def test_a_given_scope_names_the_workflow_and_an_explicit_workflow_id_ignores_the_scope(red_event):
    assert build_plan(request(event=red_event, scope='all'))['state_key'] == 'cluster-cpu-above-80/all@vc1.example.com'
    assert build_plan(request(event=red_event, scope='domain-c8'))['state_key'] == 'cluster-cpu-above-80/domain-c8@vc1.example.com'
    plan = build_plan(request(event=red_event, workflow_id='nightly'))
    assert (plan['state_key'], plan['scope'], plan['per_scope']) == ('nightly@vc1.example.com', 'domain-c7', False)


def test_status_and_cancel_act_on_each_scope_of_a_workflow(red_event):
    stored = ['cluster-cpu-above-80/domain-c7@vc1.example.com', 'cluster-cpu-above-80/domain-c9@vc1.example.com',
              'cluster-cpu-above-80/domain-c7@vc2.example.com', 'cluster-cpu-above-80@vc1.example.com',
              'cluster-cpu-above-80/x@y@vc1.example.com', 'other/domain-c7@vc1.example.com']
    by_id = request(workflow_id='cluster-cpu-above-80')
    assert scope_keys(by_id, stored) == ['cluster-cpu-above-80@vc1.example.com', 'cluster-cpu-above-80/domain-c7@vc1.example.com',
                                         'cluster-cpu-above-80/domain-c9@vc1.example.com']
    assert scope_keys(dict(by_id, scope='domain-c9'), stored) == ['cluster-cpu-above-80/domain-c9@vc1.example.com']
    assert scope_keys(dict(by_id, scope='all'), stored) == ['cluster-cpu-above-80/all@vc1.example.com']
    assert scope_keys(request(event=alarm(red_event, 'red', 'green')), stored) == ['cluster-cpu-above-80/domain-c7@vc1.example.com']


@pytest.mark.parametrize('target, scope, words', [
    ({'cpu_percent': 120}, None, ['preemption_capacity_target cpu_percent 120', '1..100']),
    ({'gpu': 1}, None, ["preemption_capacity_target has unknown keys 'gpu'"]),
    ('{"cpu_percent": 0}', None, ['preemption_capacity_target cpu_percent 0']),
    ('75%', None, ["preemption_capacity_target '75%'", 'a dict']),
    ({'cpu_percent': 75}, 'all', ['preemption_capacity_target needs', 'a cluster or a host', 'all of vCenter']),
    ({'cpu_percent': 75}, 'group-v3', ['a cluster or a host', 'group-v3 (Folder)']),
    ({'memory_mb': 1024}, 'resgroup-8', ['a cluster or a host', 'resgroup-8 (ResourcePool)']),
])
def test_capacity_target_is_checked_before_anything_runs(red_event, target, scope, words):
    with pytest.raises(PreemptionRequestError) as raised:
        build_plan(request(event=red_event, capacity_target=target, **({'scope': scope} if scope else {})))
    for word in words:
        assert word in str(raised.value)


def test_capacity_target_from_text_or_dict_on_the_alarm_cluster(red_event):
    assert build_plan(request(event=red_event, capacity_target='{"cpu_percent": "75"}'))['capacity_target'] == {'cpu_percent': 75.0}
    plan = build_plan(request(event=red_event, capacity_target={'memory_mb': 2048}, scope='host-21'))
    assert plan['capacity_target'] == {'memory_mb': 2048} and plan['recorded']['capacity_target'] == {'memory_mb': 2048}
    assert build_plan(request(event=red_event, capacity_target={}))['capacity_target'] is None


@pytest.mark.parametrize('given, expected', [
    ('cpu', ['cpu@vc1.example.com', 'cpu/domain-c7@vc1.example.com', 'cpu/all@vc1.example.com']),
    ('cpu/high', ['cpu/high@vc1.example.com', 'cpu/high/domain-c7@vc1.example.com']),
    ('a@b', ['a@b@vc1.example.com', 'a@b/host-21@vc1.example.com']),
    ('a', ['a@vc1.example.com']),
    ('c', ['c@vc1.example.com']),
])
def test_workflow_ids_match_exactly_never_by_prefix(given, expected):
    stored = ['cpu/domain-c7@vc1.example.com', 'cpu/all@vc1.example.com', 'cpu/high/domain-c7@vc1.example.com',
              'cpu/highest/domain-c7@vc1.example.com', 'cpu/x/y@vc1.example.com', 'a@b/host-21@vc1.example.com', 'a@b@vc1.example.com', 'cpu@vc1.example.com']
    assert scope_keys(request(workflow_id=given), stored) == expected


def test_a_nul_in_a_name_becomes_u_fffd_everywhere(red_event):
    event = copy.deepcopy(red_event)
    event['data']['Alarm']['Name'] = 'CPU\x00high'
    event['data']['Alarm']['Note\x00'] = 'x\x00'
    plan = build_plan(request(event=plain_data(event, 'preemption_event')))
    assert plan['workflow_id'] == 'CPU\ufffdhigh' and '\x00' not in json.dumps(plan, ensure_ascii=False)
    assert build_plan(request(criticality='LOW', workflow_id='w\x00'))['workflow_id'] == 'w\ufffd'


def test_an_event_nested_ten_thousand_deep_is_one_clear_error():
    nested = leaf = {}
    for _depth in range(10000):
        leaf['a'] = {}
        leaf = leaf['a']
    with pytest.raises(PreemptionRequestError, match='^preemption_event is nested too deeply to be a CloudEvent\\.$'):
        plain_data(nested, 'preemption_event')


# ------------------------------------------------------------------ defaults: one table, null is unset

def test_every_unset_or_null_variable_is_its_default():
    numbers = {key: ROLE_DEFAULTS[key] for key in ('max_vms', 'parallel', 'retries', 'retry_delay', 'threshold', 'grace_period', 'notice_period')}
    for given in ({}, {key: None for key in ROLE_DEFAULTS if key in REQUEST_KEYS and key != 'criticality'}):
        plan = build_plan(request(criticality='LOW', **given))
        assert {key: plan[key] for key in numbers} == numbers == {
            'max_vms': 10, 'parallel': 5, 'retries': 3, 'retry_delay': 2, 'threshold': 60, 'grace_period': 30, 'notice_period': 0}
        assert (plan['tag'], plan['tag_category'], plan['scope'], plan['create_field'], plan['capacity_target'], plan['sink']) == (
            'preemptible', None, None, False, None, None)
        assert run_settings(request(**given), 'manual') == {'reply_mode': 'binary', 'reply_validate_certs': True, 'restore_wait': False}


def test_restore_wait_unset_waits_only_when_a_rulebook_started_the_run():
    assert run_settings(request(), 'eda')['restore_wait'] is True
    assert run_settings(request(), 'awx')['restore_wait'] is False
    assert run_settings(request(restore_wait='no'), 'eda')['restore_wait'] is False
    assert run_settings(request(restore_wait='yes'), 'manual')['restore_wait'] is True


@pytest.mark.parametrize('name, value, allowed', [
    ('reply_mode', 'json', 'use binary or structured'), ('reply_mode', 7, 'use binary or structured'),
    ('reply_validate_certs', 'maybe', 'use true or false'), ('restore_wait', 'later', 'use true or false'),
])
def test_bad_run_settings_name_the_variable(name, value, allowed):
    with pytest.raises(PreemptionRequestError, match='^preemption_%s .* is not valid: %s' % (name, allowed)):
        run_settings(request(**{name: value}), 'eda')
