#!/usr/bin/env bash
# Builds the demo corpus: WARC files written by wget while it crawls Debian's
# HTML documentation (English and Chinese) from a web server on 127.0.0.1.
#
# Usage: scripts/make-demo-corpus.sh OUTDIR [--small] [--no-install]
#
#   full (default)  debian-reference (en, zh-cn), debian-handbook (en-US, zh-CN)
#                   and the PostgreSQL 15 manual, about 30 MB of HTML.
#   --small         only debian-reference (en, zh-cn), about 4 MB of HTML, for
#                   the end-to-end test.
#   --no-install    fail instead of installing missing Debian packages.
#
# The script installs missing packages with apt-get (Debian 12), serves the
# documentation folders with `python3 -m http.server --bind 127.0.0.1` on a
# port the kernel picks, and crawls only that server. It leaves
# OUTDIR/<docset>.warc.gz (one gzip member per record, as wget writes them),
# OUTDIR/README.md and OUTDIR/manifest.tsv. manifest.tsv is written last: when
# it exists with the same mode, the corpus is complete and is reused.
#
# Exit status: 0 on success, 1 on failure, 2 on a usage error.
set -euo pipefail

usage() {
    sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

outdir=""
mode=full
install=1
for arg in "$@"; do
    case "$arg" in
        --small) mode=small ;;
        --no-install) install=0 ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "make-demo-corpus: unknown option $arg" >&2; usage ;;
        *)
            if [ -n "$outdir" ]; then
                echo "make-demo-corpus: more than one OUTDIR: $outdir, $arg" >&2
                usage
            fi
            outdir=$arg
            ;;
    esac
done
[ -n "$outdir" ] || { echo "make-demo-corpus: missing OUTDIR" >&2; usage; }

log() { echo "make-demo-corpus: $*" >&2; }

# Each document set: name, Debian package, folder to serve, start pages below it.
# Start pages are crawled with --no-parent, so wget stays inside their folder.
docsets_small=(
    "debian-reference|debian-reference-en debian-reference-zh-cn|/usr/share/debian-reference|index.en.html index.zh-cn.html"
)
docsets_full=(
    "${docsets_small[@]}"
    "debian-handbook|debian-handbook|/usr/share/doc/debian-handbook/html|en-US/index.html zh-CN/index.html"
    "postgresql-doc-15|postgresql-doc-15|/usr/share/doc/postgresql-doc-15/html|index.html"
)
if [ "$mode" = small ]; then
    docsets=("${docsets_small[@]}")
    # Chapters are linked from the two index pages, so depth 1 reaches all of them.
    crawl_depth=1
else
    docsets=("${docsets_full[@]}")
    crawl_depth=inf
fi

# --- Reuse a complete corpus -------------------------------------------------

manifest="$outdir/manifest.tsv"
if [ -f "$manifest" ] && grep -qx "# mode	$mode" "$manifest"; then
    log "reusing the complete $mode corpus in $outdir (remove $manifest to rebuild)"
    exit 0
fi

# --- Packages ----------------------------------------------------------------

packages=(wget)
for docset in "${docsets[@]}"; do
    IFS='|' read -r _ docset_packages _ _ <<<"$docset"
    for package in $docset_packages; do
        packages+=("$package")
    done
done

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$install" -eq 0 ]; then
        log "missing Debian packages: ${missing[*]}; install them with" \
            "\`apt-get install --no-install-recommends ${missing[*]}\` or drop --no-install"
        exit 1
    fi
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    log "installing ${missing[*]}"
    "${as_root[@]}" apt-get update -qq >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >&2
fi

python=$(command -v python3) || { log "python3 not found; it serves the HTML"; exit 1; }

# --- Serve the documentation on 127.0.0.1 ------------------------------------

mkdir -p "$outdir"
staging=$(mktemp -d "$outdir/.partial.XXXXXX")
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$staging"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The served root links each set's folder under its name, so URLs read
# http://127.0.0.1:PORT/<docset>/<page>.
webroot="$staging/webroot"
mkdir -p "$webroot"
for docset in "${docsets[@]}"; do
    IFS='|' read -r name _ folder _ <<<"$docset"
    [ -d "$folder" ] || { log "$folder not found; is the package for $name installed?"; exit 1; }
    ln -s "$folder" "$webroot/$name"
