"""Writes a small corpus with planted near-duplicates for the dedup tests.

make_corpus.py FOLDER FILES DOCS_PER_FILE writes FOLDER/part-NN.jsonl. Each
original document "oN" (English-like words, every fifth one Chinese) has
copies planted in later files: "nN" with 2% of its tokens substituted
(Jaccard about 0.8 to 0.9, which MinHash 14 x 8 finds with probability
above 0.92) and "xN", an unrelated document. The expected clusters are
written to FOLDER/expected.tsv as "original<TAB>near-duplicate" lines.
"""
import json
import random
import sys

folder, files, per_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(5)
letters = "abcdefghijklmnopqrstuvwxyz"
vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(5000)]
ideographs = [chr(0x4E00 + i) for i in range(1500)]


def original(index):
    if index % 5 == 4:
        return "".join(rng.choice(ideographs) for _ in range(400))
    return " ".join(rng.choice(vocabulary) for _ in range(300))


def near_copy(text):
    chinese = " " not in text
    units = list(text) if chinese else text.split(" ")
    for _ in range(max(1, len(units) // 100)):
        units[rng.randrange(len(units))] = rng.choice(ideographs if chinese else vocabulary)
    return ("" if chinese else " ").join(units)


documents = [[] for _ in range(files)]
expected = []
count = files * per_file // 3
for i in range(count):
    text = original(i)
    first = rng.randrange(files - 1)
    documents[first].append({"id": "o%d" % i, "text": text, "source": "test"})
    copy = {"id": "n%d" % i, "text": near_copy(text), "source": "test"}
    documents[rng.randrange(first + 1, files)].append(copy)
    documents[rng.randrange(files)].append({"id": "x%d" % i, "text": original(i), "source": "test"})
    expected.append(("o%d" % i, "n%d" % i))
for f in range(files):
    with open("%s/part-%02d.jsonl" % (folder, f), "w", encoding="utf-8") as out:
        for doc in documents[f]:
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
with open("%s/expected.tsv" % folder, "w") as out:
    for pair in expected:
        out.write("%s\t%s\n" % pair)
