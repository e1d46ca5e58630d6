"""Retrieval quality: recall@5, MRR@10 and refusal rate per category, role and stage.

See ``netdocs/evaluation/cli.py`` for the options, e.g.

    NETDOCS_HOME=/tmp/benchhome python eval/run_eval.py --set heldout --roles all
    python eval/run_eval.py --set sample --min-recall 0.8 --min-mrr 0.6   # the gate
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from netdocs.evaluation.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
