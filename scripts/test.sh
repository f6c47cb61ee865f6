#!/usr/bin/env bash
# Install everything the tests need, then run the whole test suite under a virtual X display,
# in MEDDIAG_TEST_WORKERS processes (pytest-xdist; default 2, one per core of the CI machine;
# 0 runs in this process). A test file stays in one process (--dist loadfile), so its module
# fixtures are made once; options given to this script come after these and win.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python -m pytest \
    -n "${MEDDIAG_TEST_WORKERS:-2}" --dist loadfile "$@"
