"""The first release tag of a tool whose source raises each check of a checks file (scripts/dialect-facts/*.checks).

Reads a local git clone (no network; the `fetch` tool's mirror of the tool's repository is one). For each check, the
raise at its source line in the commit the checks were written from gives its fingerprints: the literal pieces of the
raised message (of an f-string, or of strings Python joins across lines) as the source spells them, those of 20
characters or more (else the longest). A piece's release is the oldest release tag (vX.Y.Z) whose src/ tree holds it,
in any file (validators move between files across releases), provided every later tag holds it too; the check's
release is the latest of its pieces' (a message reworded later makes the check later, never earlier, and a message
head shared with other raises does not make it early). A piece no tag holds gives `--newest` (the commit as a
release), else `?`; a piece that comes and goes gives `?` (no release established: checked for every release).

    python3 scripts/dialect-facts/extract_check_since.py axolotl /path/to/axolotl 067b021 scripts/dialect-facts/axolotl.checks
    python3 scripts/dialect-facts/extract_check_since.py llama-factory /path/to/LLaMA-Factory ff6d4d1 \\
        scripts/dialect-facts/llama-factory.checks --newest 0.9.6.dev0

Prints `code | source | since | fingerprints` per check; `--write` puts the release into the checks file's since
column (`code | source | since | plugin | when | key | message`).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
from functools import cache

# The since column: a release, or `?` where none is established; `R..U` (this wording until U) and
# `R (condition C)` (the condition raised from C in other words) are established by hand from the history and kept.
RELEASE = r"\d+(?:\.\d+)+(?:\.dev\d+)?"
SINCE = re.compile(rf"{RELEASE}(?:\.\.{RELEASE})?(?: \(condition {RELEASE}\))?|\?")
PLAIN = re.compile(RELEASE)


def release_key(release: str) -> list[int]:
    return [int(p) for p in re.findall(r"\d+", release.split(".dev")[0])]


def kept_since(cell: str, found: str) -> str:
    """
    The since to write: the release found from the message, unless the cell holds a hand-established form or a later
    release (the raise's condition arrived after its message, read from the history by hand: docs/dialects.md).
    """
    if not PLAIN.fullmatch(cell) or not PLAIN.fullmatch(found):
        return cell if SINCE.fullmatch(cell) and not PLAIN.fullmatch(cell) else found
    return cell if release_key(cell) > release_key(found) else found

SOURCE_ROOTS = {
    "axolotl": ("src/axolotl/utils/schemas/", "src/axolotl/integrations/"),
    "llama-factory": ("src/llamafactory/hparams/",),
}


def git(repo: str, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-C", repo, *args], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def release_tags(repo: str) -> list[str]:
    """The repository's plain release tags (vX.Y.Z, no .postN), oldest first."""
    tags = [t for t in git(repo, "tag").split() if re.fullmatch(r"v\d+(\.\d+)+", t)]
    return sorted(tags, key=lambda t: [int(p) for p in t[1:].split(".")])


def source_path(tool: str, repo: str, commit: str, source: str) -> str:
    """`validation.py:107` -> the file under the tool's source roots at the commit."""
    name = source.split(":")[0]
    names = git(repo, "ls-tree", "-r", "--name-only", commit, "src").split()
    for root in SOURCE_ROOTS[tool]:
        found = [n for n in names if n.startswith(root) and n.endswith("/" + name)]
        if len(found) == 1:
            return found[0]
    raise SystemExit(
        f"{source}: no one file matches under {SOURCE_ROOTS[tool]} at {commit}"
    )


def string_literals(segment: str) -> list[str]:
    """The constant string pieces of the Python code in `segment` (f-strings give their literal parts)."""
    pieces: list[str] = []
    for token in re.findall(
        r'[rfbuRFBU]*"(?:[^"\\\n]|\\.)*"|[rfbuRFBU]*\'(?:[^\'\\\n]|\\.)*\'', segment
    ):
        try:
            node = ast.parse(token, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            pieces.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            pieces += [
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            ]
    return pieces


def fingerprints(tool: str, repo: str, commit: str, source: str) -> list[str]:
    """
    The literal pieces of the message of the first raise from the source line on (within 8 lines), as the source
    writes them: those of 20 characters or more, else the longest (a short piece such as `attn_implementation=`
    is found in unrelated code).
    """
    path = source_path(tool, repo, commit, source)
    line = int(source.split(":")[1])
    lines = git(repo, "show", f"{commit}:{path}").split("\n")
    segment = "\n".join(lines[line - 1 : line + 8])
    segment = segment[max(segment.find("raise "), 0) :]
    end = segment.find(")\n", segment.find("("))
    segment = segment[: end + 1] if end > 0 else segment
    # `{x=}` gives the piece "x=", which the source does not spell out: only pieces written as they are.
    pieces = [
        p.strip()
        for p in string_literals(segment)
        if p.strip() and p.strip() in segment
    ]
    long = [p for p in pieces if len(p) >= 20]
    if long:
        return long
    best = max(pieces, key=len, default="")
    if len(best) < 12:
        raise SystemExit(f"{source}: no message literal at {path}:{line}")
    return [best]


@cache
def holds(repo: str, tag: str, text: str, roots: tuple[str, ...]) -> bool:
    return bool(
        git(
            repo, "grep", "-l", "-F", "-e", text, tag, "--", *roots, check=False
        ).strip()
    )


def first_release(
    repo: str, tags: list[str], text: str, roots: tuple[str, ...]
) -> str | None:
    """The oldest tag holding the text when every later tag holds it too; None otherwise."""
    present = [holds(repo, tag, text, roots) for tag in tags]
    if True not in present:
        return None
    first = present.index(True)
    return tags[first] if all(present[first:]) else None


def latest_first_release(
    repo: str,
    tags: list[str],
    texts: list[str],
    roots: tuple[str, ...],
    newest: str | None,
) -> str:
    """
    The release from which every piece of the message is there (the latest of their first releases: a piece reworded
    later makes the check later, never earlier). A piece no tag holds (only the commit) gives `newest`, else `?`; so
    does a piece that comes and goes across the tags.
    """
    firsts: list[str] = []
    for text in texts:
        first = first_release(repo, tags, text, roots)
        if first is None:
            unreleased = not any(holds(repo, tag, text, roots) for tag in tags)
            return (newest or "?") if unreleased else "?"
        firsts.append(first)
    return max(firsts, key=tags.index).lstrip("v")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tool", choices=sorted(SOURCE_ROOTS))
    parser.add_argument("repo")
    parser.add_argument("commit", help="the commit the checks file was written from")
    parser.add_argument("checks")
    parser.add_argument(
        "--tags", nargs="*", help="release tags to search (default: all vX.Y.Z tags)"
    )
    parser.add_argument(
        "--newest",
        help="the name of the commit as a release, for a raise no tag holds yet",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the since column into the checks file",
    )
    args = parser.parse_args()
    tags = args.tags or release_tags(args.repo)
    roots = ("src/",)
    out: list[str] = []
    with open(args.checks, encoding="utf8") as file:
        lines = file.read().split("\n")
    for raw in lines:
        cells = [c.strip() for c in raw.split("|")]
        if not raw.strip() or raw.startswith("#") or len(cells) < 6:
            out.append(raw)
            continue
        code, source = cells[0], cells[1]
        has_since = bool(SINCE.fullmatch(cells[2]))
        rest = cells[3:] if has_since else cells[2:]
        # `file:line@tag`: a raise the commit reworded, read at the last release that has it.
        at_source, _, tag = source.partition("@")
        texts = fingerprints(args.tool, args.repo, tag or args.commit, at_source)
        found = latest_first_release(args.repo, tags, texts, roots, args.newest)
        since = kept_since(cells[2], found) if has_since else found
        print(f"{code} | {source} | {since} | {' / '.join(texts)}")
        out.append(" | ".join([code, source, since, *rest]))
    if args.write:
        with open(args.checks, "w", encoding="utf8") as file:
            file.write("\n".join(out))


if __name__ == "__main__":
    main()
