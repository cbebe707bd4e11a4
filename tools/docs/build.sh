#!/usr/bin/env bash
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make docs: the collection's HTML documentation, built as docs.ansible.com builds
# collection docs (antsibull-docs sphinx-init, antsibull-docs collection, Sphinx),
# offline and with warnings as errors, into .build/docs/html.
# Needs the collection installed where ANSIBLE_COLLECTIONS_PATH points (make setup).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
site=$repo/.build/docs/site
html=$repo/.build/docs/html

rm -rf "$site" "$html"
# antsibull-docs wants its destination owned by the user and writable by no one else.
mkdir -p "$(dirname "$site")" && mkdir -m 700 "$site"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "$site" \
  --project vsphere.preemption --copyright '2026 vsphere.preemption contributors' \
  --title "vsphere.preemption" vsphere.preemption > "$site.log" || { cat "$site.log"; exit 1; }
cat "$here/conf_offline.py" >> "$site/conf.py"
python "$here/ansible_inventory.py" "$site/ansible_devel.inv"
chmod 700 "$site/rst"
antsibull-docs --config-file "$site/antsibull-docs.cfg" collection --use-current --squash-hierarchy \
  --fail-on-error --cleanup everything --dest-dir "$site/rst" vsphere.preemption
python "$here/navigation.py" "$site/rst"
sphinx-build -b html -W --keep-going -q -c "$site" "$site/rst" "$html"
echo "HTML documentation: $html/index.html"
