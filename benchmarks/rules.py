"""Rule evaluation speed: 50 rules over 1,000,000 scored events, against per-row Python and per-rule loops.

Run from the repository root: ``python -m benchmarks.rules`` (``--quick`` for 100,000 events).
Prints a table and writes ``benchmarks/results/rules.json``. Figures are medians of a few runs
on whatever machine this is; the machine and sizes are printed with them.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.timing import timed
from fraud_brain.rules import Decider, RuleSet
from fraud_brain.schema.records import AGE_BANDS

RESULTS = Path(__file__).with_name("results") / "rules.json"
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
FEATURES = [f"f{i}" for i in range(10)]


def scored_events(n: int, seed: int = 7) -> pl.DataFrame:
    """A scored transfer batch: keys, profile, 10 numeric features, 3 flags, scores and reasons."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    frame = pl.DataFrame({
        "transfer_id": [f"t{i}" for i in range(n)],
        "time": pl.Series(np.sort(start + rng.integers(0, 7 * 86_400_000, n))).cast(pl.Datetime("ms", "UTC")),
        "payer_phone": [f"138{i:08d}" for i in rng.integers(0, n // 5 + 1, n)],
        "payee_account": [f"B{i}" for i in rng.integers(0, n // 20 + 1, n)],
        "amount": np.round(rng.lognormal(6, 1.5, n), 2),
        "age_band": pl.Series(rng.choice(AGE_BANDS, n)).cast(pl.Enum(AGE_BANDS)),
        "score": rng.beta(0.5, 5, n),
        "score_offline": rng.beta(0.5, 5, n),
        "anomaly": rng.random(n),
        **{name: rng.gamma(2.0, 1.0 + i, n) for i, name in enumerate(FEATURES)},
        "is_new_payee": rng.random(n) < 0.2,
        "is_night": rng.random(n) < 0.1,
        "payee_new_account": rng.random(n) < 0.05,
    })
    return frame.with_columns(pl.concat_list(pl.lit("score"), pl.lit("amount")).alias("reasons"))


def make_rules(frame: pl.DataFrame, count: int = 50, seed: int = 11) -> list[dict]:
    """``count`` random rules: 2-4 clauses on features/scores at upper quantiles, some age and flag tests."""
    rng = np.random.default_rng(seed)
    numeric = ["score", "score_offline", "anomaly", "amount", *FEATURES]
    sample = frame.head(100_000)
    rules = []
    for index in range(count):
        clauses = []
        joiner = "OR" if rng.random() < 0.1 else "AND"
        for column in rng.choice(numeric, rng.integers(2, 5), replace=False):
            # Alerting rules are selective: a few percent of events at most hit any one rule.
            q = 0.998 if joiner == "OR" else float(rng.choice([0.8, 0.9, 0.95, 0.98]))
            clauses.append(("cmp", str(column), ">=", round(float(sample[str(column)].quantile(q)), 4)))
        if joiner == "AND" and rng.random() < 0.3:
            clauses.append(("in", "age_band", None, tuple(rng.choice(AGE_BANDS, 3, replace=False).tolist())))
        if joiner == "AND" and rng.random() < 0.3:
            clauses.append(("bool", str(rng.choice(["is_new_payee", "is_night", "payee_new_account"])), None, True))
        rules.append({"name": f"rule_{index:02d}", "joiner": joiner, "clauses": clauses,
                      "priority": int(rng.integers(0, 100)), "mode": "shadow" if index % 10 == 9 else "active"})
    return rules


def clause_sql(clause: tuple) -> str:
    kind, column, op, value = clause
    if kind == "in":
        return f"{column} IN ({', '.join(repr(v) for v in value)})"
    if kind == "bool":
        return column
    return f"{column} {op} {value}"


def rules_toml(rules: list[dict]) -> str:
    parts = []
    for rule in rules:
        condition = f" {rule['joiner']} ".join(clause_sql(c) for c in rule["clauses"])
        parts.append(
            f'[[rule]]\nname = "{rule["name"]}"\nevent = "transfer"\n'
            f'when = "{condition}"\n'
            f'actions = ["voice_bot"]\nvictim = "payer_phone"\npriority = {rule["priority"]}\n'
            f'cooldown = "30m"\nmode = "{rule["mode"]}"\n'
        )
    return "\n".join(parts)


def python_row_hits(frame: pl.DataFrame, rules: list[dict]) -> int:
    """Baseline: the same conditions evaluated per row in Python (SQL nulls do not occur in this data)."""
    def test(clause: tuple, row: dict) -> bool:
        kind, column, op, value = clause
        if kind == "in":
            return row[column] in value
        if kind == "bool":
            return bool(row[column])
        return OPS[op](row[column], value)

    hits = 0
    for row in frame.iter_rows(named=True):
        for rule in rules:
            results = (test(c, row) for c in rule["clauses"])
            if all(results) if rule["joiner"] == "AND" else any(results):
                hits += 1
    return hits


def per_rule_filter_hits(frame: pl.DataFrame, ruleset: RuleSet) -> int:
    """Second baseline: one polars pass per rule (``filter``) instead of one ``select`` for all."""
    return sum(frame.filter(rule.expr.fill_null(False)).height for rule in ruleset.rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="scored events (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 events, fewer repeats")
    parser.add_argument("--rules", type=int, default=50, help="number of rules (default 50)")
    parser.add_argument("--python-rows", type=int, default=20_000, help="rows for the per-row Python baseline")
    parser.add_argument("--batch", type=int, default=10_000, help="batch size of the streaming measurement")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.events
    repeat = 2 if args.quick else 3

    from rich.console import Console
    from rich.table import Table

    console = Console()
    with console.status("building scored events and rules"):
        frame = scored_events(n)
        rules = make_rules(frame, args.rules)
        ruleset = RuleSet.from_text(rules_toml(rules), frame.schema)

    conditions = [r.expr.fill_null(False).alias(r.name) for r in ruleset.rules]
    t_select, mask = timed(lambda: frame.select(conditions), repeat)
    t_eval, hits = timed(lambda: ruleset.evaluate(frame), repeat)
    batches = [frame.slice(i, args.batch) for i in range(0, n, args.batch)]
    t_stream, _ = timed(lambda: [ruleset.evaluate(b) for b in batches], repeat)
    t_filter, filter_hits = timed(lambda: per_rule_filter_hits(frame, ruleset), repeat)
    t_decide, decided = timed(lambda: Decider().decide(hits), 1)
    subset = frame.head(min(args.python_rows, n))
    t_python, python_hits = timed(lambda: python_row_hits(subset, rules), 1)

    mask_hits = int(mask.select(pl.sum_horizontal(pl.all().cast(pl.Int64))).to_series().sum())
    assert hits.height == mask_hits == filter_hits, (hits.height, mask_hits, filter_hits)
    subset_hits = ruleset.evaluate(subset).height
    assert subset_hits == python_hits, (subset_hits, python_hits)

    python_rate = subset.height / t_python
    rows = [
        ("rules: evaluate (one select + hits frame)", n / t_eval),
        (f"rules: evaluate in batches of {args.batch:,}", n / t_stream),
        ("rules: conditions only (one select)", n / t_select),
        ("baseline: one polars filter per rule", n / t_filter),
        (f"baseline: per-row Python ({subset.height:,} rows, extrapolated)", python_rate),
    ]
    machine = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "polars": pl.__version__, "platform": platform.platform(),
    }
    table = Table(title=f"{len(ruleset)} rules over {n:,} scored events; {hits.height:,} hits "
                        f"({hits.height / n:.2f} per event), "
                        f"{int(decided['active'].sum()):,} active decisions after 30-min cooldowns")
    table.add_column("what")
    table.add_column("rows/s", justify="right")
    table.add_column("vs per-row Python", justify="right")
    for what, rate in rows:
        table.add_row(what, f"{rate:,.0f}", f"{rate / python_rate:,.0f}×")
    table.add_row("decider (cooldowns) over the hits", f"{hits.height / t_decide:,.0f} hits/s", "")
    console.print(table)
    console.print(f"machine: {machine['cpu_count']} CPUs, Python {machine['python']}, numpy {machine['numpy']}, "
                  f"polars {machine['polars']}; target ≥ 1,000,000 rows/s: "
                  f"{'met' if n / t_eval >= 1_000_000 else 'NOT met'} ({n / t_eval:,.0f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "events": n, "rules": len(ruleset), "hits": hits.height, "active_decisions": int(decided["active"].sum()),
        "seconds": {"evaluate": t_eval, "evaluate_batches": t_stream, "select_only": t_select,
                    "per_rule_filter": t_filter, "python_subset": t_python, "decide": t_decide},
        "rows_per_s": {what: rate for what, rate in rows},
        "ratio_vs_python": (n / t_eval) / python_rate,
        "ratio_vs_per_rule_filter": t_filter / t_eval,
        "batch": args.batch, "python_rows": subset.height, "machine": machine,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2))


if __name__ == "__main__":
    main()
