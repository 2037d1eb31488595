#!/usr/bin/env python3
"""Peer WARC-to-text pipelines for the crawl-ingest benchmarks.

Each pipeline reads WARC files, keeps HTTP 200 responses with an HTML payload,
decodes the payload to text and extracts the main content, which is the work
crawl-ingest does:

  fastwarc    FastWARC reader + Resiliparse encoding detection,
              extract_plain_text(main_content=True) and detect_fast language
              identification, one JSON line per page
  trafilatura warcio reader + trafilatura.extract, one JSON line per page

Both write their documents to /dev/null, as the timed crawl-ingest runs write
theirs to a file.

Usage: peers.py PIPELINE FILE...   prints records read, pages extracted and
seconds as one JSON line. Imported by quality.py for the same extraction.
Install with: pip install fastwarc resiliparse warcio trafilatura lxml_html_clean
"""
import json
import os
import sys
import time


def is_html(content_type):
    media = (content_type or "").split(";")[0].strip().lower()
    return media in ("text/html", "application/xhtml+xml")


def resiliparse_text(payload, content_type=None):
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    html = bytes_to_str(payload, detect_encoding(payload))
    return extract_plain_text(html, main_content=True)


def trafilatura_text(payload):
    import trafilatura

    return trafilatura.extract(payload) or ""


def fastwarc_pages(paths):
    """Yields (record id, payload bytes, content type) of HTML 200 responses."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response,
                                          parse_http=True):
                yield record


def run_fastwarc(paths, out):
    from resiliparse.parse.lang import detect_fast

    records = pages = 0
    for record in fastwarc_pages(paths):
        records += 1
        if record.http_headers is None or record.http_headers.status_code != 200:
            continue
        if not is_html(record.http_headers.get("Content-Type")):
            continue
        text = resiliparse_text(record.reader.read())
        lang, score = detect_fast(text)
        out.write(json.dumps({"id": record.record_id, "text": text, "lang": lang,
                              "url": record.headers.get("WARC-Target-URI")}) + "\n")
        pages += 1
    return records, pages


def warcio_pages(paths):
    """Yields (record id, decoded payload bytes) of HTML 200 responses."""
    from warcio.archiveiterator import ArchiveIterator

    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response" or record.http_headers is None:
                    yield None, None
                    continue
                if record.http_headers.get_statuscode() != "200":
                    yield None, None
                    continue
                if not is_html(record.http_headers.get_header("Content-Type")):
                    yield None, None
                    continue
                record_id = record.rec_headers.get_header("WARC-Record-ID").strip("<>")
                yield record_id, record.content_stream().read()


def run_trafilatura(paths, out):
    records = pages = 0
    for record_id, payload in warcio_pages(paths):
        records += 1
        if payload is None:
            continue
        out.write(json.dumps({"id": record_id, "text": trafilatura_text(payload)}) + "\n")
        pages += 1
    return records, pages


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("fastwarc", "trafilatura"):
        sys.exit(__doc__)
    start = time.perf_counter()
    run = run_fastwarc if sys.argv[1] == "fastwarc" else run_trafilatura
    with open(os.devnull, "w") as out:
        records, pages = run(sys.argv[2:], out)
    seconds = time.perf_counter() - start
    print(json.dumps({"pipeline": sys.argv[1], "records": records, "pages": pages,
                      "seconds": seconds}))


if __name__ == "__main__":
    main()
