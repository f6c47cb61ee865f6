#!/usr/bin/env bash
# Install MedDiag Desktop and open the viewer on the bundled synthetic demo chest CT.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/meddiag --demo "$@"
