"""Backtest: replay scored history through a rule set and report per rule what it would do.

Per rule (shadow rules the same): hits, decisions after cooldowns, precision against labels
(and against ground truth when given), money protected (the amounts of true scam transfers
the rule fired on — on the transfer itself, or on the same victim earlier within
``protect_window``) and decisions per day. Labels are used with hindsight here (all of them,
whenever known): the question is how good the rules are, not what was known at the time.

Where the scored frames come from is pluggable: :data:`SCORED_SOURCES` holds callables that
turn a ``DATA`` path into scored frames; the first one that recognises the path wins. The
default reads a folder of scored Parquet files; the replay + scoring pipeline can be put in
front of it.

>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from fraud_brain.rules.ruleset import RuleSet
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> scored = pl.DataFrame({"transfer_id": ["t1", "t2"], "time": [t, t], "payer_phone": ["138", "139"],
...                        "amount": [5000.0, 20.0], "score": [0.95, 0.97]})
>>> rules = RuleSet.from_text('[[rule]]\\nname = "hot"\\nevent = "transfer"\\nwhen = "score >= 0.9"\\n'
...                           'actions = ["voice_bot"]\\nvictim = "payer_phone"\\n', scored.schema)
>>> truth = pl.DataFrame({"event_id": ["t1", "t2"], "is_fraud": [True, False]})
>>> report = backtest(rules, [scored], truth=truth)
>>> report.per_rule.select("rule", "hits", "precision_truth", "money_protected").row(0)
('hot', 2, 0.5, 5000.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.rules.decider import Decider
from fraud_brain.rules.model import EventSpec
from fraud_brain.rules.ruleset import RuleEvaluationError, RuleSet, empty_hits
from fraud_brain.rules.vocabulary import parse_duration, victim_kind
from fraud_brain.schema import schema_for

ANY_ACTIVE = "(any active rule)"
"""The row of the report that unions every active rule."""

ScoredSource = Callable[[Path], "list[pl.DataFrame] | None"]
"""Turns a DATA path into scored frames, or ``None`` if it does not recognise the path."""

_NOT_SCORED = ("labels", "truth", "subscribers")
_TRUTH_IDS = ("event_id", "transfer_id", "call_id")
_TRUTH_FLAGS = ("is_fraud", "is_scam")


def read_scored_parquet(data: Path) -> list[pl.DataFrame] | None:
    """Scored frames from a Parquet file or a folder of them (``labels*``/``truth*`` files skipped).

    >>> read_scored_parquet(Path("no/such/folder")) is None
    True
    """
    if data.is_file() and data.suffix == ".parquet":
        files = [data]
    elif data.is_dir():
        files = sorted(p for p in data.glob("*.parquet") if not p.stem.startswith(_NOT_SCORED))
    else:
        return None
    return [pl.read_parquet(p) for p in files] or None


SCORED_SOURCES: list[ScoredSource] = [read_scored_parquet]
"""Sources tried in order by :func:`load_scored`; insert the replay + scoring pipeline at index 0."""


def load_scored(data: Path) -> list[pl.DataFrame]:
    """The scored frames of ``data`` from the first source in :data:`SCORED_SOURCES` that reads it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> pl.DataFrame({"call_id": ["c1"], "score": [0.5]}).write_parquet(folder / "calls.parquet")
    >>> [f.height for f in load_scored(folder)]
    [1]
    """
    for source in SCORED_SOURCES:
        frames = source(Path(data))
        if frames is not None:
            return list(frames)
    raise MissingInputError(f"{data}: no scored frames found (expected .parquet files of scored events)")


@dataclass
class BacktestReport:
    """Per-rule backtest figures, plus the totals they are measured against."""

    per_rule: pl.DataFrame
    events: int
    days: int
    scam_transfers: int
    scam_money: float
    truth_source: str | None
    """``"truth"``, ``"labels"`` or ``None``: what "true scam" means for money protected."""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON).

        >>> BacktestReport(pl.DataFrame({"rule": ["r"]}), 10, 1, 0, 0.0, None).to_dict()["rules"]
        [{'rule': 'r'}]
        """
        return {
            "events": self.events, "days": self.days, "scam_transfers": self.scam_transfers,
            "scam_money": self.scam_money, "truth_source": self.truth_source,
            "rules": self.per_rule.to_dicts(),
        }

    def rich_table(self) -> Any:
        """The per-rule report as a :class:`rich.table.Table`."""
        from rich.table import Table

        def pct(value: float | None) -> str:
            return "–" if value is None else f"{value:.1%}"

        table = Table(title=f"Backtest: {self.events:,} events over {self.days} day(s); "
                            f"scam money {self.scam_money:,.0f} in {self.scam_transfers:,} transfers "
                            f"(by {self.truth_source or 'nothing: no labels'})")
        for column, justify in (("rule", "left"), ("event", "left"), ("mode", "left"), ("hits", "right"),
                                ("decisions", "right"), ("precision (labels)", "right"),
                                ("precision (truth)", "right"), ("money protected", "right"),
                                ("share", "right"), ("alerts/day", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for row in self.per_rule.iter_rows(named=True):
            share = row["money_protected"] / self.scam_money if self.scam_money else None
            table.add_row(
                row["rule"], row["event"] or "", row["mode"] or "",
                f"{row['hits']:,}", f"{row['decisions']:,}",
                pct(row["precision_labels"]), pct(row["precision_truth"]), f"{row['money_protected']:,.0f}",
                pct(share), f"{row['alerts_per_day']:.1f}",
            )
        return table


def _label_flags(labels: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """Fraud transfers, numbers and accounts from a LABELS frame; the latest label of an entity wins."""
    if labels is None or labels.height == 0:
        return {}
    latest = labels.sort("known_at").group_by("entity_type", "entity_id").agg(pl.col("is_fraud").last())
    return {
        kind: latest.filter(pl.col("entity_type").cast(pl.String) == kind).select("entity_id", "is_fraud")
        for kind in ("transfer", "number", "account")
    }


def _event_facts(rules: RuleSet, frame: pl.DataFrame, event: str, transfer_victim: str) -> pl.DataFrame:
    record = schema_for(event)
    # Events no rule watches still count (days, scam money): their record columns locate them.
    spec = rules.specs.get(event) or EventSpec(event, record.id_field, record.time_field or "time")
    columns = frame.columns

    def text(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name in columns else pl.lit(None, dtype=pl.String)

    def present(name: str) -> pl.Expr:
        return (pl.col(name).is_not_null() & (text(name) != "")) if name in columns else pl.lit(False)

    # Victims as "<kind>:<key>", the way hits name them (victim_kind, victim_key): a transfer whose
    # bank sent no payer phone is its payer account's, as the bundled rules' fallback makes it.
    transfer_victim_kind = victim_kind(transfer_victim) or "phone"
    transfer = (
        pl.when(present(transfer_victim)).then(pl.lit(f"{transfer_victim_kind}:") + text(transfer_victim))
        .when(present("payer_account")).then(pl.lit("account:") + text("payer_account"))
        .otherwise(None)
    )
    return frame.select(
        pl.col(spec.id_column).cast(pl.String).alias("event_id"),
        pl.lit(event).alias("event"),
        pl.col(spec.time_column).cast(pl.Datetime("ms", "UTC")).alias("time"),
        (pl.col("amount").cast(pl.Float64) if "amount" in columns and event == "transfer"
         else pl.lit(None, dtype=pl.Float64)).alias("amount"),
        (transfer if event == "transfer" else pl.lit("phone:") + text("callee")).alias("victim"),
        text("payee_account").alias("payee_account"),
        text("caller").alias("caller"),
    )


def _flag_events(
    facts: pl.DataFrame, labels: pl.DataFrame | None, truth: pl.DataFrame | Sequence[pl.DataFrame] | None
) -> pl.DataFrame:
    flags = _label_flags(labels)
    out = facts
    if flags:
        out = (
            out.join(flags["transfer"].rename({"entity_id": "event_id", "is_fraud": "_t"}),
                     on="event_id", how="left")
            .join(flags["account"].rename({"entity_id": "payee_account", "is_fraud": "_a"}),
                  on="payee_account", how="left")
            .join(flags["number"].rename({"entity_id": "caller", "is_fraud": "_n"}), on="caller", how="left")
            .with_columns(
                pl.when(pl.col("event") == "transfer")
                .then(pl.col("_t").fill_null(False) | pl.col("_a").fill_null(False))
                .otherwise(pl.col("_n").fill_null(False))
                .alias("label_fraud")
            )
            .drop("_t", "_a", "_n")
        )
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.Boolean).alias("label_fraud"))
    if truth is not None:
        out = out.join(_truth_flags(truth), on="event_id", how="left").with_columns(
            pl.col("truth_fraud").fill_null(False))
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.Boolean).alias("truth_fraud"))
    return out


