#!/bin/sh
# Install MedDiag Desktop for the current user (no root, no network, no Python needed).
#
#   ./install.sh                 install into ~/.local
#   ./install.sh --prefix DIR    install into DIR (bin/, lib/, share/ below it)
#   ./install.sh --uninstall     remove it again (your settings, plugins and models stay)
#
# Installs: DIR/lib/meddiag-desktop/ (the app), DIR/bin/meddiag (a link to its launcher),
# DIR/share/applications/meddiag.desktop and the icon in DIR/share/icons/hicolor.
set -eu

PREFIX="$HOME/.local"
ACTION=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift ;;
    --prefix=*) PREFIX="${1#--prefix=}" ;;
    --uninstall) ACTION=uninstall ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

here=$(dirname "$(readlink -f "$0")")
APPDIR="$PREFIX/lib/meddiag-desktop"
BIN="$PREFIX/bin/meddiag"
DESKTOP="$PREFIX/share/applications/meddiag.desktop"
ICONS="$PREFIX/share/icons/hicolor"

refresh_menus() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/share/applications" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

if [ "$ACTION" = uninstall ]; then
  rm -rf "$APPDIR"
  [ -L "$BIN" ] && rm -f "$BIN"
  rm -f "$DESKTOP" "$ICONS/scalable/apps/meddiag.svg"
  for f in "$ICONS"/*/apps/meddiag.png; do [ -e "$f" ] && rm -f "$f"; done
  refresh_menus
  echo "MedDiag Desktop removed from $PREFIX."
  echo "Your settings, plugins, risk models and audit log were kept (~/.config/meddiag-desktop,"
  echo "~/.local/share/meddiag-desktop); the demo study cache is in ~/.cache/meddiag-desktop."
  exit 0
fi

[ -x "$here/app/meddiag" ] || { echo "install.sh: run me from the unpacked package (no app/meddiag beside me)" >&2; exit 1; }
VERSION=$(cat "$here/VERSION" 2>/dev/null || echo "?")

# Copy next to the old version, then swap, so a failed copy leaves the old one working.
mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$PREFIX/share/applications"
rm -rf "$APPDIR.new"
mkdir -p "$APPDIR.new"
cp -a "$here/app" "$here/meddiag" "$here/VERSION" "$here/meddiag.svg" "$here/meddiag.png" "$APPDIR.new/"
[ -f "$here/README.txt" ] && cp "$here/README.txt" "$APPDIR.new/"
rm -rf "$APPDIR.old"
[ -d "$APPDIR" ] && mv "$APPDIR" "$APPDIR.old"
mv "$APPDIR.new" "$APPDIR"
rm -rf "$APPDIR.old"

ln -sfn "$APPDIR/meddiag" "$BIN"

for png in "$here"/icons/meddiag-*.png; do
  n=$(basename "$png" .png); n=${n#meddiag-}
  mkdir -p "$ICONS/${n}x${n}/apps"
  cp "$png" "$ICONS/${n}x${n}/apps/meddiag.png"
done
mkdir -p "$ICONS/scalable/apps"
cp "$here/meddiag.svg" "$ICONS/scalable/apps/meddiag.svg"

sed -e "s|^Exec=.*|Exec=\"$APPDIR/meddiag\" %f|" -e "s|^TryExec=.*|TryExec=$APPDIR/meddiag|" \
  "$here/meddiag.desktop" > "$DESKTOP"
chmod 644 "$DESKTOP"
refresh_menus

echo "MedDiag Desktop $VERSION installed in $APPDIR"
echo "  command:      $BIN   (try: meddiag --demo)"
echo "  menu entry:   $DESKTOP"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "  note: $PREFIX/bin is not on your PATH; add it, or run $BIN directly" ;;
esac
