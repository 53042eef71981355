import re,sys
src = open('/tmp/corpus_src.txt', encoding='utf-8').read().split("\n")
lines = [re.sub(r'\\u([0-9a-fA-F]{4})', lambda m: chr(int(m.group(1), 16)), l) for l in src if l != '']
lines = [l.replace('\\r', '\r') if l.startswith('New') else l for l in lines]
lines.append("x" * 3000)
lines.append("ab" * 1500)
lines.append(" ".join(["word%d" % i for i in range(300)]))
lines.append("\u00e9" * 500 + "\U0001F600" * 200)
lines.append("".join(chr(c) for c in range(0x4e00, 0x4e00 + 400)))
lines.append("        " * 20 + "deeply indented")
lines.append("\t\t\t\tcode();  \t  \t")
lines.append("")
with open("tests/fixtures/tok/corpus.txt", "w", encoding="utf-8", newline="\n") as f:
    for l in lines:
        assert "\n" not in l
        f.write(l + "\n")
print(len(lines))
