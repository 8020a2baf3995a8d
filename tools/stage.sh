#!/usr/bin/env bash
# ansible-test needs the real working directory to be .../ansible_collections/<ns>/<name>
# (symlinks are refused): copy the tracked and untracked-not-ignored files there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STAGE=${STAGE:-${TMPDIR:-/tmp}/srh-stage-$(printf %s "$ROOT" | sha256sum | cut -c1-12)}
DEST=$STAGE/ansible_collections/site_recovery/hyperv
rm -rf "$DEST"; mkdir -p "$DEST"
git -C "$ROOT" ls-files -z -co --exclude-standard | (cd "$ROOT" && tar --null --ignore-failed-read -T - -cf -) | tar -C "$DEST" -xf -
echo "$STAGE"
