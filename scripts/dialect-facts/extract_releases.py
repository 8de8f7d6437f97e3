"""Top-level config keys of axolotl or LLaMA-Factory at each release tag, and what changed between releases.

Reads a local git clone (no network): the pydantic fields of axolotl's AxolotlInputConfig and its bases plus each
plugin's *Args classes (src/axolotl/utils/schemas, src/axolotl/integrations/*/args.py), or the dataclass fields of
LLaMA-Factory's argument classes (src/llamafactory/hparams, fields with init=False and private ones left out).
Prints `key | added | <tag>` and `key | removed | <tag>` lines, the raw material of scripts/dialect-facts/*.releases
(renames and what replaces a removed key are written there by hand from the commit that made the change).

    python3 scripts/dialect-facts/extract_releases.py axolotl /path/to/axolotl v0.15.0 v0.16.0 v0.17.0 v0.18.0
    python3 scripts/dialect-facts/extract_releases.py llama-factory /path/to/LLaMA-Factory v0.9.2 v0.9.3 v0.9.4 v0.9.5
"""

from __future__ import annotations

import ast
import subprocess
import sys


def git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, *args], capture_output=True, text=True, check=True
    ).stdout


def python_files(repo: str, tag: str, folder: str, suffix: str = ".py") -> list[str]:
    names = git(repo, "ls-tree", "-r", "--name-only", tag, folder).split()
    return [name for name in names if name.endswith(suffix)]


def base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def init_false(value: ast.expr | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    return any(
        k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
        for k in value.keywords
    )


def classes_of(
    repo: str, tag: str, files: list[str]
) -> dict[str, tuple[list[str], list[str], str]]:
    """Class name -> (base names, field names, file)."""
    found: dict[str, tuple[list[str], list[str], str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(git(repo, "show", f"{tag}:{path}"))):
            if not isinstance(node, ast.ClassDef):
                continue
            fields = [
                st.target.id
                for st in node.body
                if isinstance(st, ast.AnnAssign)
                and isinstance(st.target, ast.Name)
                and not st.target.id.startswith("_")
                and not init_false(st.value)
            ]
            found[node.name] = ([base_name(b) for b in node.bases], fields, path)
    return found


def closure(
    classes: dict[str, tuple[list[str], list[str], str]], name: str, seen: set[str]
) -> set[str]:
    if name in classes and name not in seen:
        seen.add(name)
        for base in classes[name][0]:
            closure(classes, base, seen)
    return seen


def axolotl_keys(repo: str, tag: str) -> set[str]:
    plugin_files = python_files(repo, tag, "src/axolotl/integrations", "args.py")
    classes = classes_of(
        repo, tag, python_files(repo, tag, "src/axolotl/utils/schemas") + plugin_files
    )
    roots = {"AxolotlInputConfig"} | {
        c
        for c, (_, _, f) in classes.items()
        if f in plugin_files and c.endswith("Args")
    }
    keys: set[str] = set()
    for root in roots:
        for name in closure(classes, root, set()):
            keys.update(classes[name][1])
    return keys


def llama_factory_keys(repo: str, tag: str) -> set[str]:
    classes = classes_of(repo, tag, python_files(repo, tag, "src/llamafactory/hparams"))
    return {
        field
        for _, fields, path in classes.values()
        if not path.endswith("evaluation_args.py")
        for field in fields
    }


def main(argv: list[str]) -> None:
    tool, repo, *tags = argv
    read = axolotl_keys if tool == "axolotl" else llama_factory_keys
    previous = read(repo, tags[0])
    for tag in tags[1:]:
        current = read(repo, tag)
        for key in sorted(current - previous):
            print(f"{key} | added | {tag}")
        for key in sorted(previous - current):
            print(f"{key} | removed | {tag}")
        previous = current


if __name__ == "__main__":
    main(sys.argv[1:])
