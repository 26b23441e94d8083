"""The legitimate world: rhythm, relationships, and hard negatives that look like scams."""

from __future__ import annotations

import polars as pl

from fraud_brain.sim import World

LOCAL = "Asia/Shanghai"


def legit_calls(world: World) -> pl.DataFrame:
    return world.calls.join(world.truth_calls, on="call_id").filter(~pl.col("is_scam"))


def legit_transfers(world: World) -> pl.DataFrame:
    return world.transfers.join(world.truth_transfers, on="transfer_id").filter(~pl.col("is_scam"))


def test_daily_and_weekly_rhythm(world: World) -> None:
    calls = legit_calls(world).with_columns(local=pl.col("start_time").dt.convert_time_zone(LOCAL))
    hours = calls["local"].dt.hour()
    assert ((hours >= 1) & (hours < 6)).mean() < 0.03
    work = calls.filter(pl.col("kind") == "colleague")
    weekday = work["local"].dt.weekday()
    assert (weekday <= 5).mean() > 0.9
    assert ((work["local"].dt.hour() >= 8) & (work["local"].dt.hour() < 19)).mean() > 0.9


def test_relationships_repeat_and_durations_differ_by_kind(world: World) -> None:
    calls = legit_calls(world)
    family = calls.filter(pl.col("kind").is_in(["family", "kin"]))
    repeats = family.group_by("caller", "callee").len()
    assert (repeats["len"] > 1).mean() > 0.2
    medians = calls.filter(pl.col("duration_s") > 0).group_by("kind").agg(pl.col("duration_s").median())
    by_kind = dict(medians.iter_rows())
    assert by_kind["courier"] < by_kind["family"] < by_kind["abroad"]


def test_hard_negative_long_calls_from_unknown_numbers(world: World) -> None:
    calls = legit_calls(world).filter(pl.col("duration_s") >= 20 * 60)
    unknown = calls.filter(pl.col("kind").is_in(["stranger", "business", "abroad", "ecommerce_service"]))
    assert unknown.height >= 20


def test_hard_negative_voip_and_international_legit_calls(world: World) -> None:
    calls = legit_calls(world)
    assert calls.filter(pl.col("caller_type") == "voip").height >= 50
    assert calls.filter(pl.col("caller_type") == "international").height >= 10


def test_hard_negative_elderly_large_and_new_payee_transfers(world: World) -> None:
    transfers = legit_transfers(world).join(
        world.subscribers.select(pl.col("phone").alias("payer_phone"), "age_band"), on="payer_phone"
    )
    elderly_large = transfers.filter(
        pl.col("age_band").is_in(["65-74", "75+"]) & (pl.col("amount") >= 10_000)
    )
    assert elderly_large.height >= 10
    first_time = transfers.with_columns(
        nth=pl.int_range(pl.len()).over("payer_account", "payee_account", order_by="time")
    ).filter((pl.col("nth") == 0) & (pl.col("amount") >= 5_000))
    assert first_time.height >= 20


def test_hard_negative_scam_calls_from_aged_sims_and_legit_new_sims(world: World) -> None:
    calls = world.calls.join(world.truth_calls, on="call_id")
    scam = calls.filter(pl.col("is_scam") & pl.col("sim_age_days").is_not_null())
    assert (scam["sim_age_days"] > 90).sum() >= 20
    legit = calls.filter(~pl.col("is_scam") & pl.col("sim_age_days").is_not_null())
    assert (legit["sim_age_days"] < 30).sum() >= 20


def test_no_single_transfer_feature_separates_victims(world: World) -> None:
    frame = world.transfers.join(world.truth_transfers, on="transfer_id").filter(
        pl.col("is_scam").not_() | (pl.col("kind") == "victim")
    )
    victims = frame.filter(pl.col("kind") == "victim")
    legit = frame.filter(pl.col("kind") != "victim")
    # Amount ranges overlap, and every channel is used by both.
    assert legit["amount"].max() > victims["amount"].median()
    assert victims["amount"].min() < legit["amount"].quantile(0.9)
    assert set(victims["channel"].unique().to_list()) <= set(legit["channel"].unique().to_list())
    assert set(victims["payee_bank"].unique().to_list()) <= set(legit["payee_bank"].unique().to_list())


def test_hard_negative_risky_call_then_an_ordinary_payment(world: World) -> None:
    """Failed scam attempts and VoIP/courier calls are followed by legitimate payments too."""
    calls = world.calls.join(world.truth_calls, on="call_id")
    transfers = legit_transfers(world).select("payer_phone", pl.col("time").alias("paid"), "kind")
    attempts = calls.filter(pl.col("kind") == "attempt")
    assert attempts.height > 0 and attempts["is_scam"].all() and attempts["episode_id"].is_null().all()
    assert (attempts["duration_s"] >= 10 * 60).sum() >= 20
    for kinds, minimum in ((["attempt"], 10), (["delivery", "courier"], 20)):
        risky = calls.filter(pl.col("kind").is_in(kinds)).select(
            pl.col("callee").alias("payer_phone"), "start_time"
        )
        followed = risky.join(transfers, on="payer_phone").filter(
            (pl.col("paid") > pl.col("start_time"))
            & (pl.col("paid") - pl.col("start_time") < pl.duration(hours=4))
        )
        assert followed.height >= minimum, kinds


def test_payees_of_legit_payments_also_send_money(world: World) -> None:
    transfers = legit_transfers(world)
    payees = transfers.filter(pl.col("kind") == "shopping")["payee_account"].unique()
    senders = transfers["payer_account"].unique()
    assert payees.is_in(senders.implode()).mean() > 0.2
    assert {"settlement", "payout"} <= set(transfers["kind"].unique().to_list())
