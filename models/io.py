"""Reading interaction, item and user tables from CSV, TSV or Parquet files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from models.matrix import prepare_interactions


def _looks_like_movielens(path: Path) -> bool:
    """No header, tab-separated, four numeric columns: MovieLens ``u.data``."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        first = handle.readline().rstrip("\n")
    fields = first.split("\t")
    return len(fields) == 4 and all(
        f.strip().lstrip("-").replace(".", "", 1).isdigit() for f in fields
    )


def read_table(path: str | Path) -> pl.DataFrame:
    """A table from Parquet, CSV or TSV (by extension; ``.data``/``.tsv`` are tab-separated)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    separator = "\t" if suffix in (".tsv", ".data", ".tab") else ","
    return pl.read_csv(path, separator=separator, try_parse_dates=True)


def read_interactions(path: str | Path) -> pl.DataFrame:
    """Interactions with ``user_id, item_id[, weight][, timestamp]``.

    A MovieLens ``u.data`` file (no header, tab-separated ``user item rating timestamp``) is
    read as is: rating becomes the weight and the timestamp is in unix seconds.
    """
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") and _looks_like_movielens(path):
        frame = pl.read_csv(
            path,
            separator="\t",
            has_header=False,
            new_columns=["user_id", "item_id", "weight", "timestamp"],
        )
    else:
        frame = read_table(path)
        if "weight" not in frame.columns and "rating" in frame.columns:
            frame = frame.rename({"rating": "weight"})
    return prepare_interactions(frame)


def read_list_columns(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Split ``a|b|c`` cells of list columns (tags, interests) as CSV files carry them."""
    fixes = [
        pl.col(c).cast(pl.Utf8).str.split("|")
        for c in columns
        if c in frame.columns and frame.schema[c] == pl.Utf8
    ]
    return frame.with_columns(fixes) if fixes else frame
