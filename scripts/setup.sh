#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned requirements; with --dev also the test tools
# and Debian's chromium for the browser tests. Re-running is cheap: it skips what is current.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

python_bin=""
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        python_bin=$candidate; break
    fi
done
if [[ -z "$python_bin" ]]; then
    echo "setup: Python 3.11 is required (python3.11 not found)" >&2; exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($python_bin --version)"
    "$python_bin" -m venv .venv
fi

reqs=requirements.txt
[[ $dev == 1 ]] && reqs=requirements-dev.txt
pip_quiet() {  # pip, without the noise of index folders this machine's pip.conf names but lacks
    .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}

stamp=".venv/.installed-$(cat requirements*.txt requirements.lock pyproject.toml | sha256sum | cut -c1-16)-$dev"
if [[ ! -f "$stamp" ]]; then
    echo "setup: installing $reqs (pinned, constrained by requirements.lock)"
    pip_quiet install --quiet --upgrade pip
    pip_quiet install --quiet -r "$reqs" -c requirements.lock
    pip_quiet install --quiet --no-deps -e .
    touch "$stamp"
fi

if [[ $dev == 1 ]] && [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) == 0 ]]; then
        echo "setup: installing Debian's chromium for the browser tests"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
    else
        echo "setup: /usr/bin/chromium is missing; the browser tests will be skipped (sudo apt-get install chromium)" >&2
    fi
fi
echo "setup: ready (.venv)"
