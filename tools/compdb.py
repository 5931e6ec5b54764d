#!/usr/bin/env python3
"""Writes compile_commands.json from `bazel aquery --output=jsonproto` on stdin.

Bazel 4.2 has no compilation database of its own. Each CppCompile action of the
project's sources (not external/, not generated files) becomes one entry, run from the
execroot so that its relative paths (bazel-out/..., the sources) resolve.
"""
import json
import sys


GCC_ONLY = {"-fno-canonical-system-headers", "-Wunused-but-set-parameter",
            "-Wno-free-nonheap-object"}


def main():
    execroot, output = sys.argv[1], sys.argv[2]
    actions = json.load(sys.stdin).get("actions", [])
    entries = {}
    for action in actions:
        arguments = action.get("arguments", [])
        if "-c" not in arguments:
            continue
        source = arguments[arguments.index("-c") + 1]
        # gcc's own flags, which clang (clang-tidy) does not know.
        arguments = [a for a in arguments if a not in GCC_ONLY]
        if source.startswith(("external/", "bazel-out/")):
            continue
        # Later (for example per-file) entries do not replace the first: one per file.
        entries.setdefault(source, {"directory": execroot, "file": source,
                                    "arguments": arguments})
    with open(output, "w") as out:
        json.dump(sorted(entries.values(), key=lambda e: e["file"]), out, indent=1)
    print(f"compdb: {len(entries)} files in {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
