#!/usr/bin/env python3
"""Make the tokenizer test fixtures with Hugging Face `tokenizers`, or compare lmpipe's ids.

Fixture mode (default) writes into tests/fixtures/tokenizer/:
  train.txt        a generated English, Chinese and code training text
  tokenizer.json   a byte-level BPE tokenizer trained on it with GPT-2 settings
  encodings.jsonl  held-out lines with the ids `tokenizers` gives them:
                   "ids" with special tokens encoded as plain text,
                   "ids_special" with special tokens recognized
  STYLE.json and encodings-STYLE.jsonl for three layouts of published
  tokenizer.json files, trained here on train.txt (nothing is downloaded):
    gpt2-style   ByteLevel pre-tokenizer, merges as "a b" strings, added
                 tokens with lstrip, rstrip and single_word
    llama3-style Split(cl100k regex) + ByteLevel, ignore_merges, a
                 TemplateProcessing post-processor that adds <|begin_of_text|>
    qwen2-style  NFC normalizer, Split(Qwen2 regex, single digits) + ByteLevel,
                 ChatML special tokens
  Their records add "ids_template": ids with the post-processor applied.

Compare mode checks that a tokenizer.json (e.g. one written by bpe-train)
loads in `tokenizers` and gives the same ids as lmpipe's `tokenize`:
  make-tokenizer-fixtures.py --compare TOKENIZER_JSON TEXT_FILE IDS_FILE
where IDS_FILE is `tokenize -t TOKENIZER_JSON --text TEXT_FILE` output.

Needs `pip install tokenizers` (reference checks only, never a runtime
dependency of lmpipe). The output depends only on the seed and the
tokenizers version, which is stored in encodings.jsonl's first record.
"""
import argparse
import json
import os
import random
import sys

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)
import tokenizers

SEED = 20240611
VOCAB_SIZE = 1200
EOT = "<|endoftext|>"

ENGLISH_WORDS = (
    "the of and to in is was for that on with as by it from at are be this which an or "
    "not have has had were been their one all would there they more when will other can "
    "model data token text train language file line word byte merge count pair stage "
    "pipeline shard document crawl clean output input program test value error number "
    "learning network layer weight gradient batch loss rate step memory thread process "
    "Python Linux Debian server package version system user people year time world "
    "quickly slowly because however although therefore running jumped it's don't we're "
    "they've I'm you'll he'd 2024 3.14 100 42 1,000"
).split()

CHINESE_WORDS = (
    "我们 你们 他们 中文 文本 数据 模型 训练 语言 分词 字节 合并 计数 文件 程序 测试 输出 输入 错误 数字 "
    "学习 网络 权重 梯度 内存 线程 系统 用户 时间 世界 今天 明天 因为 所以 但是 如果 可以 需要 使用 处理 "
    "生成 一个 这个 那个 非常 快速 简单 "
).split()

CODE_LINES = [
    "def encode(self, text):\n    return [self.vocab[w] for w in text.split()]",
    "for (size_t i = 0; i < count; i++) {\n    total += values[i];\n}",
    "if err != nil {\n\treturn fmt.Errorf(\"open %s: %w\", path, err)\n}",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name;",
    "const result = items.map((x) => x * 2).filter(Boolean);",
    "#include <stdio.h>\nint main(void) { printf(\"hello\\n\"); return 0; }",
]

