# -*- coding: utf-8 -*-
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The options vcenter_args.base_argument_spec() adds to every module (skeleton.run_module): same names and
    # environment variables as community.vmware, so module_defaults and AWX
    # "VMware vCenter" credentials work unchanged.
    DOCUMENTATION = r'''
options:
  hostname:
    description:
      - The hostname or IP address of the vCenter server.
      - If not set, the environment variable E(VMWARE_HOST) is used.
    type: str
    required: true
  username:
    description:
      - The vCenter user name.
      - If not set, the environment variable E(VMWARE_USER) is used.
    type: str
    required: true
    aliases: [user, admin]
  password:
    description:
      - The vCenter password. It is never logged or returned.
      - If not set, the environment variable E(VMWARE_PASSWORD) is used.
    type: str
    required: true
    aliases: [pass, pwd]
  port:
    description:
      - The vCenter HTTPS port.
      - If not set, the environment variable E(VMWARE_PORT) is used.
    type: int
    default: 443
  validate_certs:
    description:
      - Verify the vCenter TLS certificate.
      - When E(REQUESTS_CA_BUNDLE) or E(SSL_CERT_FILE) names a CA bundle, that bundle is what is trusted;
        otherwise the system certificate store is.
      - V(false) disables verification even when E(REQUESTS_CA_BUNDLE) is set.
      - If not set, the environment variable E(VMWARE_VALIDATE_CERTS) is used.
    type: bool
    default: true
  session:
    description:
      - The sessions of the run, as returned by M(vsphere.preemption.vcenter_session) (RV(vsphere.preemption.vcenter_session#module:session)).
        The module then logs in no more; without it, the module logs in with O(password) and logs out at its end.
      - Where vCenter expired or terminated that session, the module logs in once with O(password), works on that
        session, logs it out at its end, and returns C(session_renewed=true).
      - An opaque string and a secret, never logged or returned. Must belong to the same O(hostname) and O(port).
    type: str
attributes:
  action:
    description: An action plugin of the same name decides where the module runs.
    support: full
    details:
      - M(vsphere.preemption.vcenter_session) runs on the controller.
      - The other modules run in the task's controller process where the module would run on the controller itself
        (connection C(local), no C(become), no C(async), no task C(environment)) with the Python that runs Ansible;
        the collection's playbooks set C(ansible_python_interpreter) to C(ansible_playbook_python), so their steps do.
        The same code, arguments and result, without the half second of CPU a module process costs.
      - Anywhere else, with another interpreter, or with C(ANSIBLE_KEEP_REMOTE_FILES=1) set (to debug the module), they
        run as module processes.
notes:
  - Connection options can be set once for every module of the collection with
    C(module_defaults) and the action group C(group/vsphere.preemption.vcenter).
'''
