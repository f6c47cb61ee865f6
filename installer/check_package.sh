#!/usr/bin/env bash
# Check the Linux package the way a clinic would meet it: unpack it into an empty folder
# and run it with no network (unshare -n) and an empty environment (env -i: no Python
# environment of ours, PATH=/usr/bin:/bin, HOME = an empty temporary folder).
#
# usage: installer/check_package.sh [dist/meddiag-<version>-linux-<arch>.tar.gz] [--keep]
#   without a tarball: the newest dist/meddiag-*.tar.gz; --keep leaves the work folder.
# Needs: tar, xvfb-run (+ xauth), /usr/bin/python3 (stdlib only, for reading JSON/PNG),
# and unshare -n (root, or unprivileged user namespaces) for the no-network part.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARBALL=""
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) TARBALL="$arg" ;;
  esac
done
if [ -z "$TARBALL" ]; then
  TARBALL=$(ls -t dist/meddiag-*.tar.gz 2>/dev/null | head -1 || true)
  [ -n "$TARBALL" ] || { echo "check: no dist/meddiag-*.tar.gz; run installer/build.sh first" >&2; exit 2; }
fi
TARBALL=$(readlink -f "$TARBALL")
SYSPY=/usr/bin/python3
[ -x "$SYSPY" ] || { echo "check: needs $SYSPY (stdlib only) to read JSON and PNG" >&2; exit 2; }
command -v xvfb-run >/dev/null || { echo "check: needs xvfb-run (apt install xvfb xauth)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/meddiag-check.XXXXXX)
[ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/pkg" "$WORK/home" "$WORK/out"
tar -xzf "$TARBALL" -C "$WORK/pkg"
APPDIR=$(echo "$WORK"/pkg/meddiag-*)
[ -x "$APPDIR/meddiag" ] || { echo "check: FAIL: no meddiag launcher in the package" >&2; exit 1; }
echo "check: package $(basename "$TARBALL") unpacked into $APPDIR"

NONET=()
if unshare -n true 2>/dev/null; then
  NONET=(unshare -n --)
  echo "check: running with no network (unshare -n)"
else
  echo "check: WARNING: 'unshare -n' is not available here (needs root or unprivileged user namespaces):"
  echo "check: WARNING: running WITH network access; the offline guarantee is NOT verified by this run"
fi
# the app, with no network, no environment of ours and an empty home
app() {
  "${NONET[@]}" env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 "$@"
}
json() {  # json FILE PYTHON-EXPRESSION-ON-d: print the expression's value
  "$SYSPY" -I -S -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}
# strace, when available, records every socket the app opens (see step 7)
strace_to() { if command -v strace >/dev/null; then echo "strace -f -qq -e trace=socket,connect -o $WORK/out/$1.strace"; fi; }
FAILED=0
pass() { echo "check: ok    $*"; }
fail() { echo "check: FAIL  $*"; FAILED=1; }
timed() {  # timed NAME CMD...: run, print the time taken, keep stdout/stderr in $WORK/out/NAME.*
  local name=$1; shift
  local t0=$(date +%s.%N) rc=0
  "$@" >"$WORK/out/$name.out" 2>"$WORK/out/$name.err" || rc=$?
  echo "check: $name: exit $rc in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  return $rc
}

# 1. the version matches the package name
VERSION=$(cat "$APPDIR/VERSION")
if timed version app "$APPDIR/meddiag" --version && grep -q "meddiag $VERSION" "$WORK/out/version.out"; then
  pass "meddiag --version: $(cat "$WORK/out/version.out")"
else
  fail "meddiag --version: $(cat "$WORK/out/version.out" "$WORK/out/version.err")"
fi

# 2. the demo renders in all four views (the demo study is generated on first use)
SHOT="$WORK/out/demo.png"
if timed screenshot app xvfb-run -a -s "-screen 0 1600x1000x24" "$APPDIR/meddiag" --demo --screenshot "$SHOT" \
   && [ -s "$SHOT" ]; then
  if "$SYSPY" -I -S installer/png_check.py "$SHOT"; then
    pass "demo screenshot $(stat -c %s "$SHOT") bytes, content in all four views"
  else
    fail "demo screenshot has an empty view"
  fi
else
  fail "meddiag --demo --screenshot: $(tail -5 "$WORK/out/screenshot.err")"
fi
mkdir -p "$ROOT/build/check" && cp -f "$SHOT" "$ROOT/build/check/demo.png" 2>/dev/null || true

# 2b. compressed DICOM (RLE Lossless) is decoded in spawned worker processes of the frozen app
"$SYSPY" -I -S installer/make_rle_series.py "$WORK/rle" >/dev/null
RLE_SHOT="$WORK/out/rle.png"
if timed rle app xvfb-run -a -s "-screen 0 1600x1000x24" $(strace_to rle) "$APPDIR/meddiag" "$WORK/rle" --screenshot "$RLE_SHOT" \
   && [ -s "$RLE_SHOT" ]; then
  pass "RLE Lossless series opened (decoded in worker processes) and rendered"
else
  fail "RLE series: $(tail -5 "$WORK/out/rle.err")"
fi
cp -f "$RLE_SHOT" "$ROOT/build/check/rle.png" 2>/dev/null || true

# 3. the bundled plugins are listed from the package, with verified weights
PLUGINS="$WORK/out/plugins.json"
if timed plugins app "$APPDIR/meddiag" plugins --json && cp "$WORK/out/plugins.out" "$PLUGINS"; then
  N=$(json "$PLUGINS" "len([p for p in d if p['source']=='bundled'])")
  BAD=$(json "$PLUGINS" "[p['id'] for p in d if p['source']=='bundled' and (p['weights_verified'] is not True or p['error'] or not p['path'].startswith('$APPDIR/'))]")
  SHIPPED=$(ls -d "$APPDIR"/app/_internal/plugins/*/ 2>/dev/null | wc -l)
  if [ "$N" -ge 1 ] && [ "$N" = "$SHIPPED" ] && [ "$BAD" = "[]" ]; then
    pass "plugins --json: $N bundled plugins, weights verified, all inside the package: $(json "$PLUGINS" "', '.join(p['id'] for p in d)")"
  else
    fail "plugins --json: $N bundled of $SHIPPED shipped; not verified or outside the package: $BAD"
  fi
else
  fail "meddiag plugins --json: $(tail -5 "$WORK/out/plugins.err")"
fi

# 4. a segmentation plugin runs on the CPU (in a spawned worker process) and writes NIfTI
DEMO_DICOM=$(find "$WORK/home" -type d -name dicom -path '*meddiag-desktop*' | head -1)
SEG_ID=$([ -s "$PLUGINS" ] && json "$PLUGINS" "next((p['id'] for p in d if p['source']=='bundled' and p['task']=='segmentation'), '')" || true)
if [ -z "$DEMO_DICOM" ] || [ -z "$SEG_ID" ]; then
  fail "infer: no demo DICOM folder ($DEMO_DICOM) or no bundled segmentation plugin ($SEG_ID)"
elif timed infer app $(strace_to infer) "$APPDIR/meddiag" infer "$SEG_ID" "$DEMO_DICOM" --out "$WORK/out/infer" --device cpu --json; then
  NII=$(find "$WORK/out/infer" -name '*.nii.gz' -size +1k | head -1)
  if [ -n "$NII" ]; then
    pass "infer $SEG_ID on the demo study: $(basename "$NII") ($(stat -c %s "$NII") bytes)"
  else
    fail "infer $SEG_ID wrote no NIfTI: $(ls "$WORK/out/infer" 2>&1)"
  fi
else
  fail "meddiag infer $SEG_ID: $(tail -5 "$WORK/out/infer.err")"
fi

# 4b. a classification plugin runs on the demo's first nodule (location from the demo's ground truth)
CLS_ID=$([ -s "$PLUGINS" ] && json "$PLUGINS" "next((p['id'] for p in d if p['source']=='bundled' and p['task']=='classification'), '')" || true)
TRUTH=$(find "$WORK/home" -name nodules.json -path '*meddiag-desktop*' | head -1)
if [ -n "$CLS_ID" ] && [ -n "$TRUTH" ] && [ -n "$DEMO_DICOM" ]; then
  POINT=$(json "$TRUTH" "','.join(str(v) for v in d['nodules'][0]['center_lps'])")
  if timed classify app "$APPDIR/meddiag" infer "$CLS_ID" "$DEMO_DICOM" --point "$POINT" --out "$WORK/out/classify" \
       --device cpu --json; then
    pass "infer $CLS_ID at $POINT: $(json "$WORK/out/classify.out" "[(f['top_class'], max(f['probabilities'].values())) for f in d.get('findings', [])]" 2>/dev/null || echo 'ran')"
  else
    fail "meddiag infer $CLS_ID: $(tail -5 "$WORK/out/classify.err")"
  fi
fi

# 5. the bundled risk models are found inside the package and evaluate
if timed risk app "$APPDIR/meddiag" risk --list --json; then
  cp "$WORK/out/risk.out" "$WORK/out/risk.json"
  RN=$(json "$WORK/out/risk.json" "len([m for m in d['models'] if m['source']=='builtin' and m['folder'].startswith('$APPDIR/')])")
  if [ "$RN" -ge 1 ]; then pass "risk --list: $RN built-in risk models inside the package"; else fail "risk --list: no built-in models"; fi
else
  fail "meddiag risk --list: $(tail -5 "$WORK/out/risk.err")"
fi

# 6. nothing was written into the package (settings, caches and results go to HOME)
if [ -z "$(find "$APPDIR" -newer "$TARBALL" \( -name '__pycache__' -o -name '*.pyc' \) -print -quit)" ]; then
  pass "nothing written into the package folder"
else
  fail "files were written into the package: $(find "$APPDIR" -newer "$TARBALL" -name '__pycache__' | head -3)"
fi

# 7. no network sockets at all: only local (AF_UNIX) ones, e.g. to the X server and between
#    the app and its worker processes (the no-network namespace above would hide attempts)
if ls "$WORK"/out/*.strace >/dev/null 2>&1; then
  NET=$(grep -h "socket(AF_INET\|socket(AF_INET6\|socket(AF_PACKET" "$WORK"/out/*.strace | head -3 || true)
  if [ -z "$NET" ]; then
    pass "no network sockets opened (strace of the RLE viewer run and the plugin run: $(cat "$WORK"/out/*.strace | grep -c 'socket(') sockets, all local)"
  else
    fail "network sockets opened: $NET"
  fi
else
  echo "check: note  strace not installed: socket use not traced (apt install strace)"
fi

echo "check: work folder $WORK$([ "$KEEP" = 1 ] || echo ' (removed)'); screenshot copied to build/check/demo.png"
if [ "$FAILED" = 0 ]; then echo "check: PASSED"; else echo "check: FAILED"; fi
exit "$FAILED"
