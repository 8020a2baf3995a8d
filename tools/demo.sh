#!/usr/bin/env bash
# The README's first command: bootstrap, start the standalone DR lab, run the main job against it,
# stop the lab. Everything stays on 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VENV=${VENV:-$ROOT/.venv}
bash "$ROOT/tools/bootstrap.sh"
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
export ANSIBLE_COLLECTIONS_PATH=$VENV/collections NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
STATE=${LAB_STATE_DIR:-$ROOT/.lab/demo}
cd "$ROOT"
python -m lab up standalone --state-dir "$STATE"
trap 'python -m lab down --state-dir "$STATE"' EXIT
ansible-playbook -i "$STATE/inventory.yml" site_recovery.hyperv.status
