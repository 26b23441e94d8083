"""The run report: what the brain caught in a data folder, how fast, and at what cost.

Measured against the simulator's ground truth when the folder has it (``truth_episodes``,
``truth_transfers``), else against the labels. An episode (one victim of one scam) counts as
*alerted* when a decision names its victim (the phone, or the account when the bank sent no
phone) between the episode's first scam contact and one day after its last scam transfer.

>>> import polars as pl
>>> episodes = pl.DataFrame({"episode_id": [1], "victim_phone": ["138"], "typology": ["fake_loan"],
...     "start": [0], "end": [10]})
>>> decisions = pl.DataFrame({"victim_key": ["138", "139"], "time_ms": [5, 6], "typology": ["simbox", None]})
>>> match_decisions(decisions, episodes).select("episode_id", "episode_typology").rows()
[(1, 'fake_loan'), (None, None)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

DAY_MS = 86_400_000


def _ms(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("ms")


def episode_table(truth: dict[str, pl.DataFrame], calls: pl.DataFrame | None) -> pl.DataFrame | None:
    """One row per scam episode: victim phone, typology, start (first scam contact) and end (ms)."""
    episodes = truth.get("truth_episodes")
    transfers = truth.get("truth_transfers")
    if episodes is None or transfers is None:
        return None
    scam = transfers.filter(pl.col("is_scam") & pl.col("episode_id").is_not_null())
    spans = scam.group_by("episode_id").agg(
        _ms("first_scam_call_time").min().alias("first_call"),
        pl.len().alias("scam_transfers"),
    )
    starts = [pl.col("anchor_time").dt.epoch("ms")]
    frame = episodes.join(spans, on="episode_id", how="left")
    call_truth = truth.get("truth_calls")
    if call_truth is not None and calls is not None:
        first_calls = (
            call_truth.filter(pl.col("is_scam") & pl.col("episode_id").is_not_null())
            .join(calls.select("call_id", "start_time"), on="call_id", how="inner")
            .group_by("episode_id")
            .agg(_ms("start_time").min().alias("first_scam_call"))
        )
        frame = frame.join(first_calls, on="episode_id", how="left")
        starts.insert(0, pl.col("first_scam_call"))
    account = pl.col("victim_account") if "victim_account" in frame.columns else pl.lit(None, dtype=pl.String)
    return frame.select(
        "episode_id",
        pl.col("victim_phone"),
        account.alias("victim_account"),
        pl.col("typology").cast(pl.String),
        pl.min_horizontal(*starts, pl.col("first_call")).alias("start"),
        pl.col("anchor_time").dt.epoch("ms").alias("anchor"),
        pl.col("scam_transfers").fill_null(0),
    ).with_columns((pl.col("anchor") + 30 * DAY_MS).alias("end"))


def match_decisions(decisions: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """Each decision with the scam episode of its victim it falls in (null: no episode).

    ``decisions`` needs ``victim_key`` and ``time_ms`` (and ``victim_kind``: a decision keyed by
    the payer's account, when the bank sent no phone, is matched on the episode's
    ``victim_account``; without the column every key is a phone); ``episodes`` needs
    ``episode_id``, ``victim_phone``, ``typology``, ``start`` and ``end`` (ms).
    """
    indexed = decisions.with_row_index("_d")
    if "victim_kind" not in indexed.columns:
        indexed = indexed.with_columns(pl.lit("phone").alias("victim_kind"))
    keys = [episodes.select(pl.col("victim_phone").alias("_key"), pl.lit("phone").alias("_kind"), "episode_id")]
    if "victim_account" in episodes.columns:
        keys.append(
            episodes.select(pl.col("victim_account").alias("_key"), pl.lit("account").alias("_kind"), "episode_id")
        )
    keyed = pl.concat(keys).drop_nulls("_key").join(
        episodes.select("episode_id", pl.col("typology").alias("episode_typology"), "start", "end"), on="episode_id"
    )
    pairs = indexed.with_columns(pl.col("victim_kind").fill_null("phone")).join(
        keyed, left_on=["victim_key", "victim_kind"], right_on=["_key", "_kind"], how="inner",
    ).filter((pl.col("time_ms") >= pl.col("start") - 3_600_000) & (pl.col("time_ms") <= pl.col("end")))
    first = pairs.sort("start").unique("_d", keep="first").select("_d", "episode_id", "episode_typology")
    out = indexed.join(first, on="_d", how="left").sort("_d").drop("_d")
    return out if "victim_kind" in decisions.columns else out.drop("victim_kind")


@dataclass
class RunReport:
    """Headline figures and tables of one run."""

    figures: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {"figures": self.figures, "tables": {k: v.to_dicts() for k, v in self.tables.items()}}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def build_report(result: Any) -> RunReport:
    """The report of a :class:`fraud_brain.pipeline.batch.RunResult`."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from fraud_brain.actions.report import summarize

    history = result.history
    report = RunReport()
    fig = report.figures
    for kind, count in history.records.items():
        fig[f"{kind} records"] = f"{count:,}"

    transfers = history.scored.get("transfer")
    truth_transfers = history.truth.get("truth_transfers")
    if transfers is not None and truth_transfers is not None and transfers.height:
        victims = truth_transfers.filter(pl.col("is_scam"))
        if "kind" in victims.columns:
            victims = victims.filter(pl.col("kind").cast(pl.String) == "victim")
        y = transfers.select(pl.col("transfer_id").is_in(victims["transfer_id"].implode())).to_series().to_numpy()
        if 0 < y.sum() < len(y):
            scores = transfers["score"].to_numpy()
            fig["transfer score AP (victim transfers)"] = f"{average_precision_score(y, scores):.3f}"
            fig["transfer score ROC-AUC"] = f"{roc_auc_score(y, scores):.3f}"

    store = result.workflow.store
    actions = summarize(store)
    fig["rule hits"] = f"{result.hits.height:,}"
    fig["decisions (after cooldowns, active rules)"] = f"{result.decisions.height:,}"
    fig["shadow-rule hits (not acted on)"] = f"{result.hits.filter(pl.col('mode') == 'shadow').height:,}"
    fig["cases"] = f"{actions.cases:,}"
    fig["money held by stop-payments (yuan)"] = f"{actions.money_protected:,.0f}"
    if actions.contact_minutes_median is not None:
        fig["minutes from decision to victim reached (median)"] = f"{actions.contact_minutes_median:.1f}"

    labelled = history.labels.filter(pl.col("entity_type") == "transfer").unique("entity_id", keep="last")
    judged = result.decisions.filter(pl.col("transfer_id").is_not_null()).unique("transfer_id").join(
        labelled.select(pl.col("entity_id").alias("transfer_id"), "is_fraud"), on="transfer_id", how="inner"
    )
    if judged.height:
        fig["transfer decisions with a label"] = f"{judged.height:,}"
        fig["precision against labels (labelled transfer decisions)"] = _pct(judged["is_fraud"].mean())

    calls = history.scored.get("call")
    episodes = episode_table(history.truth, calls)
    decisions = result.decisions.with_columns(_ms("time").alias("time_ms"))
    if episodes is not None and episodes.height:
        matched = match_decisions(decisions, episodes)
        fig["scam episodes"] = f"{episodes.height:,}"
        caught = matched.drop_nulls("episode_id")
        first_alert = caught.group_by("episode_id").agg(pl.col("time_ms").min().alias("alert"))
        fig["episodes alerted"] = f"{first_alert.height:,} ({first_alert.height / episodes.height:.1%})"
        delays = first_alert.join(episodes, on="episode_id").select(
            ((pl.col("alert") - pl.col("start")) / 60_000).alias("minutes")
        )["minutes"]
        if delays.len():
            fig["minutes from first scam contact to alert (median)"] = f"{delays.median():.1f}"
        fig["decision precision (victim in a scam episode)"] = _pct(
            caught.height / matched.height if matched.height else None
        )
        cases = store.table("cases")
        if cases.height:
            case_victims = cases.select("victim_key").unique()
            true_cases = case_victims.join(
                episodes.select(pl.col("victim_phone").alias("victim_key")).unique(), on="victim_key", how="inner"
            )
            fig["case precision (victim in a scam episode)"] = _pct(true_cases.height / case_victims.height)
        if transfers is not None and truth_transfers is not None:
            scam_money = (
                truth_transfers.filter(pl.col("is_scam") & (pl.col("kind").cast(pl.String) == "victim"))
                .join(transfers.select("transfer_id", _ms("time").alias("t"), "amount"), on="transfer_id")
                .join(first_alert, on="episode_id", how="left")
            )
            total = scam_money["amount"].sum()
            flagged = scam_money.filter(pl.col("alert") <= pl.col("t"))["amount"].sum()
            fig["scam money (victim transfers, yuan)"] = f"{total:,.0f}"
            fig["scam money flagged at or before the transfer"] = _pct(flagged / total if total else None)
            legit = transfers.height - scam_money.height
            false_transfer_alerts = matched.filter(
                pl.col("episode_id").is_null() & pl.col("transfer_id").is_not_null()
            ).height if "transfer_id" in matched.columns else 0
            if legit:
                fig["false alarms per 10,000 legitimate transfers"] = f"{10_000 * false_transfer_alerts / legit:.1f}"
        by_typology = (
            matched.with_columns(pl.col("episode_typology").fill_null("(no scam: false alarm)"))
            .group_by("episode_typology")
            .agg(pl.len().alias("decisions"), pl.col("episode_id").drop_nulls().n_unique().alias("episodes"))
            .sort("decisions", descending=True)
        )
        coverage = (
            episodes.join(first_alert, on="episode_id", how="left")
            .group_by("typology")
            .agg(pl.len().alias("episodes"), pl.col("alert").is_not_null().sum().alias("alerted"))
            .sort("typology")
        )
        report.tables["Alerts by scam typology (ground truth)"] = by_typology
        report.tables["Episodes alerted by typology"] = coverage
    by_rule = (
        result.hits.group_by("rule", "mode")
        .agg(
            pl.len().alias("hits"),
            (pl.col("status") == "fired").sum().alias("decisions"),
            (pl.col("status") == "shadow").sum().alias("shadow_decisions"),
        )
        .sort("hits", descending=True)
    )
    report.tables["Hits by rule"] = by_rule
    report.tables["Cases by typology (as the rules named it)"] = actions.by_typology
    report.tables["Actions by kind and outcome"] = actions.actions
    report.tables["Cases by resolution"] = actions.by_resolution
    return report


def render(report: RunReport) -> list:
    """Rich tables of a run report."""
    from rich.table import Table

    from fraud_brain.actions.report import frame_table

    head = Table(title="fraud_brain run")
    head.add_column("figure")
    head.add_column("value", justify="right")
    for name, value in report.figures.items():
        head.add_row(name, value)
    out = [head]
    out.extend(frame_table(title, frame) for title, frame in report.tables.items())
    return out