def _truth_flags(truth: pl.DataFrame | Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Ground truth as (event_id, truth_fraud), from event_id/transfer_id/call_id and is_fraud/is_scam."""
    frames = [truth] if isinstance(truth, pl.DataFrame) else list(truth)
    parts = []
    for frame in frames:
        id_column = next((c for c in _TRUTH_IDS if c in frame.columns), None)
        flag = next((c for c in _TRUTH_FLAGS if c in frame.columns), None)
        if id_column is None or flag is None:
            raise InputError(
                f"truth frame needs an id column ({' / '.join(_TRUTH_IDS)}) "
                f"and a flag ({' / '.join(_TRUTH_FLAGS)}); "
                f"it has {frame.columns}"
            )
        parts.append(frame.select(pl.col(id_column).cast(pl.String).alias("event_id"),
                                  pl.col(flag).cast(pl.Boolean).alias("truth_fraud")))
    return pl.concat(parts).unique("event_id", keep="last")


def _money_protected(firings: pl.DataFrame, scams: pl.DataFrame, window_ms: int) -> float:
    """Sum of scam amounts with a firing for the same victim at or before the transfer, within the window."""
    if firings.height == 0 or scams.height == 0:
        return 0.0
    fired = firings.select("victim", pl.col("time").alias("fired_at")).drop_nulls().sort("fired_at")
    matched = scams.sort("time").join_asof(
        fired, left_on="time", right_on="fired_at", by="victim", strategy="backward",
        tolerance=f"{window_ms}ms", check_sortedness=False,
    )
    return float(matched.filter(pl.col("fired_at").is_not_null())["amount"].sum())


def backtest(
    rules: RuleSet,
    scored_frames: Iterable[pl.DataFrame],
    labels: pl.DataFrame | None = None,
    truth: pl.DataFrame | Sequence[pl.DataFrame] | None = None,
    *,
    transfer_victim: str = "payer_phone",
    protect_window: str | int = "24h",
) -> BacktestReport:
    """Run ``rules`` over scored frames (calls and/or transfers) and report per rule.

    ``labels`` is a LABELS frame (a transfer, its payee account or the calling number labelled
    fraud makes an event fraud); ``truth`` has ``event_id`` and ``is_fraud`` (the simulator's
    ground truth). Money protected uses the truth when given, else the labels.
    """
    window_ms = parse_duration(protect_window)
    hit_frames: list[pl.DataFrame] = []
    fact_frames: list[pl.DataFrame] = []
    for frame in scored_frames:
        try:
            event = rules.detect_event(frame)
            hit_frames.append(rules.evaluate(frame, event=event))
        except RuleEvaluationError as error:
            # The history is the caller's: frames that do not fit the rules are their input's fault.
            raise InputError(f"backtest history: {error}") from error
        fact_frames.append(_event_facts(rules, frame, event, transfer_victim))
    hits = pl.concat(hit_frames) if hit_frames else empty_hits()
    facts = pl.concat(fact_frames) if fact_frames else pl.DataFrame(
        schema={"event_id": pl.String, "event": pl.String, "time": pl.Datetime("ms", "UTC"),
                "amount": pl.Float64, "victim": pl.String, "payee_account": pl.String, "caller": pl.String})
    events = _flag_events(facts, labels, truth)
    days = max(1, events["time"].dt.date().n_unique()) if events.height else 1
    decided = Decider().decide(hits).join(
        events.select("event_id", "event", "label_fraud", "truth_fraud"), on=["event_id", "event"], how="left"
    )
    truth_source = "truth" if truth is not None else ("labels" if labels is not None else None)
    scam_flag = "truth_fraud" if truth is not None else "label_fraud"
    scams = events.filter((pl.col("event") == "transfer") & pl.col(scam_flag).fill_null(False)).select(
        "victim", "time", "amount"
    )
    rows: list[dict[str, Any]] = []
    rule_event: str | None
    for rule in [*rules.rules, None]:
        if rule is None:
            chosen = decided.filter(pl.col("mode") == "active")
            unique_events = chosen.unique(["event_id", "event"])
            name, rule_event, mode = ANY_ACTIVE, None, "active"
            counted = unique_events
            decisions = chosen.filter(pl.col("status") == "fired").unique(["event_id", "event"]).height
        else:
            chosen = decided.filter(pl.col("rule") == rule.name)
            name, rule_event, mode = rule.name, rule.event, rule.mode
            counted = chosen
            decisions = chosen.filter(pl.col("status").is_in(["fired", "shadow"])).height
        n = counted.height
        tp_labels = int(counted["label_fraud"].fill_null(False).sum()) if n else 0
        tp_truth = int(counted["truth_fraud"].fill_null(False).sum()) if n else 0
        rows.append({
            "rule": name, "event": rule_event, "mode": mode, "hits": n, "decisions": decisions,
            "true_hits_labels": tp_labels,
            "precision_labels": (tp_labels / n if n else None) if labels is not None else None,
            "true_hits_truth": tp_truth,
            "precision_truth": (tp_truth / n if n else None) if truth is not None else None,
            "money_protected": _money_protected(
                chosen.select(
                    pl.concat_str("victim_kind", pl.lit(":"), "victim_key").alias("victim"), "time"),
                scams, window_ms,
            ),
            "alerts_per_day": decisions / days,
        })
    per_rule = pl.DataFrame(rows, schema={
        "rule": pl.String, "event": pl.String, "mode": pl.String, "hits": pl.Int64, "decisions": pl.Int64,
        "true_hits_labels": pl.Int64, "precision_labels": pl.Float64, "true_hits_truth": pl.Int64,
        "precision_truth": pl.Float64, "money_protected": pl.Float64, "alerts_per_day": pl.Float64,
    })
    return BacktestReport(
        per_rule=per_rule, events=events.height, days=days, scam_transfers=scams.height,
        scam_money=float(scams["amount"].sum() or 0.0), truth_source=truth_source,
    )
