#!/usr/bin/env python3
"""Moves tracked files (git mv) and rewrites every relative import of them, and every import inside them.

    python3 scripts/move-module.py OLD NEW [OLD NEW ...]

OLD/NEW are repository-relative file paths, or folder paths ending in '/'. Literal repository paths in tests,
scripts and docs are rewritten too. Run `npx tsc --noEmit -p .` afterwards.
"""
import os
import re
import subprocess
import sys

os.chdir(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
args = sys.argv[1:]
if not args or len(args) % 2:
    sys.exit(__doc__)
pairs = sorted(zip(args[::2], args[1::2]), key=lambda p: -len(p[0]))


def mapped(path: str) -> str:
    for old, new in pairs:
        if old.endswith("/") and path.startswith(old):
            return new + path[len(old):]
        if path == old:
            return new
    return path


files = [f for f in subprocess.check_output(["git", "ls-files"], text=True).split("\n") if f]
moves = {f: mapped(f) for f in files if mapped(f) != f}
known = set(files)


def resolve(from_file: str, spec: str) -> str | None:
    base = os.path.normpath(os.path.join(os.path.dirname(from_file), spec))
    for cand in (base + ".ts", base, base + "/index.ts", base + ".mjs", base + ".js", base + ".json"):
        if cand in known:
            return cand
    return None


def spec_for(from_new: str, target_old: str, target_new: str, spec_old: str) -> str:
    if target_old.endswith("/index.ts") and not re.search(r"index(\.ts)?$", spec_old):
        target = target_new[: -len("/index.ts")]
    elif target_old.endswith(".ts") and not spec_old.endswith(".ts"):
        target = target_new[:-3]
    else:
        target = target_new
    out = os.path.relpath(target, os.path.dirname(from_new))
    return out if out.startswith(".") else "./" + out


IMPORT = re.compile(r"""((?:from|import|require)\s*\(?\s*)(['"])(\.{1,2}/[^'"]+)\2""")
for f in files:
    if not re.search(r"\.(ts|mjs|js)$", f) or "/fixtures/" in f:
        continue
    text = open(f, encoding="utf-8").read()
    f_new = moves.get(f, f)

    def sub(m: re.Match[str]) -> str:
        target = resolve(f, m.group(3))
        if target is None or (moves.get(target, target) == target and f_new == f):
            return m.group(0)
        return m.group(1) + m.group(2) + spec_for(f_new, target, moves.get(target, target), m.group(3)) + m.group(2)

    out = IMPORT.sub(sub, text)
    for old, new in pairs:
        tail = "" if old.endswith("/") else r"(?![\w.])"
        out = re.sub(r"(?<![\w/.])" + re.escape(old) + tail, new, out)
    if out != text:
        open(f, "w", encoding="utf-8").write(out)
for f in files:
    if f.endswith((".md", ".json", ".py", ".sh")) and "/fixtures/" not in f and not f.startswith("node_modules"):
        text = open(f, encoding="utf-8").read()
        out = text
        for old, new in pairs:
            out = re.sub(r"(?<![\w/.])" + re.escape(old) + ("" if old.endswith("/") else r"(?![\w.])"), new, out)
        if out != text:
            open(f, "w", encoding="utf-8").write(out)
for old, new in moves.items():
    os.makedirs(os.path.dirname(new), exist_ok=True)
    subprocess.check_call(["git", "mv", old, new])
print(f"moved {len(moves)} files")
