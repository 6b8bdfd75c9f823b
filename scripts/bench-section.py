#!/usr/bin/env python3
"""Put the section on stdin into docs/BENCHMARKS.md between <!-- NAME:begin --> and
<!-- NAME:end --> (the section includes both markers), replacing an older one or
appending. Usage: ... | python3 scripts/bench-section.py NAME"""
import os, re, sys

name, section = sys.argv[1], sys.stdin.read().strip()
doc = "docs/BENCHMARKS.md"
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\nEvery number here comes from a script in the repo; each section names its command.\n"
marker = f"<!-- {name}:begin -->.*?<!-- {name}:end -->"
if re.search(marker, text, flags=re.S):
    text = re.sub(marker, lambda m: section, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(doc, "w").write(text)
print(section)
