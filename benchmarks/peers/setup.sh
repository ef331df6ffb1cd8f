#!/usr/bin/env bash
# Creates the peer-benchmark venvs (rejax, sb3) under benchmarks/.venvs; skips a venv that works.
set -euo pipefail

PYTHON="${PYTHON:-python3.11}"
VENVS_DIR="${VENVS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.venvs}"

# rejax 0.1.3 is written against gymnax 0.0.x (gymnax 1.x moved its API); this jax/flax/optax/
# distrax set is from the same months and runs on CPU.
REJAX_PKGS=(
    rejax==0.1.3 gymnax==0.0.9 jax==0.4.38 jaxlib==0.4.38 flax==0.10.2 optax==0.2.4
    chex==0.1.90 distrax==0.1.5 tensorflow-probability==0.25.0 numpy==2.4.6 scipy==1.17.1
)
SB3_PKGS=(stable-baselines3==2.9.2 gymnasium==1.4.0 numpy==2.4.6)

make_venv() {
    local name="$1" check="$2"
    shift 2
    local venv="$VENVS_DIR/$name"
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
        echo "$venv: present, skipped"
        return
    fi
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$@" "$venv/bin/pip"
    echo "$venv: created"
}

install_rejax() { "$1" install --quiet "${REJAX_PKGS[@]}"; }

install_sb3() {
    # torch first and on its own: `torch==2.13.0` is the CPU wheel on this machine's local disk,
    # whereas letting stable-baselines3 pull torch in would fetch a multi-GB CUDA build.
    "$1" install --quiet torch==2.13.0
    "$1" install --quiet "${SB3_PKGS[@]}"
}

mkdir -p "$VENVS_DIR"
make_venv rejax "import rejax, gymnax, scipy" install_rejax
make_venv sb3 "import stable_baselines3, torch" install_sb3
