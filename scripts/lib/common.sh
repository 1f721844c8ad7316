# shellcheck shell=bash
# Shared by the scripts in scripts/: where the caches live, how Python 3.14 is found, how venvs are made.
# Source it; it defines functions and variables only.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${AIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai_performance}
MIN_PYTHON=3.14.2
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE_DIR/uv}

# Home Assistant releases the suite runs against. The test plugin pins the first; users run the second.
HA_PINNED=2026.10.4
HA_CURRENT=2026.11.0

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

python_is_suitable() { # python_is_suitable PATH: true for a CPython >= MIN_PYTHON that can make venvs
  [ -n "$1" ] && [ -x "$1" ] && "$1" - "$MIN_PYTHON" <<'EOF' >/dev/null 2>&1
import sys
need = tuple(int(x) for x in sys.argv[1].split("."))
assert sys.version_info[:3] >= need
import ssl, sqlite3, ctypes, venv, ensurepip
EOF
}

find_python() { # prints the path of a suitable Python 3.14, provisioning one as the last resort
  local candidate
  candidate=$(command -v python3.14 || true)
  if python_is_suitable "$candidate"; then
    echo "$candidate"
    return
  fi
  if command -v uv >/dev/null; then
    candidate=$(uv python find 3.14 2>/dev/null || true)
    if python_is_suitable "$candidate"; then
      echo "$candidate"
      return
    fi
    say "trying 'uv python install 3.14'"
    if timeout 120 uv python install 3.14 >&2 2>&1; then
      candidate=$(uv python find 3.14 2>/dev/null || true)
      if python_is_suitable "$candidate"; then
        echo "$candidate"
        return
      fi
    fi
  fi
  if command -v apt-get >/dev/null && command -v dpkg >/dev/null && [ "$(uname -m)" = x86_64 ]; then
    say "no Python >= $MIN_PYTHON found; provisioning one from Debian's archive into $CACHE_DIR/python314"
    if candidate=$("$REPO_ROOT/scripts/lib/provision-python314.sh" "$CACHE_DIR/python314") &&
      python_is_suitable "$candidate"; then
      echo "$candidate"
      return
    fi
  fi
  die "Home Assistant 2026.10+ needs Python >= $MIN_PYTHON and none could be found or installed.
Install one of:
  - python3.14 (>= $MIN_PYTHON) on your PATH (your distribution's package, pyenv, or python.org), or
  - uv (https://docs.astral.sh/uv/), which downloads one with 'uv python install 3.14'."
}

# ensure_venv DIR PYTHON [uv pip install arguments...]
# Creates DIR with PYTHON and installs the arguments with uv, unless DIR already holds exactly that
# (a stamp file records the interpreter and the arguments, so a repeated run is a no-op).
ensure_venv() {
  local dir=$1 python=$2
  shift 2
  local want stamp=$dir/.ai_performance-stamp
  want="$(readlink -f "$python") $*"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return
  fi
  say "creating $dir"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check uv
  "$dir/bin/uv" pip install -q --python "$dir/bin/python" "$@"
  echo "$want" >"$stamp"
}
