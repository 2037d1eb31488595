"""Writes the benchmark corpus for dedup from real dialogues.

make_bench_corpus.py HH_RLHF.jsonl.gz OUT.jsonl COUNT

Takes the "chosen" and "rejected" dialogues of the Anthropic hh-rlhf test
file (real human text; each pair shares its first turns, so many pairs are
natural near-duplicates) and repeats them with 2% of the words substituted
until COUNT documents are written, so about half of the documents beyond the
first pass have a planted near-duplicate.
"""
import gzip
import json
import random
import sys

source, output, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
texts = []
with gzip.open(source, "rt", encoding="utf-8") as lines:
    for line in lines:
        record = json.loads(line)
        texts.extend([record["chosen"], record["rejected"]])
rng = random.Random(3)
with open(output, "w", encoding="utf-8") as out:
    for i in range(count):
        text = texts[i % len(texts)]
        if i >= len(texts):
            words = text.split(" ")
            for _ in range(max(1, len(words) // 50)):
                words[rng.randrange(len(words))] = rng.choice(words)
            text = " ".join(words)
        out.write(json.dumps({"id": "d%d" % i, "text": text, "source": "hh-rlhf"}) + "\n")
