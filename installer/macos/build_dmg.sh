#!/usr/bin/env bash
# Build MedDiag Desktop.app and meddiag-<version>-macos-<arch>.dmg on a Mac (cannot run on Linux).
#
# usage: installer/macos/build_dmg.sh [--python PY]
#   PY: the build environment's Python (default .venv/bin/python) with the package installed
#       (pip install -e '.[ai]' pyinstaller); on Apple silicon torch includes MPS support.
# Signing (optional): export MEDDIAG_CODESIGN_IDENTITY="Developer ID Application: ..." to sign
# the app with the hardened runtime; to notarize, also export MEDDIAG_NOTARY_PROFILE (a profile
# stored with `xcrun notarytool store-credentials`). Without them the app is ad-hoc signed:
# fine on the build Mac; other Macs need right-click > Open the first time.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build_dmg.sh: run this on macOS (see installer/README.md)" >&2; exit 1; }

PY=.venv/bin/python
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build_dmg.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("meddiag-desktop"))')
ARCH=$(uname -m)
WORK=build/pyinstaller
APP="$WORK/dist/MedDiag Desktop.app"
DMG="dist/meddiag-$VERSION-macos-$ARCH.dmg"

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$WORK/dist" --workpath "$WORK/work" \
  installer/meddiag.spec
[ -d "$APP" ] || { echo "build_dmg.sh: PyInstaller made no $APP" >&2; exit 1; }

# ---- code signing (placeholder until the project has a Developer ID certificate)
if [ -n "${MEDDIAG_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --timestamp --options runtime \
    --entitlements installer/macos/entitlements.plist --sign "$MEDDIAG_CODESIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  codesign --force --deep --sign - "$APP"   # ad-hoc signature: required on Apple silicon
fi

# ---- disk image: the app and a link to /Applications
mkdir -p dist
rm -f "$DMG"
if command -v create-dmg >/dev/null; then
  create-dmg --volname "MedDiag Desktop $VERSION" --volicon resources/meddiag.icns \
    --window-size 560 340 --icon-size 96 --icon "MedDiag Desktop.app" 140 160 \
    --app-drop-link 420 160 --no-internet-enable "$DMG" "$APP"
else
  STAGE=$(mktemp -d)
  cp -R "$APP" "$STAGE/"
  ln -s /Applications "$STAGE/Applications"
  hdiutil create -volname "MedDiag Desktop $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
  rm -rf "$STAGE"
fi

if [ -n "${MEDDIAG_CODESIGN_IDENTITY:-}" ]; then
  codesign --timestamp --sign "$MEDDIAG_CODESIGN_IDENTITY" "$DMG"
  if [ -n "${MEDDIAG_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$MEDDIAG_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi
echo "build_dmg.sh: $DMG ($(du -h "$DMG" | cut -f1))"
