#!/usr/bin/env bash
# Build the collection artifact, install it into an empty path and verify it, as a user would.
set -euo pipefail
COLL=$1 WORK=$2/build
rm -rf "$WORK"; mkdir -p "$WORK"
ansible-galaxy collection build --force --output-path "$WORK/dist" "$COLL" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$WORK/inst" ansible-galaxy collection install --force -p "$WORK/inst" "$WORK"/dist/*.tar.gz >/dev/null
ANSIBLE_COLLECTIONS_PATH="$WORK/inst" ansible-galaxy collection verify --offline site_recovery.hyperv >/dev/null
# Nothing of the lab, the tests or the toolchain may ship.
if tar -tzf "$WORK"/dist/*.tar.gz | grep -E '^(lab|tests|tools|\.ci)/'; then echo "build ships files it must not"; exit 1; fi
ANSIBLE_COLLECTIONS_PATH="$WORK/inst" ansible-doc site_recovery.hyperv.vm_replication_info >/dev/null
echo "built $(basename "$WORK"/dist/*.tar.gz): $(tar -tzf "$WORK"/dist/*.tar.gz | wc -l) files"
