"""Result files exactly as core/csv_writer.cpp and core/result_schema.cpp write them: RFC 4180
quoting, numbers as %.6g (NaN empty), one row per line written, flushed and synced at once, an
existing file continued only when its header is this schema's, and --resume keyed by the
schema's key columns."""

import csv
import math
import os


def csv_field(value):
    if not any(c in value for c in ',"\r\n'):
        return value
    return '"' + value.replace('"', '""') + '"'


def join_line(values):
    return ",".join(csv_field(v) for v in values) + "\n"


def number_text(value):
    """RowBuilder::set(column, double): %.6g, NaN as an empty field."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "%.6g" % value


class Row:
    """One row built by column name, so no value lands in the wrong column (RowBuilder)."""

    def __init__(self, schema):
        self.schema = schema
        self.values = {}

    def set(self, column, value):
        if column not in self.schema.columns:
            raise KeyError(f"bench results have no column '{column}'")
        text = value if isinstance(value, str) else number_text(value)
        self.values[column] = text.replace("\n", " ").replace("\r", " ")
        return self

    def get(self, column):
        return self.values.get(column, "")

    def ordered(self):
        return [self.values.get(c, "") for c in self.schema.columns]


def row_key(schema, values_by_column):
    return "\x1f".join(values_by_column.get(c, "") for c in schema.key_columns)


def drop_unfinished_last_line(path):
    """A run killed mid-write can leave a last line without its end; drop it (result_reader.cpp)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return False
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        return False
    with open(path, "r+b") as f:
        f.truncate(data.rfind(b"\n") + 1)
    return True


def read_rows(path, schema):
    """Rows of an existing result file as dicts; [] when absent or empty. A file of another
    schema is an error naming it."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        if tuple(header) != schema.columns:
            raise ValueError(f"{path}: line 1: not a bench result header of this attnbench version")
        return [dict(zip(header, r)) for r in reader]


class CsvWriter:
    def __init__(self, path, schema):
        self.path = path
        header = join_line(schema.columns)
        existing = ""
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                existing = f.readline()
        if existing and existing != header:
            raise ValueError(f"{path}: existing CSV has a different header (expected {header.strip()})")
        self.out = open(path, "a", encoding="utf-8", newline="")
        if not existing:
            self._write(header)

    def _write(self, line):
        self.out.write(line)
        self.out.flush()
        os.fsync(self.out.fileno())  # on disk at once: a killed run loses nothing measured

    def write_row(self, row):
        self._write(join_line(row.ordered()))

    def close(self):
        self.out.close()
