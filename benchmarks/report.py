"""The table ``make bench`` prints, from the results dict it writes as JSON."""

from __future__ import annotations

from typing import Any


def _s(step: dict[str, Any] | None, key: str = "wall_s") -> str:
    return f"{step[key]:.1f}" if step and key in step else "-"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _emb(step: dict[str, Any] | None, key: str = "embed_texts") -> str:
    return f"{step.get(key, 0)} in {step.get('embed_calls', 0)} calls" if step else "-"


def side_table(side: dict[str, Any]) -> list[str]:
    """netdocs (every backend) against the peer, step by step, with ratios."""
    lines = [f"corpus {side['corpus']}"]
    peer = side.get("peer", {})
    first = next(iter(side["netdocs"]))
    head = f"{'step':<24}{'netdocs ' + first:>20}{'LlamaIndex ' + peer.get('backend', '-'):>24}"
    lines += [head + f"{'ratio':>9}   texts embedded netdocs / peer", "-" * 110]
    nd = side["netdocs"][first]
    for step, label in (
        ("full", "full ingest (cold)"),
        ("nochange_cold", "no-change, cold process"),
        ("nochange_inprocess", "no-change, in-process"),
        ("edit", "1 % files edited"),
        ("delete", "5 files deleted"),
    ):
        a, b = nd.get(step), peer.get(step)
        key_b = "run_s" if step == "nochange_inprocess" else "wall_s"
        ratio = _ratio(a.get("wall_s") if a else None, b.get(key_b) if b else None)
        lines.append(
            f"{label:<24}{_s(a):>18} s{_s(b, key_b):>22} s{ratio:>9}   {_emb(a)} / {_emb(b)}"
        )
    for backend, figures in side["netdocs"].items():
        full, raw = figures["full"], figures.get("raw_floor", {})
        dur, model = float(full["duration_s"]), float(full.get("model_s", 0.0))
        outside = dur - model
        lines.append(
            f"netdocs {backend}: full {full['wall_s']:.1f} s wall ({dur:.1f} s flow, "
            f"{full.get('cpu_s', 0):.0f} s CPU, peak RSS {full.get('peak_rss_mb', 0):.0f} MB); "
            f"{full['chunks_embedded']} chunks embedded; inside the model {model:.1f} s; "
            f"outside it {outside:.1f} s = {outside / dur:.1%} of the flow; raw model floor "
            f"{_s(raw, 'raw_s')} s for {raw.get('distinct_texts', '-')} texts "
            f"({raw.get('chunks_per_s', '-')} chunks/s) -> ingest/floor "
            f"{_ratio(full['wall_s'], raw.get('raw_s'))}; vs peer full "
            f"{_ratio(full['wall_s'], peer.get('full', {}).get('wall_s'))}"
        )
        phases = ", ".join(f"{k} {v:.1f}" for k, v in full.get("phases", {}).items())
        lines.append(f"  stages (summed over batches, overlapping the model): {phases}")
    if peer:
        full = peer["full"]
        lines.append(
            f"peer: full {full['wall_s']:.1f} s wall (pipeline {full['pipeline_s']:.1f} s, "
            f"{full.get('cpu_s', 0):.0f} s CPU, inside the model {full['model_s']:.1f} s, "
            f"peak RSS {full['peak_rss_mb']:.0f} MB); {full['nodes_stored']} nodes; "
            f"netdocs {first} / peer CPU seconds of the ingest process: "
            f"{_ratio(nd['full'].get('cpu_s'), full.get('cpu_s'))}"
        )
    return lines


def scale_table(scale: dict[str, Any]) -> list[str]:
    """One row per corpus size (no-change: the median of the cold rounds; warm: the flow run
    again in one process, as a served deployment runs it)."""
    lines = [
        f"{'docs':>6} {'chunks':>7} {'full s':>8} {'embedded':>9} {'no-change s':>11} "
        f"{'warm s':>6} "
        f"{'edit s':>7} {'RSS MB':>7} {'index MB':>9} {'p50/p95/p99 ms all':>20} "
        f"{'p95 ne':>7} {'p95 hd':>7} {'recall hd':>9}",
    ]
    for n, f in scale.items():
        if "size" not in f:  # an unfinished size
            lines.append(
                f"{n:>6} (not finished: {', '.join(k for k in f if isinstance(f[k], dict))})"
            )
            continue
        q = f.get("query", {}).get("retrieval_ms", {})
        un = q.get("unrestricted", {})
        lines.append(
            f"{n:>6} {f['size']['chunks']:>7} {f['full']['wall_s']:>8.1f} "
            f"{f['full']['chunks_embedded']:>9} {f['nochange_cold']['wall_s']:>11.2f} "
            f"{f.get('nochange_inprocess', {}).get('wall_s', float('nan')):>6.2f} "
            f"{f['edit']['wall_s']:>7.1f} {f['full']['peak_rss_mb']:>7.0f} "
            f"{f['size']['database_bytes'] / 2**20:>9.0f} "
            f"{un.get('p50', 0):>6.1f}/{un.get('p95', 0):.1f}/{un.get('p99', 0):.1f} "
            f"{q.get('network_engineer', {}).get('p95', 0):>7.1f} "
            f"{q.get('helpdesk', {}).get('p95', 0):>7.1f} "
            f"{f.get('query', {}).get('recall', {}).get('hnsw_vs_exact', 0):>9}"
        )
    return lines
