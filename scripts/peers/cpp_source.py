"""What the peers must agree on with the C++ harness, read from its sources rather than copied:
the columns of a bench result file (core/src/result_schema.cpp, core/src/provenance.cpp) and the
head presets (core/src/bench_case.cpp). A change there reaches the peers without an edit here; a
change these patterns no longer recognise is an error naming the file, never a silent default."""

import os
import re
from dataclasses import dataclass

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class SourceFormatError(RuntimeError):
    pass


def _read(relative_path, repo):
    with open(os.path.join(repo, relative_path), encoding="utf-8") as f:
        return f.read()


def _function_body(text, signature, path):
    """The text from `signature` to the end of its function (the next line that is a lone '}')."""
    start = text.find(signature)
    if start < 0:
        raise SourceFormatError(f"{path}: no '{signature}' (the peers read the schema from it)")
    end = text.find("\n}\n", start)
    return text[start:end if end > 0 else len(text)]


def _brace_lists(text):
    """Each innermost {...} that holds only string literals, as a list of strings."""
    lists = []
    for m in re.finditer(r"\{([^{}]*)\}", text):
        body = m.group(1)
        items = re.findall(r'"([^"]*)"', body)
        if items and re.fullmatch(r'(\s*"[^"]*"\s*,?)+\s*', body):
            lists.append(items)
    return lists


@dataclass(frozen=True)
class BenchSchema:
    columns: tuple       # every column, in file order
    key_columns: tuple   # the columns that make a row's identity (--resume)


def bench_schema(repo=REPO):
    provenance_path = "core/src/provenance.cpp"
    provenance = _brace_lists(_function_body(_read(provenance_path, repo),
                                             "std::vector<std::string> provenance_columns()", provenance_path))
    schema_path = "core/src/result_schema.cpp"
    lists = _brace_lists(_function_body(_read(schema_path, repo), "const ResultSchema& bench_schema()", schema_path))
    if len(provenance) != 1 or len(lists) != 2:
        raise SourceFormatError(f"{schema_path} / {provenance_path}: expected the provenance columns, then the bench "
                                "columns and its key columns as brace lists of strings")
    columns = tuple(provenance[0] + lists[0])
    key_columns = tuple(lists[1])
    missing = [c for c in key_columns if c not in columns]
    if missing:
        raise SourceFormatError(f"{schema_path}: key columns {missing} are not columns")
    return BenchSchema(columns, key_columns)


@dataclass(frozen=True)
class HeadPreset:
    name: str
    q_heads: int
    kv_heads: int
    head_dim: int
    layers: int


def head_presets(repo=REPO):
    path = "core/src/bench_case.cpp"
    body = _function_body(_read(path, repo), "const std::vector<HeadPreset>& head_presets()", path)
    presets = [HeadPreset(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
               for m in re.finditer(r'\{"([^"]+)",\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*"', body)]
    if not presets:
        raise SourceFormatError(f"{path}: no presets found in head_presets()")
    return {p.name: p for p in presets}
