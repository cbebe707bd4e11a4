#!/usr/bin/env bash
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run `ansible-test sanity` (no ignore file) on a copy of the collection laid out
# as ansible_collections/vsphere/preemption, as ansible-test requires.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv_bin=${VENV_BIN:-$repo/.venv/bin}
dest=$repo/.build/sanity/ansible_collections/vsphere/preemption

# The pip version ansible-test bootstraps into its venvs (get_venv_packages).
pip_version=$("$venv_bin/python" -c "import re, ansible_test, pathlib; p = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'; print(re.search(r\"pip='([0-9.]+)'\", p.read_text()).group(1))")
target=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$target" ]; then
  mkdir -p "$(dirname "$target")"
  cp "$repo/tools/ansible_test_get_pip.py" "$target"
fi

# ansible-test skips its shellcheck test when the program is missing; a skipped gate proves nothing.
if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    # DPkg::Lock::Timeout: the tests' harnesses may be installing their packages at the same time (make test).
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq shellcheck >/dev/null
  else
    echo "sanity: shellcheck is missing; install it (Debian/Ubuntu: apt-get install shellcheck)" >&2
    exit 1
  fi
fi

rm -rf "$dest"
mkdir -p "$dest"
# Tracked and new-but-not-ignored files only: what a clean clone would hold.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$dest"
cd "$dest"
# Its own repository, so ansible-test lists exactly these files (the copy sits
# inside the checkout's ignored .build/, where git would hide it).
git init --quiet
git add --all
exec "$venv_bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
