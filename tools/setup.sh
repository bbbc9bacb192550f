#!/usr/bin/env bash
# Installs every Debian package the project needs to build, test and train.
# Idempotent: when everything is already installed it prints nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev          # oneDNN 2.6: the kernels
  ocl-icd-opencl-dev   # only recommended by libdnnl-dev, but its CMake package requires OpenCL
  libyaml-cpp-dev      # config files
  libspdlog-dev        # logging
  libcli11-dev         # command-line parsing
  nlohmann-json3-dev   # JSON output (bench reports, history.json)
  zlib1g-dev           # reading .gz idx and CSV files
  libpng-dev           # image folders: PNG
  libjpeg62-turbo-dev  # image folders: JPEG (libjpeg-turbo)
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist  # the real data the default job and the end-to-end test train on
  python3-sklearn      # its UCI tables (sklearn/datasets/data/*.csv): configs/tabular
  graphviz             # `trainer graph --format svg` draws graphs with its dot program
  clang libclang-rt-14-dev libomp-dev  # tools/fuzz.sh: libFuzzer ships with clang
  valgrind             # tools/memcheck.sh
  python3-numpy        # tests read .npy and .npz files NumPy itself wrote
  libopenmpi-dev openmpi-bin  # data-parallel training: mpirun -np N build/trainer train ...
  libonnx-dev libprotobuf-dev  # ONNX models in (model: {onnx: FILE}); its protobuf classes
  libonnx-testdata     # ONNX's own backend tests, which the conformance test runs
  python3-onnx         # onnx.checker (with shape inference) on the models export writes
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