HELD_OUT = [
    "Hello world",
    "Hello world!",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "multiple   spaces   inside",
    "tabs\tand\ttabs",
    "new\nlines\n\nand blank lines\n",
    "\n\n\n",
    "   ",
    "",
    "it's they're we've I'm you'll he'd don't",
    "IT'S THEY'RE (contractions are case-sensitive)",
    "numbers 1234567890 and 3.14159 and 1,000,000",
    "email: someone@example.com, url: https://example.com/path?q=1&x=2",
    "我们今天训练一个中文模型。",
    "中文和English混合的句子，包含标点！",
    "「引号」『书名号』——破折号……省略号",
    "全角字符：ＡＢＣ１２３",
    "日本語のテキストも少し。한국어도 조금.",
    "Ελληνικά και кириллица и العربية وعبرית",
    "emoji 😀🎉👍 and family 👨‍👩‍👧 and flag 🇩🇪",
    "combining e\u0301 and a\u0308 and n\u0303",
    "zero\u200bwidth\u200cjoiner\u200dtest",
    "nbsp\u00a0here and thin\u2009space and ideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator",
    "next\u0085line control",
    "mongolian\u180evowel separator",
    "bom\ufeffinside",
    "replacement \ufffd character",
    "private use \ue000\uf8ff",
    "control \x01\x02\x1f and del \x7f",
    "soft\u00adhyphen",
    "math ∑∫∂√∞ ≤ ≥ ≠ ±",
    "arrows ← → ↑ ↓ and boxes ┌─┐",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "two <|endoftext|><|endoftext|> in a row",
    "<|endoftext",
    "almost |endoftext|> special",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "the" * 40,
    "1234567890" * 12,
    "!!!???...,,,;;;:::" * 5,
    "中" * 90,
    " " * 70 + "x",
    "x" + "\n" * 30 + "y",
]


CL100K_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
STYLE_VOCAB_SIZE = 1000
STYLE_EXTRA_LINES = [
    "The <mask> hides a word and  <mask>  again",
    "cut<sep>   here and <sep>\tthere",
    "hello world, hellothere, _hello, hello_, (hello) 你好hello",
    "<|begin_of_text|>Hello<|end_of_text|>",
    "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
    "CASE: DON'T WON'T It'S JSONParser XMLHttpRequest",
    "digits 1 12 123 1234 12345 123456 and 3.14159",
    "composed \u00e9 and decomposed e\u0301, \u212b (angstrom sign) and A\u030a",
    "Hangul jamo \u1100\u1161\u11a8 and syllable \uac01",
    "line\r\nwindows\r\n\r\nbreaks and  \n  mixed \n\n spaces",
]


def make_sentence(rng):
    """Return one generated sentence: English, Chinese or mixed."""
    kind = rng.random()
    length = rng.randint(4, 18)
    if kind < 0.5:
        words = [rng.choice(ENGLISH_WORDS) for _ in range(length)]
        words[0] = words[0].capitalize()
        return " ".join(words) + rng.choice([".", ".", "!", "?", ";", ":"])
    if kind < 0.85:
        return "".join(rng.choice(CHINESE_WORDS) for _ in range(length)) + rng.choice("。！？，")
    words = [rng.choice(ENGLISH_WORDS + CHINESE_WORDS) for _ in range(length)]
    return " ".join(words) + "."


def make_training_text(rng, lines):
    out = []
    for _ in range(lines):
        if rng.random() < 0.05:
            out.append(rng.choice(CODE_LINES))
        else:
            out.append(" ".join(make_sentence(rng) for _ in range(rng.randint(1, 4))))
    return out


def make_held_out(rng):
    lines = list(HELD_OUT)
    while len(lines) < 200:
        lines.append(make_training_text(rng, 1)[0])
    return lines


def train_tokenizer(text_path):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train([text_path], trainer)
    return tokenizer


def encode_both(tokenizer, text):
    """Return (ids with special tokens as text, ids with special tokens recognized)."""
    tokenizer.encode_special_tokens = True
    plain = tokenizer.encode(text, add_special_tokens=False).ids
    tokenizer.encode_special_tokens = False
    special = tokenizer.encode(text, add_special_tokens=False).ids
    return plain, special


def train_style(style, text_path):
    """Train a small tokenizer in the layout of a published tokenizer.json."""
    if style == "gpt2-style":
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        specials = [EOT]
    else:
        regex = CL100K_REGEX if style == "llama3-style" else QWEN2_REGEX
        pre = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        specials = (["<|begin_of_text|>", "<|end_of_text|>"] if style == "llama3-style"
                    else [EOT, "<|im_start|>", "<|im_end|>"])
    tokenizer = Tokenizer(models.BPE(ignore_merges=style == "llama3-style"))
    tokenizer.pre_tokenizer = pre
    tokenizer.decoder = decoders.ByteLevel()
    if style == "qwen2-style":
        tokenizer.normalizer = normalizers.NFC()
    trainer = trainers.BpeTrainer(
        vocab_size=STYLE_VOCAB_SIZE, min_frequency=2, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train([text_path], trainer)
    if style == "gpt2-style":
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
        tokenizer.add_tokens([AddedToken("<mask>", lstrip=True, normalized=False),
                              AddedToken("<sep>", rstrip=True, normalized=False),
                              AddedToken("hello", single_word=True, normalized=False)])
    elif style == "llama3-style":
        bos = tokenizer.token_to_id("<|begin_of_text|>")
        tokenizer.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                          pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                          special_tokens=[("<|begin_of_text|>", bos)])])
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def save_style(tokenizer, style, path):
    tokenizer.save(path)
    if style == "gpt2-style":
        # Published GPT-2 files keep the older "a b" form of the merges.
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)