done

# Port 0 lets the kernel pick a free port; the server prints the one it got.
server_log="$staging/server.log"
"$python" -u -m http.server --bind 127.0.0.1 --directory "$webroot" 0 \
    >"$server_log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$server_log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$server_log" >&2; log "web server failed"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$server_log" >&2; log "web server printed no port in 10 s"; exit 1; }
log "serving $webroot on http://127.0.0.1:$port/"

# --- Crawl -------------------------------------------------------------------

start_ns=$(date +%s%N)
for docset in "${docsets[@]}"; do
    IFS='|' read -r name _ _ pages <<<"$docset"
    urls=()
    for page in $pages; do
        urls+=("http://127.0.0.1:$port/$name/$page")
    done
    log "crawling $name (depth $crawl_depth): ${urls[*]}"
    # --no-proxy keeps a proxy from the environment out of the loop; without
    # --span-hosts wget follows no link to another host. Images, PDFs and
    # archives are rejected because the pipeline reads only text.
    wget_status=0
    wget --recursive --level="$crawl_depth" --no-parent --no-proxy \
        --execute robots=off --tries=2 --timeout=30 --no-verbose \
        --reject '*.pdf,*.gz,*.png,*.jpg,*.jpeg,*.gif,*.svg,*.ico,*.css,*.js' \
        --directory-prefix="$staging/files/$name" \
        --warc-file="$staging/$name" --warc-header="operator: lmpipe demo corpus" \
        "${urls[@]}" 2>"$staging/$name.wget.log" || wget_status=$?
    # Exit status 8 means the server returned an HTTP error for some URL (a
    # broken link in the docs), and the pages that did arrive are in the WARC file.
    if [ "$wget_status" -ne 0 ] && [ "$wget_status" -ne 8 ]; then
        tail -n 20 "$staging/$name.wget.log" >&2
        log "wget failed on $name with exit status $wget_status"
        exit 1
    fi
    broken=$(grep -c ' ERROR ' "$staging/$name.wget.log" || true)
    [ "$broken" -eq 0 ] || log "$name: $broken links returned an HTTP error (skipped)"
done
crawl_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
crawl_seconds=$(printf "%d.%01d" $((crawl_ms / 1000)) $((crawl_ms % 1000 / 100)))

# --- Publish -----------------------------------------------------------------

# A rebuild in another mode replaces every WARC file this script may have left.
rm -f "$manifest"
for docset in "${docsets_full[@]}"; do
    rm -f "$outdir/${docset%%|*}.warc.gz"
done
{
    echo "# mode	$mode"
    echo "# wget	$(wget --version | head -n 1)"
    echo "# crawl_seconds	$crawl_seconds"
    echo "# file	bytes	sha256	responses	packages"
} >"$staging/manifest.tsv"
{
    echo "# Demo corpus ($mode)"
    echo
    echo "WARC files written by \`$(wget --version | head -n 1)\` while it crawled Debian"
    echo "documentation served on 127.0.0.1 by scripts/make-demo-corpus.sh, in"
    echo "$crawl_seconds s. The pages come from these packages:"
    echo
} >"$staging/README.md"
for docset in "${docsets[@]}"; do
    IFS='|' read -r name docset_packages folder pages <<<"$docset"
    warc="$name.warc.gz"
    versions=""
    for package in $docset_packages; do
        versions+="$package=$(dpkg-query -W -f='${Version}' "$package") "
    done
    responses=$(zcat "$staging/$warc" | grep -ac '^WARC-Type: response' || true)
    bytes=$(stat -c %s "$staging/$warc")
    sum=$(sha256sum "$staging/$warc" | cut -d ' ' -f 1)
    printf '%s\t%s\t%s\t%s\t%s\n' "$warc" "$bytes" "$sum" "$responses" "${versions% }" \
        >>"$staging/manifest.tsv"
    echo "- \`$warc\`: $responses responses from $folder (${versions% }), start pages $pages" \
        >>"$staging/README.md"
    mv "$staging/$warc" "$outdir/$warc"
done
mv "$staging/README.md" "$outdir/README.md"
mv "$staging/manifest.tsv" "$manifest"
log "wrote $(grep -vc '^#' "$manifest") WARC files to $outdir in $crawl_seconds s"
