"""Runs datatrove's Gopher, C4 and FineWeb filters over a JSON Lines file in one process.

Used by bench.sh as the peer of `clean --config configs/clean/fineweb.yaml` with language
identification off. Prints one line: documents in, documents kept, wall seconds, CPU seconds
of this process. Each filter first filters one document untimed, so that loading the spaCy
tokenizer is not counted.
"""
import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)


def main(path):
    docs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            record = json.loads(line)
            docs.append(Document(text=record["text"], id=str(number)))
    filters = [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]
    warm_up = Document(text=docs[0].text, id="warm-up")
    for block in filters:
        block.filter(warm_up)
    start = time.perf_counter()
    cpu_start = time.process_time()
    stream = iter(docs)
    for block in filters:
        stream = block.run(stream, rank=0, world_size=1)
    kept = sum(1 for _ in stream)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    print(f"{len(docs)} {kept} {seconds:.3f} {cpu_seconds:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
