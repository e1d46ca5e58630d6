"""``eval/run_eval.py``: retrieval quality per category, per role and per stage, and a gate.

    python eval/run_eval.py [--set dev|heldout|paraphrase|sample|FILE] [--stages fused,+diversity]
                            [--roles all|none|ROLE,...] [--min-recall X] [--min-mrr X] [--json]

Uses the configured index (NETDOCS_HOME / NETDOCS_DATABASE_URL) read-only. Exit codes: 0 ok,
1 the gate failed (the reasons are printed), 2 the set or the index could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from netdocs.errors import NetdocsError
from netdocs.evaluation.questions import EvalSetError, load_set
from netdocs.evaluation.report import gate, json_report, text_report
from netdocs.evaluation.runner import EmptyIndex, RunOptions, run_set
from netdocs.evaluation.stages import parse_stages

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
#: Named sets; anything else is a path to a YAML file.
SETS = {
    "dev": "questions.yaml",
    "heldout": "heldout.yaml",
    "paraphrase": "heldout-paraphrase.yaml",
    "sample": "sample.yaml",
}


def set_path(name: str) -> Path:
    return EVAL_DIR / SETS[name] if name in SETS else Path(name)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--set", default="dev", help="dev, heldout, paraphrase, sample, or a file")
    p.add_argument("--stages", default="fused", help="e.g. fused,+diversity,+model,+llm")
    p.add_argument(
        "--roles",
        default="all",
        help="all, none (no role), or ROLE[,ROLE] (unrestricted = no role)",
    )
    p.add_argument("--policy", type=Path, help="access policy (default: stored in the index)")
    p.add_argument("--mode", default="fused", choices=("fused", "dense", "fulltext"))
    p.add_argument("--model-home", type=Path, help="NETDOCS_HOME of the +model index")
    p.add_argument("--llm-recording", type=Path, help="recorded answers for the +llm stage")
    p.add_argument("--min-recall", type=float)
    p.add_argument("--min-mrr", type=float)
    p.add_argument("--min-refusal", type=float, help="minimum refusal rate on unanswerable")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--output", type=Path, help="also write the JSON report to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = set_path(args.set)
    try:
        qset = load_set(path, args.set if args.set in SETS else None)
        stages = parse_stages(args.stages)
    except (EvalSetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for problem in qset.errors:
        print(f"warning: {problem}", file=sys.stderr)
    recording = args.llm_recording or EVAL_DIR / "recordings" / f"{path.stem}.llm.json"
    opts = RunOptions(
        roles=args.roles,
        policy=args.policy,
        mode=args.mode,
        model_home=args.model_home,
        llm_recording=recording,
    )
    try:
        results = run_set(qset, stages, opts)
    except (EmptyIndex, NetdocsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = json_report(qset, results)
    if args.output:
        args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report) if args.json else text_report(qset, results))
    problems = gate(qset, results, args.min_recall, args.min_mrr, args.min_refusal)
    gated = any(x is not None for x in (args.min_recall, args.min_mrr, args.min_refusal))
    if problems and (gated or any("leak" in p or "hidden" in p for p in problems)):
        print("eval gate FAILED:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if gated:
        print("eval gate passed", file=sys.stderr)
    return 0
