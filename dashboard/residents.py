"""The resident registry of a district (residents.parquet): loading, validation, renewals, search.

A city replaces the file with its own export of the same columns.  Dates become
datetime64[D] columns; ``registry(svc)`` loads it once per process.  Renewals recorded by
done service tasks (a new tenancy end, the last visit) live in Redis and are laid over the
file's columns with ``with_overlay``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

FILE = "residents.parquet"
DATE_COLUMNS = ("birth", "lease_end", "id_expiry", "last_visit")
BOOL_COLUMNS = ("living_alone", "tenant", "lease_holder", "party_member")
TEXT_COLUMNS = ("rid", "name", "sex", "id_no", "phone", "grid", "household", "relation",
                "address")
RENEWABLE = ("lease_end", "id_expiry", "last_visit")
ID_NO = re.compile(r"^\d{17}[\dX]$")
_lock = threading.Lock()


class RegistryError(ValueError):
    """The resident file is malformed; the message names the file and the problem."""


def load_residents(path: str | Path, grids: set[str] | None = None) -> pd.DataFrame:
    """Return the registry indexed by resident id, failing with RegistryError on bad data."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from None
    missing = [c for c in (*TEXT_COLUMNS, *DATE_COLUMNS, *BOOL_COLUMNS)
               if c not in table.column_names]
    if missing:
        raise RegistryError(f"{path}: missing column(s) {', '.join(missing)}")
    df = table.to_pandas()
    for c in DATE_COLUMNS:
        df[c] = pd.to_datetime(df[c]).to_numpy().astype("datetime64[D]")
    for c in BOOL_COLUMNS:
        df[c] = df[c].fillna(False).astype(bool)
    if df["rid"].isna().any() or df["rid"].duplicated().any():
        raise RegistryError(f"{path}: rid must be present and unique")
    if df["birth"].isna().any():
        raise RegistryError(f"{path}: every resident needs a birth date")
    if grids is not None:
        unknown = sorted(set(df["grid"].unique()) - grids)
        if unknown:
            raise RegistryError(f"{path}: unknown grid(s) {', '.join(map(str, unknown[:5]))}")
    return df.set_index("rid", drop=False)


def registry(svc) -> pd.DataFrame:  # noqa: ANN001 - Services
    """Return the district's registry, loaded once per process (empty if there is no file)."""
    df = svc.extra.get("residents")
    if df is None:
        with _lock:
            df = svc.extra.get("residents")
            if df is None:
                path = Path(svc.settings.district) / FILE
                grids = {g.code for g in svc.district.grids}
                df = load_residents(path, grids) if path.exists() else empty()
                svc.extra["residents"] = df
    return df


def empty() -> pd.DataFrame:
    """Return a registry with the columns and no residents."""
    cols = {c: pd.Series([], dtype=object) for c in TEXT_COLUMNS}
    cols |= {c: pd.Series([], dtype="datetime64[s]") for c in DATE_COLUMNS}
    cols |= {c: pd.Series([], dtype=bool) for c in BOOL_COLUMNS}
    return pd.DataFrame(cols).set_index("rid", drop=False)


def parse_overlay(raw: dict) -> dict[str, pd.Series]:
    """Return column -> Series(rid -> datetime64[D]) of renewals stored as 'rid|column' -> ISO."""
    rows: dict[str, dict[str, str]] = {}
    for k, v in raw.items():
        k = k.decode() if isinstance(k, bytes) else k
        rid, _, col = k.partition("|")
        if col in RENEWABLE:
            rows.setdefault(col, {})[rid] = v.decode() if isinstance(v, bytes) else v
    return {c: pd.Series(pd.to_datetime(list(m.values())).to_numpy().astype("datetime64[D]"),
                         index=list(m.keys())) for c, m in rows.items()}


def with_overlay(df: pd.DataFrame, overlay: dict[str, pd.Series]) -> pd.DataFrame:
    """Return the registry with renewed dates laid over (a copy only of what changes)."""
    if not overlay:
        return df
    out = df.copy(deep=False)
    for col, s in overlay.items():
        pos = out.index.get_indexer(s.index)  # -1: a resident no longer in the registry
        keep = pos >= 0
        if not keep.any():
            continue
        values = out[col].to_numpy().copy()
        values[pos[keep]] = s.to_numpy()[keep]
        out[col] = values
    return out


def _month_day(x: np.ndarray) -> np.ndarray:
    """Return month * 100 + day of datetime64[D] values."""
    m = (x.astype("datetime64[M]") - x.astype("datetime64[Y]")).astype(int) + 1
    return m * 100 + (x - x.astype("datetime64[M]")).astype(int) + 1


def age_on(birth: np.ndarray, day: np.datetime64) -> np.ndarray:
    """Return whole years of age on a day for datetime64[D] birth dates."""
    b = np.asarray(birth).astype("datetime64[D]")
    day = np.datetime64(day, "D")
    years = day.astype("datetime64[Y]").astype(int) - b.astype("datetime64[Y]").astype(int)
    before = _month_day(b) > _month_day(np.array([day]))[0]
    return years - before.astype(int)


def search(df: pd.DataFrame, query: str, grid: str = "", limit: int = 50) -> pd.DataFrame:
    """Return residents whose name, masked name, ID number tail or address matches a query."""
    q = query.strip()
    sel = df if not grid else df[df["grid"] == grid]
    if not q:
        return sel.head(limit)
    if q.isdigit() or q.upper().endswith("X") and q[:-1].isdigit():
        hit = sel["id_no"].str.endswith(q.upper()) | sel["phone"].fillna("").str.endswith(q)
    elif "*" in q:
        pattern = "^" + re.escape(q).replace(r"\*", ".") + "$"  # 张*辉: * is one character
        hit = sel["name"].str.match(pattern)
    else:
        hit = sel["name"].str.contains(q, regex=False) | sel["address"].str.contains(
            q, regex=False)
    return sel[hit.fillna(False)].head(limit)
