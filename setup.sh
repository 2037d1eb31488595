#!/usr/bin/env bash
# Sets up lmpipe on a Debian 12 machine and runs it.
#
#   ./setup.sh demo   install what is missing, build, crawl the demo corpus on
#                     127.0.0.1 and run pipelines/demo.yaml end to end
#   ./setup.sh test   install what is missing, build, and run the test suites
#                     (including a second build with AddressSanitizer and
#                     UndefinedBehaviorSanitizer for the unit suite)
#
# Both are idempotent: packages already installed and builds already
# configured are reused.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PACKAGES=(
    gcc pkg-config meson ninja-build python3
    libzmq3-dev libzstd-dev libxxhash-dev libopenblas-dev libutf8proc-dev zlib1g-dev
    libgumbo-dev libfyaml-dev libjansson-dev libpcre2-dev libuchardet-dev
    g++ libcld2-dev libhyperscan-dev
    libdivsufsort-dev
    libdnnl-dev
)
# The demo corpus is crawled with wget from Debian's documentation packages;
# scripts/make-demo-corpus.sh installs the full set, the tests need the small one.
CORPUS_PACKAGES=(wget debian-reference-en debian-reference-zh-cn)
# Only the tests need these: headless Chromium renders lmpipe report's page,
# clang builds the libFuzzer targets, and slurm-wlm and munge run the one-node
# Slurm cluster that tests lmpipe run --executor slurm.
TEST_PACKAGES=(chromium clang libclang-rt-14-dev slurm-wlm munge)

log() { printf '%s setup: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# build FOLDER [MESON-OPTIONS...]: configures FOLDER with the options, or applies
# them to a folder configured earlier (a demo build has no -Dwerror), then builds.
# Options not named keep the values the folder has.
build() {
    local folder=$1; shift
    if [ ! -f "$folder/build.ninja" ]; then
        log "configuring $folder"
        meson setup "$folder" "$@" >/dev/null
    elif [ $# -gt 0 ]; then
        log "applying $* to $folder"
        meson configure "$folder" "$@" >/dev/null
    fi
    log "building $folder"
    ninja -C "$folder" >/dev/null
}

# Prints the plain "N passed, N failed" line from meson's test log.
summarize_tests() {
    python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as log:
        for line in log:
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
}

run_demo() {
    install_missing "${BUILD_PACKAGES[@]}" "${CORPUS_PACKAGES[@]}"
    build build
    scripts/make-demo-corpus.sh data/demo-corpus
    build/tools/lmpipe/lmpipe run pipelines/demo.yaml --run-dir runs/demo
}

run_tests() {
    install_missing "${BUILD_PACKAGES[@]}" "${CORPUS_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    build build -Dwerror=true
    build build-sanitize -Dwerror=true -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
        -Db_lundef=false
    local status=0
    log "running the unit, tools and e2e suites"
    meson test -C build --print-errorlogs --num-processes 2 || status=1
    log "running the unit suite with AddressSanitizer and UndefinedBehaviorSanitizer"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        meson test -C build-sanitize --suite unit --print-errorlogs --num-processes 2 || status=1
    summarize_tests build/meson-logs/testlog.json build-sanitize/meson-logs/testlog.json
    return $status
}

case "${1:-}" in
    demo) run_demo ;;
    test) run_tests ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