def make_style_fixtures(out_dir, text_path, held_out):
    for style in ("gpt2-style", "llama3-style", "qwen2-style"):
        path = os.path.join(out_dir, style + ".json")
        save_style(train_style(style, text_path), style, path)
        tokenizer = Tokenizer.from_file(path)
        with open(os.path.join(out_dir, f"encodings-{style}.jsonl"), "w",
                  encoding="utf-8") as f:
            meta = {"tokenizers_version": tokenizers.__version__, "seed": SEED,
                    "vocab_size": tokenizer.get_vocab_size()}
            f.write(json.dumps({"meta": meta}) + "\n")
            for line in STYLE_EXTRA_LINES + held_out:
                plain, special = encode_both(tokenizer, line)
                tokenizer.encode_special_tokens = False
                template = tokenizer.encode(line, add_special_tokens=True).ids
                record = {"text": line, "ids": plain, "ids_special": special,
                          "ids_template": template}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


def make_fixtures(out_dir):
    rng = random.Random(SEED)
    os.makedirs(out_dir, exist_ok=True)
    text_path = os.path.join(out_dir, "train.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        f.write("\n".join(make_training_text(rng, 600)) + "\n")
    tokenizer = train_tokenizer(text_path)
    tokenizer.save(os.path.join(out_dir, "tokenizer.json"))

    held_out = make_held_out(rng)
    with open(os.path.join(out_dir, "encodings.jsonl"), "w", encoding="utf-8") as f:
        meta = {"tokenizers_version": tokenizers.__version__, "seed": SEED,
                "vocab_size": tokenizer.get_vocab_size()}
        f.write(json.dumps({"meta": meta}) + "\n")
        for line in held_out:
            plain, special = encode_both(tokenizer, line)
            record = {"text": line, "ids": plain, "ids_special": special}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    make_style_fixtures(out_dir, text_path, held_out)
    print(f"wrote fixtures to {out_dir} with tokenizers {tokenizers.__version__}")


def compare(tokenizer_path, text_path, ids_path):
    """Compare `tokenizers` ids with lmpipe's, line by line; return the exit status."""
    tokenizer = Tokenizer.from_file(tokenizer_path)
    tokenizer.encode_special_tokens = True
    with open(text_path, encoding="utf-8") as f:
        texts = f.read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    with open(ids_path, encoding="utf-8") as f:
        lmpipe = [[int(x) for x in line.split()] for line in f.read().split("\n")[: len(texts)]]
    mismatches = 0
    tokens = 0
    for number, (text, ids) in enumerate(zip(texts, lmpipe), 1):
        expected = tokenizer.encode(text).ids
        tokens += len(expected)
        if expected != ids:
            mismatches += 1
            if mismatches <= 5:
                print(f"line {number}: tokenizers {expected[:20]} lmpipe {ids[:20]}")
    if len(lmpipe) != len(texts):
        print(f"line count differs: {len(texts)} texts, {len(lmpipe)} id lines")
        return 1
    print(f"{len(texts)} lines, {tokens} tokens, {mismatches} lines differ "
          f"(tokenizers {tokenizers.__version__}, vocab {tokenizer.get_vocab_size()})")
    return 1 if mismatches else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tokenizer"),
        help="fixture folder (default: tests/fixtures/tokenizer)")
    parser.add_argument("--compare", nargs=3,
                        metavar=("TOKENIZER_JSON", "TEXT_FILE", "IDS_FILE"),
                        help="compare lmpipe ids with tokenizers instead of making fixtures")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    make_fixtures(os.path.normpath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
