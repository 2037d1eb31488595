#!/usr/bin/env python3
"""Word-level extraction quality of crawl-ingest against reference extractors.

For every HTML page that crawl-ingest keeps from the given WARC files, the same
HTTP payload (as warcio decodes it) goes through trafilatura and Resiliparse.
Texts are compared as bags of tokens: lowercased words of letters and digits,
and each Han, kana or Hangul character on its own, so Chinese and Japanese
count by character. Precision is the share of crawl-ingest's tokens that the
reference has, recall the share of the reference's tokens that crawl-ingest
has (micro-averaged over pages). The two references are also compared with
each other, which shows how far two good extractors disagree.

Hand-checked pages: PAGES/NAME.html with the main text written out by hand in
PAGES/NAME.txt; every extractor is scored against the .txt.

Usage: quality.py [--pages DIR] CRAWL_INGEST WARC...
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

import peers

TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|"
                   r"[^\W_\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


def tokens(text):
    return collections.Counter(TOKEN.findall((text or "").lower()))


class Score:
    def __init__(self):
        self.common = self.candidate = self.reference = 0
        self.pages = 0

    def add(self, candidate, reference):
        a, b = tokens(candidate), tokens(reference)
        self.common += sum((a & b).values())
        self.candidate += sum(a.values())
        self.reference += sum(b.values())
        self.pages += 1

    def row(self, name):
        p = self.common / self.candidate if self.candidate else 0.0
        r = self.common / self.reference if self.reference else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return f"| {name} | {self.pages} | {p:.3f} | {r:.3f} | {f:.3f} |"


def crawl_ingest(binary, inputs):
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "out.jsonl")
        subprocess.run([binary, "-q", *inputs, "-o", out], check=True)
        with open(out, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines]


def warc_quality(binary, warcs):
    ours = {doc["id"]: doc["text"] for doc in crawl_ingest(binary, warcs)}
    scores = {name: Score() for name in ("crawl-ingest vs trafilatura",
                                         "crawl-ingest vs resiliparse",
                                         "resiliparse vs trafilatura")}
    for record_id, payload in peers.warcio_pages(warcs):
        if record_id not in ours:
            continue
        reference = peers.trafilatura_text(payload)
        other = peers.resiliparse_text(payload)
        if not reference.strip():
            continue  # trafilatura found no main text; nothing to compare with
        scores["crawl-ingest vs trafilatura"].add(ours[record_id], reference)
        scores["crawl-ingest vs resiliparse"].add(ours[record_id], other)
        scores["resiliparse vs trafilatura"].add(other, reference)
    return scores


def hand_checked(binary, folder):
    scores = {name: Score() for name in ("crawl-ingest", "trafilatura", "resiliparse")}
    names = sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".html"))
    for name in names:
        html_path = os.path.join(folder, name + ".html")
        with open(os.path.join(folder, name + ".txt"), encoding="utf-8") as f:
            truth = f.read()
        with open(html_path, "rb") as f:
            payload = f.read()
        ours = crawl_ingest(binary, [html_path])
        scores["crawl-ingest"].add(ours[0]["text"] if ours else "", truth)
        scores["trafilatura"].add(peers.trafilatura_text(payload), truth)
        scores["resiliparse"].add(peers.resiliparse_text(payload), truth)
    return scores, names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crawl_ingest")
    parser.add_argument("--pages")
    parser.add_argument("warcs", nargs="*")
    args = parser.parse_args()
    header = "| comparison | pages | precision | recall | F1 |\n|---|---|---|---|---|"
    if args.warcs:
        print("Real pages (" + ", ".join(os.path.basename(w) for w in args.warcs) + "):\n")
        print(header)
        for name, score in warc_quality(args.crawl_ingest, args.warcs).items():
            print(score.row(name))
    if args.pages:
        scores, names = hand_checked(args.crawl_ingest, args.pages)
        print("\nHand-checked pages (" + ", ".join(names) + "), against the hand-written text:\n")
        print(header)
        for name, score in scores.items():
            print(score.row(name))


if __name__ == "__main__":
    sys.exit(main())
