
# --- appended by tools/docs/build.sh (vsphere.preemption) ---
# The build runs offline: links into the Ansible documentation resolve from the
# inventory tools/docs/ansible_inventory.py writes beside this file, never from
# the network, and there are no links into Python's or Jinja's documentation.
import os.path

intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/',
                      (os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ansible_devel.inv'),)),
}
html_title = 'vsphere.preemption'
# No top bar links to ansible.com's blog, forum and documentation: this is one collection's site.
html_theme_options = dict(globals().get('html_theme_options', {}), topbar_links={})
