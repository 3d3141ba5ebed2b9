#!/usr/bin/env bash
# Sanitizer runs, each in its own copy of the committed tree (so nothing here is rebuilt):
#   scripts/sanitize.sh address   the addon built with AddressSanitizer + UndefinedBehaviorSanitizer,
#                                 and the vitest suite run against it (libasan preloaded into node)
#   scripts/sanitize.sh thread    the thread pool and the parallel ops under ThreadSanitizer, driven
#                                 from several threads at once (test/native/thread_check.cpp)
#   scripts/sanitize.sh           both
# word2vec's trainer updates shared vectors without locks by design (Hogwild, as word2vec.c and
# gensim do); scripts/tsan-suppressions.txt suppresses exactly those kernels and nothing else.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modes=("${@:-address thread}")
read -r -a modes <<<"${modes[*]}"
jobs="$(nproc)"
status=0

copy_tree() {  # a clean clone of HEAD with this checkout's node_modules
  local dir="$1"
  rm -rf "$dir"
  git clone -q "$root" "$dir"
  ln -s "$root/node_modules" "$dir/node_modules"
}

for mode in "${modes[@]}"; do
  case "$mode" in
    address)
      dir="$(mktemp -d)/qkv-asan"
      copy_tree "$dir"
      flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
      (cd "$dir" && CMAKE_BUILD_PARALLEL_LEVEL=$jobs npx cmake-js compile --CDQKV_CUDA=OFF --CDCMAKE_CXX_FLAGS="$flags" \
         --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null)
      libasan="$(g++ -print-file-name=libasan.so)"
      libubsan="$(g++ -print-file-name=libubsan.so)"
      # Node itself is not instrumented: leaks at exit are V8's and the process's, not findings.
      if (cd "$dir" && LD_PRELOAD="$libasan $libubsan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 npx vitest run); then
        echo "sanitize address: suite passed under ASan+UBSan ($dir)"
      else
        echo "sanitize address: FAILED ($dir)"; status=1
      fi
      ;;
    thread)
      dir="$(mktemp -d)/qkv-tsan"
      copy_tree "$dir"
      flags="-fsanitize=thread -fno-omit-frame-pointer -g -O1"
      cmake -S "$dir" -B "$dir/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_CUDA=OFF -DCMAKE_CXX_FLAGS="$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
      cmake --build "$dir/build-tsan" -j"$jobs" --target qkv_thread_check >/dev/null
      if TSAN_OPTIONS="halt_on_error=1 suppressions=$root/scripts/tsan-suppressions.txt" \
           "$dir/build-tsan/native-tests/qkv_thread_check"; then
        echo "sanitize thread: thread_check clean under TSan"
      else
        echo "sanitize thread: FAILED"; status=1
      fi
      ;;
    *) echo "sanitize: unknown mode '$mode' (address, thread)" >&2; exit 2 ;;
  esac
done
exit $status
