#!/usr/bin/env bash
# Build the Linux package of MedDiag Desktop:
#   dist/meddiag-<version>-linux-x86_64.tar.gz
# holding the one-folder PyInstaller app (app/), a `meddiag` launcher, meddiag.desktop,
# the icons and install.sh (installs into ~/.local). The version comes from the
# installed package's metadata (pyproject.toml).
#
# usage: installer/build.sh [--cuda] [--python PY] [--clean] [--reuse]
#   --cuda       build with a CUDA PyTorch from a separate venv ($MEDDIAG_CUDA_VENV, default
#                .venv-cuda); the package name gets a -cuda suffix. Default: the CPU build in .venv.
#   --python PY  the Python of the build environment (default .venv/bin/python)
#   --clean      discard PyInstaller's analysis cache first (slower; after dependency changes)
#   --reuse      repackage the last PyInstaller output (build/pyinstaller/dist/meddiag) without
#                running PyInstaller again
# Then check it: installer/check_package.sh dist/meddiag-<version>-linux-x86_64.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CUDA=0
REUSE=0
CLEAN=()
PY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) CUDA=1 ;;
    --python) PY="$2"; shift ;;
    --reuse) REUSE=1 ;;
    --clean) CLEAN=(--clean) ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$PY" ]; then
  if [ "$CUDA" = 1 ]; then PY="${MEDDIAG_CUDA_VENV:-.venv-cuda}/bin/python"; else PY=.venv/bin/python; fi
fi
if [ ! -x "$PY" ]; then
  if [ "$CUDA" = 1 ]; then
    echo "build.sh: no CUDA build environment at $PY. Create it with:" >&2
    echo "  python3 -m venv .venv-cuda && .venv-cuda/bin/pip install torch --index-url https://download.pytorch.org/whl/cu124" >&2
    echo "  .venv-cuda/bin/pip install -e '.[ai]' pyinstaller" >&2
  else
    echo "build.sh: no build environment at $PY; run scripts/setup.sh, then .venv/bin/pip install pyinstaller" >&2
  fi
  exit 1
fi
"$PY" -c "import PyInstaller" 2>/dev/null || { echo "build.sh: PyInstaller missing: $PY -m pip install pyinstaller" >&2; exit 1; }

# everything the packaged app imports must be in the build environment, or the package
# would build fine and fail at the user's (MONAI bundles need ignite and sympy)
MISSING=$("$PY" -c 'import importlib.util as u; print(" ".join(m for m in ("meddiag_desktop", "torch", "monai", "ignite", "sympy", "safetensors", "PySide6", "vtkmodules", "SimpleITK", "pydicom", "gdcm", "pylibjpeg", "libjpeg", "openjpeg", "rle", "nibabel", "highdicom", "reportlab", "platformdirs", "pydantic") if u.find_spec(m) is None))')
if [ -n "$MISSING" ]; then
  echo "build.sh: the build environment $PY lacks: $MISSING (pip install -e '.[ai]' pytorch-ignite)" >&2
  exit 1
fi
VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("meddiag-desktop"))')
TORCH_CUDA=$("$PY" -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null || echo "")
if [ "$CUDA" = 0 ] && [ -n "$TORCH_CUDA" ]; then
  echo "build.sh: $PY has a CUDA build of PyTorch ($TORCH_CUDA), which would add several GB;" >&2
  echo "  install the CPU build (pip install torch --index-url https://download.pytorch.org/whl/cpu) or pass --cuda" >&2
  exit 1
fi
if [ "$CUDA" = 1 ] && [ -z "$TORCH_CUDA" ]; then
  echo "build.sh: --cuda given but $PY has a CPU-only PyTorch" >&2
  exit 1
fi
ARCH=$(uname -m)
NAME="meddiag-$VERSION-linux-$ARCH"
[ "$CUDA" = 1 ] && NAME="$NAME-cuda$TORCH_CUDA"

WORK=build/pyinstaller
START=$(date +%s)
if [ "$REUSE" = 0 ] || [ ! -x "$WORK/dist/meddiag/meddiag" ]; then
  echo "build.sh: PyInstaller ($PY, torch ${TORCH_CUDA:+CUDA $TORCH_CUDA}${TORCH_CUDA:-CPU}) ..."
  "$PY" -m PyInstaller --noconfirm "${CLEAN[@]}" --log-level WARN \
    --distpath "$WORK/dist" --workpath "$WORK/work" installer/meddiag.spec
fi
[ -x "$WORK/dist/meddiag/meddiag" ] || { echo "build.sh: PyInstaller produced no $WORK/dist/meddiag/meddiag" >&2; exit 1; }

# ------------------------------------------------------------------ stage
STAGE="$WORK/stage/$NAME"
rm -rf "$WORK/stage"
mkdir -p "$STAGE/icons"
cp -a "$WORK/dist/meddiag" "$STAGE/app"
# no caches or build leftovers inside the package
find "$STAGE/app" -name __pycache__ -type d -prune -exec rm -rf {} +
# symbol tables of the largest libraries (PyTorch, VTK): ~120 MB; dynamic symbols stay
if command -v strip >/dev/null; then
  find "$STAGE/app/_internal/torch/lib" "$STAGE/app/_internal/vtkmodules" -type f -name '*.so*' \
    -exec strip --strip-unneeded {} +
fi
install -m 755 installer/linux/meddiag "$STAGE/meddiag"
install -m 755 installer/linux/install.sh "$STAGE/install.sh"
install -m 644 resources/meddiag.desktop "$STAGE/meddiag.desktop"
install -m 644 resources/meddiag.png resources/meddiag.svg "$STAGE/"
install -m 644 resources/icons/*.png "$STAGE/icons/"
install -m 644 installer/linux/README.txt "$STAGE/README.txt"
echo "$VERSION" > "$STAGE/VERSION"
# readable by everyone, writable by the owner only (some weight files are created 0600)
chmod -R u+rwX,go+rX,go-w "$STAGE"

mkdir -p dist
TARBALL="dist/$NAME.tar.gz"
rm -f "$TARBALL"
tar -C "$WORK/stage" --owner=0 --group=0 --numeric-owner --sort=name -cf - "$NAME" | gzip -6 > "$TARBALL.part"
mv "$TARBALL.part" "$TARBALL"

END=$(date +%s)
PACKED=$(stat -c %s "$TARBALL")
UNPACKED=$(du -sb "$STAGE" | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
echo "build.sh: $TARBALL"
echo "build.sh: compressed $(mib "$PACKED"), unpacked $(mib "$UNPACKED"), $((END - START)) s"
echo "build.sh: largest parts of the unpacked app:"
du -sm "$STAGE"/app/_internal/* | sort -rn | head -8 | sed 's/^/  /'
