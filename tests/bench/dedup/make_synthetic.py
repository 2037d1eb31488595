"""Writes synthetic documents for the dedup scale check.

make_synthetic.py FOLDER DOCUMENTS FILES [WORDS]

Writes FILES files FOLDER/part-NNNN.jsonl with DOCUMENTS documents in all,
each WORDS words (default 60) drawn from a 50,000-word vocabulary; every
tenth document is a copy of an earlier one with one word in 30 substituted
(a planted near-duplicate at Jaccard about 0.6 to 0.9).
"""
import json
import random
import sys

folder, total, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words_per_doc = int(sys.argv[4]) if len(sys.argv) > 4 else 60
rng = random.Random(9)
letters = "abcdefghijklmnopqrstuvwxyz"
vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(50000)]
recent = []
outputs = [open("%s/part-%04d.jsonl" % (folder, f), "w") for f in range(files)]
for i in range(total):
    if i % 10 == 9 and recent:
        words = rng.choice(recent).split(" ")
        for _ in range(max(1, len(words) // 30)):
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        text = " ".join(words)
    else:
        text = " ".join(rng.choices(vocabulary, k=words_per_doc))
        recent.append(text)
        if len(recent) > 1000:
            recent.pop(0)
    outputs[i * files // total].write('{"id":"s%d","text":%s,"source":"synthetic"}\n' % (i, json.dumps(text)))
for out in outputs:
    out.close()
