#!/usr/bin/env bash
# Builds the libFuzzer harnesses of test/fuzz with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# (in build-fuzz/, its own folder) and runs each for the given seconds (default 60) from its seed corpus
# in test/fuzz/corpus/<parser>. Prints the executions per parser; exits non-zero on any finding
# (a crash, a sanitizer report, or an exception other than qkv::Error), whose input libFuzzer saves
# as build-fuzz/findings/<parser>/crash-*.
#   scripts/fuzz.sh            about a minute per parser
#   scripts/fuzz.sh 3600       a long run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-60}"
parsers=(safetensors json word2vec checkpoint bpe)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: installing clang"
  SUDO=""; if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang
fi

flags="-fsanitize=address,undefined -fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_CUDA=OFF -DQKV_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$flags" >/dev/null
targets=(); for p in "${parsers[@]}"; do targets+=("qkv_fuzz_$p"); done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for p in "${parsers[@]}"; do
  work="build-fuzz/corpus/$p"; findings="build-fuzz/findings/$p"
  mkdir -p "$work" "$findings"
  log="build-fuzz/$p.log"
  # New inputs go to build-fuzz/corpus/<parser>; the seeds in the repo are only read.
  if ./build-fuzz/qkv_fuzz_"$p" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
       -artifact_prefix="$findings/" "$work" "test/fuzz/corpus/$p" >"$log" 2>&1; then
    status=ok
  else
    status=FINDING; failed=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [[ -z "$runs" ]] && runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "fuzz $p: $status, ${runs:-?} executions in ${seconds}s (log: $log)"
done
exit $failed
