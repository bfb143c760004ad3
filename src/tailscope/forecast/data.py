"""Elicitation probabilities in, `psi = -log(-log p)` out, with 0 and 1 handled explicitly.

- p = 0 (no hit in k samples, or an exact probability that underflowed): the query stays
  in the evaluation set (it counts in m and in the survival ranks) but has no finite psi.
  It can never be one of the top `k_tail` used by the tail fit; when fewer than `k_tail`
  queries have p > 0, the forecast says "not enough signal" instead of a number.
- p = 1 (every sample hit): psi would be infinite. With the sample counts known, the
  Jeffreys posterior median is used instead (finite, strictly below 1); from a file, the
  row must give `p_low` (the lower interval bound), which is used instead: a conservative
  choice, said so in the result. Without either it is an error, never a silent clip.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.files import jsonl_rows, read_text_file
from tailscope.stats import jeffreys_median
from tailscope.store.records import Elicitation, RedTeamCase

# A detector score of exactly 1 is 1 to float32 precision, so it lies in [1 - 2^-24, 1].
SCORE_RESOLUTION_LOW = 1 - 2.0**-24


def psi_from_logp(logp) -> np.ndarray:
    """psi = -log(-log p), computed from log p so that tiny probabilities keep precision.
    log p = -inf (p = 0) maps to -inf; log p = 0 (p = 1) maps to +inf."""
    logp = np.asarray(logp, dtype=float)
    with np.errstate(divide="ignore"):
        return -np.log(-logp)


def p_from_psi(psi) -> np.ndarray:
    return np.exp(-np.exp(-np.asarray(psi, dtype=float)))


def log10_p_from_psi(psi) -> np.ndarray:
    """log10 p without underflow: log p = -exp(-psi)."""
    return -np.exp(-np.asarray(psi, dtype=float)) / math.log(10)


@dataclass
class Observations:
    """An evaluation set ready for tail fits: one psi per query (-inf for p = 0)."""

    psi: np.ndarray
    n_zero: int  # queries with p = 0, kept in m, never in the tail
    n_one: int  # queries with p = 1, replaced as the module docstring says
    one_rule: str | None  # how p = 1 was replaced, if any query had it

    @property
    def m(self) -> int:
        return int(self.psi.size)

    @property
    def n_positive(self) -> int:
        return int(np.sum(np.isfinite(self.psi)))


def observations(
    p=None,
    *,
    logp=None,
    hits=None,
    trials=None,
    p_low=None,
) -> Observations:
    """Build observations from probabilities `p` or log-probabilities `logp`.

    `hits`/`trials` (sampling) or `p_low` (interval lower bounds) say what to do with p = 1.
    """
    if (p is None) == (logp is None):
        raise ValueError("give exactly one of p or logp")
    if logp is None:
        p = np.asarray(p, dtype=float)
        _check_probabilities(p)
        with np.errstate(divide="ignore"):
            logp = np.log(p)
    logp = np.asarray(logp, dtype=float)
    if logp.size == 0:
        raise TailscopeError("no elicitation probabilities: the evaluation set is empty")
    if np.any(np.isnan(logp)) or np.any(logp > 0):
        raise TailscopeError("log-probabilities must be <= 0 and not NaN")
    psi = psi_from_logp(logp)
    ones = logp == 0
    rule = None
    if ones.any():
        if hits is not None and trials is not None:
            median = jeffreys_median(np.asarray(hits)[ones], np.asarray(trials)[ones])
            psi[ones] = psi_from_logp(np.log(median))
            rule = "jeffreys_median"
        elif p_low is not None:
            low = np.asarray(p_low, dtype=float)[ones]
            if np.any(~np.isfinite(low)) or np.any(low <= 0) or np.any(low >= 1):
                raise TailscopeError(
                    "a query with p = 1 has p_low outside (0, 1): give its interval's lower bound"
                )
            psi[ones] = psi_from_logp(np.log(low))
            rule = "interval_low"
        else:
            raise TailscopeError(
                f"{int(ones.sum())} queries have p = 1 exactly and no interval: add a p_low "
                "column (the interval's lower bound) or hits and k columns"
            )
    return Observations(
        psi=psi, n_zero=int(np.sum(logp == -np.inf)), n_one=int(ones.sum()), one_rule=rule
    )


def elicitation_observations(rows: list[Elicitation]) -> Observations:
    """The evaluation set of an elicitation run's results: exact log-probabilities, or
    sampled p with their hit counts."""
    if all(r.method == "exact" for r in rows):
        return observations(logp=np.array([r.logp for r in rows], dtype=float))
    return observations(
        np.array([r.p for r in rows], dtype=float),
        hits=np.array([r.hits for r in rows]),
        trials=np.array([r.k for r in rows]),
    )


def redteam_observations(cases: list[RedTeamCase]) -> Observations:
    """The evaluation set of a red-team run: its test cases are the queries, drawn from the
    attacker's distribution, and each one's p is the behavior detector's score of the
    target's (greedy) reply, 0 where the test case breaks the prompt constraints. A score of
    exactly 1 takes the lower end of the detector's precision, 1 - 2^-24, instead
    (`score_resolution`): a finite psi, still above every score below 1."""
    scores = np.array([c.score for c in cases], dtype=float)
    obs = observations(scores, p_low=np.full(scores.size, SCORE_RESOLUTION_LOW))
    return replace(obs, one_rule="score_resolution") if obs.n_one else obs


def _check_probabilities(p: np.ndarray) -> None:
    bad = np.flatnonzero(np.isnan(p) | (p < 0) | (p > 1))
    if bad.size:
        raise TailscopeError(
            f"probability {p[bad[0]]!r} at row {bad[0] + 1} is not in [0, 1]: "
            "fix the p column (one elicitation probability per query)"
        )


# ---- files ---------------------------------------------------------------------------


def read_probability_file(path: str | Path, column: str = "p") -> Observations:
    """A CSV or JSONL file with a column `p` per query (optionally `p_low`, `hits`, `k`)."""
    path = Path(path)
    if not path.is_file():
        raise TailscopeError(f"probability file {path} not found: check the path")
    rows = _rows(path)
    if not rows:
        raise TailscopeError(f"probability file {path} has no rows: add one p per query")
    values, lows, hits, trials = [], [], [], []
    for number, row in enumerate(rows, 1):
        if column not in row:
            raise TailscopeError(
                f"{path} row {number} has no column {column!r}: give one elicitation "
                "probability per query in a column named p"
            )
        values.append(_number(row[column], path, number, column))
        lows.append(_number(row.get("p_low"), path, number, "p_low", default=math.nan))
        hits.append(_number(row.get("hits"), path, number, "hits", default=math.nan))
        trials.append(_number(row.get("k"), path, number, "k", default=math.nan))
    p = np.array(values)
    bad = np.flatnonzero(np.isnan(p) | (p < 0) | (p > 1))
    if bad.size:
        raise TailscopeError(
            f"{path} row {bad[0] + 1}: p = {rows[bad[0]][column]!r} is not a probability in "
            "[0, 1]: fix or drop that row"
        )
    hits_a, trials_a = np.array(hits), np.array(trials)
    have_counts = not (np.isnan(hits_a).any() or np.isnan(trials_a).any())
    have_low = not np.isnan(np.array(lows)[p == 1]).any()
    return observations(
        p,
        hits=hits_a if have_counts else None,
        trials=trials_a if have_counts else None,
        p_low=np.array(lows) if have_low else None,
    )


def _rows(path: Path) -> list[dict]:
    text = read_text_file(path, str(path))
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, row in jsonl_rows(path, text):
            if not isinstance(row, dict):
                raise TailscopeError(f"{path}:{number} is not a JSON object with a p field")
            rows.append(row)
        return rows
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    raise TailscopeError(f"{path}: unknown format {path.suffix!r}; use .csv or .jsonl")


def _number(value, path, number, column, default=None) -> float:
    if value is None or value == "":
        if default is not None:
            return default
        raise TailscopeError(f"{path} row {number}: {column} is empty: give a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TailscopeError(
            f"{path} row {number}: {column} = {value!r} is not a number: fix or drop that row"
        ) from None
