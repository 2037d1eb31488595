#!/bin/bash
# CPU time of lmpipe's incremental reruns and streams, measured with
# /usr/bin/time (user + system seconds of lmpipe and every stage it waited for).
#
#   tests/bench/lmpipe/incremental.sh BUILD WARC-FOLDER [WORK]
#
# Incremental: crawl-ingest and clean with `incremental: true` over every
# *.warc.gz of WARC-FOLDER but the last, then a rerun after the last is added,
# against a whole run of the same two stages without `incremental` on all files.
# Stream: clean -> clean (3 tasks) -> dedup over the documents of that run,
# once over folders and once with `stream: true`.
set -euo pipefail
build=${1:?usage: incremental.sh BUILD WARC-FOLDER [WORK]}
warcs=${2:?usage: incremental.sh BUILD WARC-FOLDER [WORK]}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/bench-lmpipe.XXXXXX")}
lmpipe="$build/tools/lmpipe/lmpipe"
build=$(cd "$build" && pwd)
mkdir -p "$work"
cd "$work"
rm -rf crawl run-* ./*.yaml

mapfile -t files < <(ls "$warcs"/*.warc.gz | sort)
[ "${#files[@]}" -ge 2 ] || { echo "need at least two .warc.gz files in $warcs" >&2; exit 2; }
mkdir crawl
for file in "${files[@]:0:${#files[@]}-1}"; do cp "$file" crawl/; done

# cpu_seconds LABEL COMMAND...: runs the command and prints LABEL and its CPU seconds.
cpu_seconds() {
    local label=$1; shift
    /usr/bin/time -f '%U %S' -o time.txt "$@" >/dev/null 2>>bench.log
    printf '%-44s %6.2f s\n' "$label" "$(awk '{print $1 + $2}' time.txt)"
}

write_ingest() {
    cat >"$1" <<YAML
run-dir: run-${1%.yaml}
stages:
  - {name: crawl-ingest, program: crawl-ingest, inputs: [crawl], incremental: $2}
  - {name: clean, program: clean, inputs: [crawl-ingest], incremental: $2}
YAML
}
write_ingest incremental.yaml true
write_ingest whole.yaml false

echo "incremental reruns (${#files[@]} crawl files, $(du -sh "$warcs" | cut -f1) in $warcs)"
cpu_seconds "incremental, first run on $(( ${#files[@]} - 1 )) files" "$lmpipe" run incremental.yaml
cpu_seconds "incremental, rerun with nothing new" "$lmpipe" run incremental.yaml
cp "${files[-1]}" crawl/
cpu_seconds "incremental, rerun after 1 file added" "$lmpipe" run incremental.yaml
cpu_seconds "whole run on all ${#files[@]} files" "$lmpipe" run whole.yaml
cpu_seconds "whole run, rerun with nothing new" "$lmpipe" run whole.yaml

write_stream() {
    cat >"$1" <<YAML
run-dir: run-${1%.yaml}
stages:
  - {name: produce, program: clean, inputs: [run-whole/clean], settings: {min-chars: 1, min-words: 1}}
  - {name: filter, program: clean, inputs: [produce], stream: $2, tasks: 3}
  - {name: dedup, program: dedup, inputs: [filter], stream: $2}
YAML
}
write_stream files.yaml false
write_stream streamed.yaml true
echo "clean -> clean (3 tasks) -> dedup on $(zstdcat run-whole/clean/*.zst | wc -l) documents"
cpu_seconds "over folders" "$lmpipe" run files.yaml --force
cpu_seconds "stream: true (ipc:// sockets)" "$lmpipe" run streamed.yaml
cmp -s <(zstdcat run-files/dedup/*.zst) <(zstdcat run-streamed/dedup/*.zst) &&
    echo "streamed output equals the output over folders"
