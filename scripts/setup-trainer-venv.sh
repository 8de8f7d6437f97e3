#!/usr/bin/env bash
# Creates .venv-trainer with CPU torch, transformers, peft, safetensors, accelerate, pytest and sacrebleu (the BLEU
# parity test) from the machine's configured pip sources (a local wheel mirror here: `pip config list`), so the
# trainer's tests run with real torch.
# Prints the interpreter's path on its last line; exits non-zero (and prints why) when the install is not possible,
# in which case the caller runs the torch-free suite.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv-trainer"
# The CPU build of torch (a `+cpu` wheel): the plain wheel is the CUDA one, 554 MB plus its CUDA libraries.
TORCH="${LORA_LENS_CI_TORCH:-torch==2.13.0+cpu}"
PACKAGES=("$TORCH" "transformers==5.17.0" "peft==0.21.0" "safetensors" "accelerate" "pytest" "pytest-xdist==3.8.0" "jsonschema" "sacrebleu==2.6.0" "gguf==0.19.0" "trl==1.13.0" "datasets" "triton==3.6.0" "ruff==0.16.9" "mypy==2.4.0")

if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import torch, transformers, peft, safetensors, pytest, xdist, sacrebleu, gguf, trl, triton, ruff, mypy' 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi
python3 -m venv "$VENV" >&2 || { echo "trainer venv: python3 -m venv failed" >&2; exit 1; }
# --retries 0: the default index is unreachable here; without it pip stalls on every package.
if ! "$VENV/bin/pip" install --retries 0 --timeout 30 -q "${PACKAGES[@]}" >"$VENV/install.log" 2>&1; then
  echo "trainer venv: pip could not install ${PACKAGES[*]} (see $VENV/install.log):" >&2
  grep -E 'ERROR|No matching' "$VENV/install.log" | head -5 >&2
  exit 1
fi
echo "$VENV/bin/python"
