# shellcheck shell=bash
# Shared by the scripts in scripts/: where the caches live, how Python 3.14 is found, how venvs are made.
# Source it; it defines functions and variables only.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${AIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ai_performance}
MIN_PYTHON=3.14.2
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE_DIR/uv}

# Home Assistant releases the suite runs against. The test plugin pins the first; users run the second.
# shellcheck disable=SC2034 # used by the scripts that source this file
HA_PINNED=2026.10.4
HA_CURRENT=2026.11.0

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

port_free() { # port_free PORT: dies when something on this machine already listens on 127.0.0.1:PORT
  # A connection that opens means a listener: most likely another Home Assistant, which the caller
  # would otherwise talk to (or, unable to bind, Home Assistant would start in recovery mode).
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 on 127.0.0.1 is already in use (another Home Assistant?): pick another with -p"
  fi
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
  local candidate provisioned=$CACHE_DIR/python314
  candidate=$(command -v python3.14 || true)
  if python_is_suitable "$candidate"; then
    echo "$candidate"
    return
  fi
  # Provisioned by an earlier run: the script re-checks it in about a second.
  if ! [ -d "$provisioned/root" ] && command -v uv >/dev/null; then
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
    [ -d "$provisioned/root" ] ||
      say "no Python >= $MIN_PYTHON found; provisioning one from Debian's archive into $provisioned"
    if candidate=$("$REPO_ROOT/scripts/lib/provision-python314.sh" "$provisioned") &&
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

ensure_uv() { # prints the path of a uv binary: the one on PATH, else one installed into the cache
  if command -v uv >/dev/null; then
    command -v uv
    return
  fi
  local tools=$CACHE_DIR/tools
  if ! [ -x "$tools/bin/uv" ]; then
    say "installing uv into $tools"
    rm -rf "$tools"
    "$(find_python)" -m venv "$tools"
    "$tools/bin/python" -m pip install -q --disable-pip-version-check uv
  fi
  echo "$tools/bin/uv"
}

fingerprint() { # fingerprint ARGS...: the arguments, with every file argument replaced by its hash
  local arg
  for arg in "$@"; do
    if [ -f "$arg" ]; then sha256sum "$arg" | cut -c1-16; else echo "$arg"; fi
  done
}

# ensure_venv DIR PYTHON [uv pip install arguments...]
# Creates DIR with PYTHON and installs the arguments with uv, unless DIR already holds exactly that:
# a stamp records the interpreter, the arguments and the content of every file among them, so a
# repeated run is a no-op and a changed requirements file rebuilds the venv.
ensure_venv() {
  local dir=$1 python=$2
  shift 2
  local want stamp=$dir/.ai_performance-stamp uv
  want="$(readlink -f "$python") $(fingerprint "$@" | tr '\n' ' ')"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return
  fi
  uv=$(ensure_uv)
  say "creating $dir"
  rm -rf "$dir"
  "$uv" venv -q --python "$python" "$dir"
  "$uv" pip install -q --python "$dir/bin/python" "$@"
  echo "$want" >"$stamp"
}

manifest_list() { # manifest_list KEY: the integration manifest's list KEY, one item per line
  "$(find_python)" -c 'import json, sys
print("\n".join(json.load(open(sys.argv[1], encoding="utf-8")).get(sys.argv[2], [])))' \
    "$REPO_ROOT/custom_components/ai_performance/manifest.json" "$1"
}

manifest_requirements() { manifest_list requirements; }

test_venv() { # test_venv HA_VERSION: prints the path of the test venv for that Home Assistant
  local ha=$1 python override dir=$CACHE_DIR/venvs/test-ha$1
  python=$(find_python)
  mkdir -p "$CACHE_DIR/overrides"
  override=$CACHE_DIR/overrides/homeassistant-$ha.txt
  echo "homeassistant==$ha" >"$override"
  # shellcheck disable=SC2046
  ensure_venv "$dir" "$python" -r "$REPO_ROOT/requirements_test.txt" \
    $(manifest_requirements) --override "$override"
  # The tests run the real conversation (built-in agent), Assist pipeline and AI Task components,
  # and Home Assistant's own LLM integrations (OpenAI, llama.cpp) as the agents under test against
  # a real llama-server: install what those need, at the versions this Home Assistant pins (AI
  # Task imports camera).
  install_component_requirements "$dir" conversation assist_pipeline ai_task camera \
    openai_conversation llama_cpp
  echo "$dir"
}

# install_component_requirements VENV DOMAIN...: the requirements of the given core integrations and
# their dependencies, under the installed Home Assistant's constraints; once per set of domains.
install_component_requirements() {
  local dir=$1 uv stamp=$1/.ai_performance-components-stamp
  shift
  [ "$(cat "$stamp" 2>/dev/null)" = "$*" ] && return
  uv=$(ensure_uv)
  "$dir/bin/python" "$REPO_ROOT/scripts/lib/ha_requirements.py" --only "$@" >"$dir/component-requirements.txt"
  "$dir/bin/python" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")' \
    >"$dir/constraints-path"
  "$uv" pip install -q --python "$dir/bin/python" -r "$dir/component-requirements.txt" \
    -c "$(cat "$dir/constraints-path")"
  echo "$*" >"$stamp"
}

real_servers() { # prints KEY=VALUE lines: the real servers the tests run (provisioned once, cached)
  "$REPO_ROOT/scripts/lib/provision-real-servers.sh" "$CACHE_DIR/real-servers"
}

export_real_servers() { # exports AIP_LLAMA_SERVER, AIP_LLAMA_MODEL, AIP_PROMETHEUS, AIP_NODE_EXPORTER
  local line found
  found=$(real_servers) || die "the real servers the tests run could not be provisioned (see above)"
  while IFS= read -r line; do
    export "AIP_${line%%=*}=${line#*=}"
  done <<<"$found"
}

develop_venv() { # prints the path of the venv ./scripts/develop runs Home Assistant in
  local dir=$CACHE_DIR/venvs/develop-ha$HA_CURRENT uv stamp want
  # shellcheck disable=SC2046
  ensure_venv "$dir" "$(find_python)" "homeassistant==$HA_CURRENT" $(manifest_requirements)
  # Then what the configuration's integrations need, so that the first start installs nothing.
  stamp=$dir/.ai_performance-startup-stamp
  want=$(fingerprint "$REPO_ROOT/custom_components/ai_performance/manifest.json")
  if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the requirements of default_config into $dir"
    uv=$(ensure_uv)
    # shellcheck disable=SC2046
    "$dir/bin/python" "$REPO_ROOT/scripts/lib/ha_requirements.py" default_config \
      $(manifest_list dependencies) $(manifest_list after_dependencies) >"$dir/startup-requirements.txt"
    "$dir/bin/python" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")' \
      >"$dir/constraints-path"
    "$uv" pip install -q --python "$dir/bin/python" -r "$dir/startup-requirements.txt" \
      -c "$(cat "$dir/constraints-path")"
    echo "$want" >"$stamp"
  fi
  echo "$dir"
}
