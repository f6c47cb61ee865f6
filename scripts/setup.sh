#!/usr/bin/env bash
# Install MedDiag Desktop into ./.venv on Debian/Ubuntu: system libraries for Qt/VTK
# (and Xvfb + DICOM tools for the tests), then the Python package with its AI stack.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  # Qt (xcb platform plugin) and VTK (OpenGL through Mesa)
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
  libxcb-randr0 libxcb-render-util0 libxcb-image0 libegl1 libgl1 libosmesa6 libglu1-mesa
  libfontconfig1 libdbus-1-3 libxrender1 libxi6 libxtst6 fonts-dejavu-core
  # running headless (tests, screenshots), PDFs as pictures, DICOM validation
  xvfb xauth poppler-utils dicom3tools
  # a real PACS and independent DICOM network peers for the PACS tests and benchmark
  orthanc orthanc-dicomweb dcmtk
  python3-venv
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null; then PY=python3.11; else PY=python3; fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# CPU build of PyTorch: a plain 'torch' would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[ai,test,batch]"
echo "setup: done ($(.venv/bin/python -c 'import meddiag_desktop as m; print("meddiag-desktop", m.__version__)'))"
