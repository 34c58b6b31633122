#!/usr/bin/env bash
# Writes the King James Bible (Debian's bible-kjv and bible-kjv-text, public domain) as a
# word-level language-modeling corpus in the Penn Treebank layout: ptb.train.txt,
# ptb.valid.txt and ptb.test.txt in DIR, read by data/text_corpus.h (--dataset=kjv).
#
#   tools/make_kjv_corpus.sh [DIR]      (default /usr/share/datasets/kjv, as root)
#
# What the files hold:
# - one verse per line, verse numbers and book and chapter headings dropped;
# - lower-cased; punctuation marks are tokens of their own, and so are the endings after an
#   apostrophe ("pharaoh's" -> "pharaoh 's");
# - whole books per split, from every part of the Bible: valid = Joshua, Proverbs, Mark and
#   Romans; test = Judges, Ecclesiastes, Lamentations, John and Hebrews; train = the other 57
#   books (about 86% / 7% / 7% of the words);
# - a vocabulary of 10,000 with the reader's "<eos>": the 9,998 most frequent words of the
#   training split (ties in order of first appearance) and "<unk>", which replaces every
#   other word in all three splits, as in Mikolov's Penn Treebank files.
# Prints the token and vocabulary counts of each split. The output is the same on every run.
set -euo pipefail

dir=${1:-/usr/share/datasets/kjv}
command -v bible >/dev/null ||
  { echo "make_kjv_corpus.sh: needs Debian's bible-kjv and bible-kjv-text (tools/setup.sh installs them)" >&2; exit 1; }
mkdir -p "$dir"
text=$(mktemp)
trap 'rm -f "$text"' EXIT
bible "gen1:1-rev22:21" >"$text"

python3 - "$text" "$dir" <<'PY'
import collections, os, re, sys

VALID = {"Joshua", "Proverbs", "Mark", "Romans"}
TEST = {"Judges", "Ecclesiastes", "Lamentations", "John", "Hebrews"}
KEPT_WORDS = 9998  # with <unk> and the reader's <eos>: 10,000

heading = re.compile(r"^([1-3]? ?[A-Z][A-Za-z ]*?) [0-9]+$")
verse_start = re.compile(r"^\s+[0-9]+ (.*)$")
token = re.compile(r"[a-z]+|'[a-z]*|[0-9]+|[^\sa-z0-9']")

# (book, verse text) in order; a verse's wrapped lines are joined.
verses, book = [], None
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if not line.strip():
        continue
    if (m := heading.match(line)) and not line.startswith(" "):
        book = m.group(1)
    elif m := verse_start.match(line):
        verses.append([book, m.group(1)])
    else:
        verses[-1][1] += " " + line.strip()
books = {b for b, _ in verses}
assert len(books) == 66 and VALID | TEST <= books, f"unexpected books: {sorted(books)}"

splits = {"train": [], "valid": [], "test": []}
for b, v in verses:
    name = "valid" if b in VALID else "test" if b in TEST else "train"
    splits[name].append(token.findall(v.lower()))

counts, first = collections.Counter(), {}
for words in splits["train"]:
    for w in words:
        counts[w] += 1
        first.setdefault(w, len(first))
kept = set(sorted(counts, key=lambda w: (-counts[w], first[w]))[:KEPT_WORDS])

for name, lines in splits.items():
    path = os.path.join(sys.argv[2], f"ptb.{name}.txt")
    tmp = path + ".tmp"
    unknown = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for words in lines:
            mapped = [w if w in kept else "<unk>" for w in words]
            unknown += sum(w == "<unk>" for w in mapped)
            out.write(" ".join(mapped) + "\n")
    os.replace(tmp, path)
    tokens = sum(len(w) for w in lines)
    print(f"{path}: {len(lines)} verses, {tokens} tokens ({unknown} <unk>, "
          f"{100.0 * unknown / tokens:.2f}%), {tokens + len(lines)} with <eos>")
print(f"vocabulary: {len(kept)} words of {len(counts)} in the training split, + <unk> + <eos>")
PY
