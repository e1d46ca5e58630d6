"""Great Expectations glue for the chunk data-quality gate.

Imported lazily by :mod:`netdocs.validation` (``import great_expectations`` costs seconds).
Builds one ephemeral GX context and one expectation suite, turns a batch of chunks into a
pandas frame (one row per chunk, plus derived embedding/path/tag columns), runs the suite on
it and hands back, per expectation, the offending row positions and values.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from netdocs.errors import NetdocsError
from netdocs.types import Chunk

_gx_logger = logging.getLogger("great_expectations")
# Quiet unless the application asked for GX's INFO/DEBUG (a level below WARNING on its
# logger). The CLI sets WARNING there itself: that is no reason to let GX's own INFO
# sub-loggers through (they once reached a closed console handler of Prefect).
_GX_QUIET = _gx_logger.level == logging.NOTSET or _gx_logger.level >= logging.WARNING


def _quiet_gx() -> None:
    """GX's own modules set INFO on some loggers (``...types.base`` announces a temporary
    docs folder per context): raise every GX logger to WARNING, unless the app chose."""
    if not _GX_QUIET:
        return
    _gx_logger.setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith("great_expectations.")
            and isinstance(logger, logging.Logger)
            and logging.NOTSET < logger.level < logging.WARNING
        ):
            logger.setLevel(logging.WARNING)


with warnings.catch_warnings():  # GX imports the deprecated sre_* modules
    warnings.simplefilter("ignore", DeprecationWarning)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig
_quiet_gx()  # after GX's imports set their own levels

CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# Non-empty, no leading "/", no ".." segment, no backslash, no NUL.
SAFE_PATH = r"(?s)\A(?!/)(?!.*(?:\A|/)\.\.(?:/|\Z))[^\\\x00]+\Z"
BLANK = r"\A\s*\Z"
NORM_TOLERANCE = 1e-3
_CONTROL_PROBLEM = "text contains a NUL or another control character"
_HEADING_PROBLEM = "heading contains a NUL or another control character"
_PATH_PROBLEM = "doc_id is not a relative POSIX path (empty, leading /, '..' segment, \\ or NUL)"
_FINITE_PROBLEM = "embedding contains NaN/inf (sample: number of such components)"
_UNIT_PROBLEM = f"embedding is not unit-norm (|norm - 1| > {NORM_TOLERANCE:g})"
_TAGS_PROBLEM = "the document has tags outside the tag vocabulary"


@dataclass(frozen=True)
class Check:
    """One expectation of the suite and how to explain its failures."""

    key: str
    name: str  # short human name
    column: str
    problem: str  # what is wrong with an offending chunk
    focus: str | None = None  # regex: centre string samples on its first match


@dataclass(frozen=True)
class Outcome:
    """The GX result of one check: which rows failed and with which values."""

    check: Check
    expectation_type: str
    rows: list[int]
    values: list[object]


def _checks(dim: int, max_tokens: int, normalized: bool, tags: bool) -> list[tuple[Check, Any]]:
    """The checks with their GX expectations, in evaluation order."""
    tol, top = NORM_TOLERANCE, max_tokens
    specs: list[tuple[Check, Any]] = [
        (
            Check("text_not_empty", "text not empty", "text", "text is empty or whitespace only"),
            gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex=BLANK),
        ),
        (
            Check("tokens", "token count in range", "token_count", f"token_count not in 1..{top}"),
            gxe.ExpectColumnValuesToBeBetween(column="token_count", min_value=1, max_value=top),
        ),
        (
            Check("no_control", "no control characters", "text", _CONTROL_PROBLEM, CONTROL_CHARS),
            gxe.ExpectColumnValuesToNotMatchRegex(column="text", regex=CONTROL_CHARS),
        ),
        (
            Check(
                "heading_no_control",
                "no control characters in headings",
                "heading",
                _HEADING_PROBLEM,
                CONTROL_CHARS,
            ),
            gxe.ExpectColumnValuesToNotMatchRegex(column="heading", regex=CONTROL_CHARS),
        ),
        (
            Check("safe_path", "valid document path", "doc_id", _PATH_PROBLEM),
            gxe.ExpectColumnValuesToMatchRegex(column="doc_id", regex=SAFE_PATH),
        ),
        (
            Check("id_not_empty", "chunk id not empty", "chunk_id", "chunk_id is empty"),
            gxe.ExpectColumnValuesToMatchRegex(column="chunk_id", regex=r"\S"),
        ),
        (
            Check("id_unique", "unique chunk ids", "chunk_id", "chunk_id repeated in the batch"),
            gxe.ExpectColumnValuesToBeUnique(column="chunk_id"),
        ),
        (
            Check("dim", "embedding dimension", "emb_dim", f"embedding dimension is not {dim}"),
            gxe.ExpectColumnValuesToBeInSet(column="emb_dim", value_set=[dim]),
        ),
        (
            Check("finite", "finite embedding", "emb_nonfinite", _FINITE_PROBLEM),
            gxe.ExpectColumnValuesToBeBetween(column="emb_nonfinite", min_value=0, max_value=0),
        ),
    ]
    if normalized:
        specs.append(
            (
                Check("unit", "unit-norm embedding", "emb_norm", _UNIT_PROBLEM),
                gxe.ExpectColumnValuesToBeBetween(
                    column="emb_norm", min_value=1 - tol, max_value=1 + tol
                ),
            )
        )
    if tags:
        specs.append(
            (
                Check("tags", "tags in vocabulary", "unknown_tags", _TAGS_PROBLEM),
                gxe.ExpectColumnValuesToBeInSet(column="unknown_tags", value_set=[""]),
            )
        )
    return specs


def build_frame(
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    tags_by_doc: Mapping[str, Sequence[str]],
    vocabulary: set[str] | None,
) -> pd.DataFrame:
    """One row per chunk, with the derived columns the expectations look at."""
    vecs = np.asarray(vectors, dtype=np.float64)
    finite = np.isfinite(vecs)
    norms = np.linalg.norm(np.where(finite, vecs, 0.0), axis=1)
    nonfinite = (~finite).sum(axis=1)
    # Missing values become "" / 0 so the emptiness and range checks catch them (GX skips nulls).
    frame: dict[str, Any] = {
        "doc_id": [_str(c.doc_id) for c in chunks],
        "chunk_id": [_str(c.chunk_id) for c in chunks],
        "text": [_str(c.text) for c in chunks],
        "heading": [_heading(c.heading_path) for c in chunks],
        "token_count": np.array([_int(c.token_count) for c in chunks], dtype=np.int64),
        "emb_dim": np.full(len(chunks), vecs.shape[1], dtype=np.int64),
        "emb_nonfinite": nonfinite.astype(np.int64),
        # A non-finite vector is reported once (by the finite check), not again as "not unit".
        "emb_norm": np.where(nonfinite > 0, np.nan, norms),
    }
    if vocabulary is not None:
        unknown: dict[str, str] = {}
        for doc_id in {c.doc_id for c in chunks}:
            bad = sorted({str(t) for t in tags_by_doc.get(doc_id, ())} - vocabulary)
            unknown[doc_id] = ",".join(bad)
        frame["unknown_tags"] = [unknown[c.doc_id] for c in chunks]
    return pd.DataFrame(frame)


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _heading(path: object) -> str:
    if isinstance(path, tuple | list):
        return " > ".join(_str(h) for h in path)
    return _str(path)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class GxSuite:
    """An ephemeral GX context holding the chunk suite; ``run`` validates one frame."""

    def __init__(self, *, dim: int, max_tokens: int, normalized: bool, tags: bool) -> None:
        _quiet_gx()
        self._ctx = gx.get_context(mode="ephemeral")
        self._ctx.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        asset = self._ctx.data_sources.add_pandas("netdocs").add_dataframe_asset("chunks")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("batch")
        self._suite = self._ctx.suites.add(gx.ExpectationSuite(name="netdocs_chunks"))
        self._checks: dict[str, Check] = {}
        for check, expectation in _checks(dim, max_tokens, normalized, tags):
            expectation.meta = {"netdocs_check": check.key}
            self._suite.add_expectation(expectation)
            self._checks[check.key] = check

    @property
    def size(self) -> int:
        """Number of expectations in the suite."""
        return len(self._checks)

    def run(self, frame: pd.DataFrame) -> list[Outcome]:
        """Validate ``frame`` (RangeIndex) and return one outcome per evaluated expectation."""
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self._suite, result_format={"result_format": "COMPLETE"})
        outcomes: list[Outcome] = []
        for res in result.results:
            config = res.expectation_config
            assert config is not None  # GX always attaches the configuration it ran
            check = self._checks[str((config.meta or {})["netdocs_check"])]
            error = _raised(res.exception_info)
            if error is not None:
                raise NetdocsError(f"data-quality gate could not evaluate {check.name!r}: {error}")
            rows = [int(i) for i in res.result.get("unexpected_index_list") or []]
            values = list(res.result.get("unexpected_list") or [])
            if not res.success and not rows:
                raise NetdocsError(f"data-quality gate: {check.name!r} failed without rows")
            outcomes.append(Outcome(check, str(config.type), rows, values))
        return outcomes


def _raised(info: object) -> str | None:
    """The exception message GX recorded for an expectation (flat or per-metric), if any."""
    if not isinstance(info, Mapping):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info["raised_exception"] else None
    for sub in info.values():
        message = _raised(sub)
        if message is not None:
            return message
    return None
