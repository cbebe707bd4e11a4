#!/usr/bin/env bash
# Copyright (c) 2026 vsphere.preemption contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The import Galaxy and Automation Hub run on every upload, on the tarball `make build`
# wrote for galaxy.yml's version. Any warning or error it reports (its ansible-lint
# findings, a missing changelog, unreadable docs) fails the gate.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['version'])" "$repo/galaxy.yml")
tarball=$repo/.build/dist/vsphere-preemption-$version.tar.gz
log=$repo/.build/galaxy-importer.log
# It writes importer_result.json into the working directory: keep that in .build.
cd "$repo/.build"
GALAXY_IMPORTER_CONFIG=$repo/tools/galaxy-importer.cfg python -m galaxy_importer.main "$tarball" > "$log" 2>&1 || {
  cat "$log"; echo "galaxy-importer: the import of $tarball failed" >&2; exit 1; }
if grep -E '^(WARNING|ERROR)' "$log"; then
  echo "galaxy-importer: the import of $tarball reported the findings above (full log: $log)" >&2
  exit 1
fi
tail -n 1 "$log"
