#!/usr/bin/python3
"""Checks that src/ folders include only the layers below them.

The layers (docs/ARCHITECTURE.md): a folder may include its own headers and
those of the folders listed for it here, never one above. A new folder must
be added here, with its place in the order, or the check fails.
Usage: layering_check.py SRC_DIR
"""
import pathlib
import re
import sys

ALLOWED = {
    "base": set(),
    "tensor": {"base"},
    "gguf": {"base", "tensor"},
    "tokenizer": {"base", "tensor", "gguf"},
    "jinja": {"base"},
    "kernels": {"base", "tensor"},
    "model": {"base", "tensor", "gguf", "kernels"},
    "synth": {"base", "tensor", "gguf", "tokenizer", "kernels", "model"},
    "kv": {"base"},
    "kvstore": {"base", "kv"},
    "sched": {"base", "kv"},
    "sample": {"base"},
    "engine": {"base", "tensor", "gguf", "tokenizer", "kernels", "model", "kv", "kvstore", "sched", "sample"},
    "server": {"base", "tensor", "gguf", "tokenizer", "jinja", "kernels", "model", "kv", "kvstore", "sched", "sample",
               "engine"},
    "cluster": {"base", "tensor", "gguf", "tokenizer", "jinja", "kernels", "model", "kv", "kvstore", "sched", "sample",
                "engine", "server"},
    "loadgen": {"base"},
    "perf": {"base", "tensor", "gguf", "kernels", "model", "kv", "kvstore", "sched", "sample", "engine"},
    "cli": {"base", "tensor", "gguf", "tokenizer", "jinja", "kernels", "model", "synth", "kv", "sched", "sample",
            "kvstore", "engine", "server", "cluster", "loadgen", "perf"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/', re.M)


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    problems = []
    folders = sorted(p.name for p in src.iterdir() if p.is_dir())
    for folder in folders:
        if folder not in ALLOWED:
            problems.append(f"src/{folder}/ has no place in the layering (add it to tests/layering_check.py)")
            continue
        for path in sorted((src / folder).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            for used in INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")):
                if used != folder and used not in ALLOWED[folder]:
                    problems.append(f"{path.relative_to(src.parent)} includes {used}/, a layer above {folder}/")
    for p in problems:
        print(p)
    print(f"layering_check: {len(folders)} folders, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
