#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Each step prints its time; the last line is
# "N passed, N failed" over the steps. Exit status is non-zero when any step failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VENV=${VENV:-$ROOT/.venv}
bash "$ROOT/tools/bootstrap.sh" || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
export ANSIBLE_LINT_SKIP_SCHEMA_UPDATE=1 ANSIBLE_NOCOLOR=1 PY_COLORS=0 NO_COLOR=1 ANSIBLE_FORCE_COLOR=0
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
STAGE=$(bash "$ROOT/tools/stage.sh")
COLL=$STAGE/ansible_collections/site_recovery/hyperv
export ANSIBLE_COLLECTIONS_PATH=$STAGE
only=${1:-}
pass=0; fail=0; failed=()
step() {
  local name=$1; shift
  if [ -n "$only" ] && [ "$only" != "$name" ]; then return 0; fi
  local t0=$SECONDS; echo "::: $name: $*"
  if "$@"; then pass=$((pass+1)); echo "::: $name ok ($((SECONDS-t0)) s)"
  else fail=$((fail+1)); failed+=("$name"); echo "::: $name FAILED ($((SECONDS-t0)) s)"; fi
}
cd "$COLL"
step sanity      ansible-test sanity --python 3.11 --color no
step units       ansible-test units --local --python 3.11 --color no
step lab         python -m pytest -q -p no:cacheprovider tests/lab
# One lab per test file on its own free ports: two files at a time (2 cores; lab operations mostly wait).
step integration python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests/integration
step molecule    bash "$ROOT/tools/molecule_all.sh" "$COLL"
step lint        ansible-lint --offline --profile production --nocolor
step doc-lint    antsibull-docs lint-collection-docs --plugin-docs .
step build       bash "$ROOT/tools/build_check.sh" "$COLL" "$STAGE"
[ ${#failed[@]} -eq 0 ] || echo "failed steps: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
