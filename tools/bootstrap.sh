#!/usr/bin/env bash
# Everything a fresh machine needs, and nothing else: .venv from the pinned requirements, the
# ansible-test pip shim, and the staged collection path. Re-running is fast (hash stamp).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3.11}
VENV=${VENV:-$ROOT/.venv}
REQ=$ROOT/requirements-dev.txt
STAMP=$VENV/.req.sha256
want=$(cat "$REQ" "$ROOT/requirements.txt" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/ansible-test" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: creating $VENV (one-off, about 30 s)" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # The machine's pip.conf names local mirrors that may be absent: hide that noise, keep real errors.
  "$VENV/bin/pip" install -q --disable-pip-version-check -U pip 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" -r "$ROOT/requirements.txt" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  echo "$want" > "$STAMP"
fi
# ansible-test bootstraps pip in its sanity venvs from a host this machine cannot reach; it looks
# for a cached copy first, named after the pip version it wants.
pipver=$("$VENV/bin/python" - <<'PYEOF'
import os, re, ansible_test
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"default_packages = dict\(\s*pip='([^']+)'", src).group(1))
PYEOF
)
mkdir -p "$HOME/.ansible/test/cache"
cp "$ROOT/tools/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
# Playbooks find the collection by its FQCN through ANSIBLE_COLLECTIONS_PATH=$VENV/collections.
mkdir -p "$VENV/collections/ansible_collections/site_recovery"
ln -sfn "$ROOT" "$VENV/collections/ansible_collections/site_recovery/hyperv"
