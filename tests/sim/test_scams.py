"""Each scam typology appears with its characteristic call-then-transfer sequence."""

from __future__ import annotations

import polars as pl
import pytest

from fraud_brain.sim import SCAM_TYPOLOGIES, World
from tests.sim.conftest import episode_calls, victim_transfers

MINUTE = pl.duration(minutes=1)


def first_payments(world: World, typology: str) -> pl.DataFrame:
    """Each episode's first victim payment, joined to its calls (ring → victim)."""
    pays = (
        victim_transfers(world, typology)
        .group_by("episode_id")
        .agg(pl.col("time").min().alias("first_pay"), pl.col("payer_phone").first(), pl.len().alias("n_pay"))
    )
    calls = episode_calls(world, typology).select(
        "episode_id", "start_time", "duration_s", "callee", "caller"
    )
    return pays.join(calls, on="episode_id", how="left")


@pytest.mark.parametrize("typology", SCAM_TYPOLOGIES)
def test_sample_has_enough_episodes_of_every_typology(world: World, typology: str) -> None:
    episodes = world.truth_episodes.filter(pl.col("typology") == typology)
    assert episodes.height >= 15
    paid = victim_transfers(world, typology)["episode_id"].n_unique()
    assert paid >= 15


@pytest.mark.parametrize("typology", SCAM_TYPOLOGIES)
def test_victims_pay_from_the_phone_the_ring_called(world: World, typology: str) -> None:
    joined = first_payments(world, typology)
    assert (joined.drop_nulls("callee")["callee"] == joined.drop_nulls("callee")["payer_phone"]).all()
    # The cross-channel join: most first payments follow a ring call to the payer's phone.
    called_before = joined.filter(pl.col("start_time") <= pl.col("first_pay"))["episode_id"].n_unique()
    # Investment grooming lasts up to weeks, so many episodes began before the window opened.
    share = 0.5 if typology == "fake_investment" else 0.8
    assert called_before / joined["episode_id"].n_unique() > share


def began_in_window(world: World) -> pl.Series:
    """Episodes that started inside the window (others began the day before it opened)."""
    start = pl.lit(world.config.start_ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    return world.truth_episodes.filter(pl.col("anchor_time") >= start)["episode_id"]


def test_police_long_call_before_payments_to_a_ring_mule(world: World) -> None:
    joined = first_payments(world, "impersonating_police").filter(
        pl.col("episode_id").is_in(began_in_window(world).implode())
    )
    assert joined["episode_id"].n_unique() >= 10
    long_before = joined.filter(
        (pl.col("duration_s") >= 20 * 60) & (pl.col("start_time") <= pl.col("first_pay"))
    )
    assert long_before["episode_id"].n_unique() == joined["episode_id"].n_unique()
    pays = victim_transfers(world, "impersonating_police")
    mules = world.truth_entities.filter((pl.col("entity_type") == "account") & (pl.col("role") == "mule"))
    assert pays["payee_account"].is_in(mules["entity_id"].implode()).all()
    assert pays.group_by("episode_id").len()["len"].max() >= 4
    victims = world.truth_episodes.filter(pl.col("typology") == "impersonating_police")
    assert victims["victim_age_band"].is_in(["55-64", "65-74", "75+"]).mean() > 0.6


def test_customer_service_transfers_during_or_minutes_after_the_call(world: World) -> None:
    joined = first_payments(world, "fake_customer_service").filter(pl.col("duration_s") > 0)
    gap = joined.with_columns(
        after_end=(pl.col("first_pay") - pl.col("start_time") - pl.duration(seconds=pl.col("duration_s"))),
        after_start=pl.col("first_pay") - pl.col("start_time"),
    ).filter(pl.col("after_start") >= pl.duration(seconds=0))
    per_episode = gap.group_by("episode_id").agg(pl.col("after_end").min())
    assert (per_episode["after_end"].dt.total_minutes() <= 60).all()
    victims = world.truth_episodes.filter(pl.col("typology") == "fake_customer_service")
    assert victims["victim_age_band"].is_in(["45-54", "55-64", "65-74"]).mean() > 0.7


def test_order_brushing_rebate_then_escalating_top_ups(world: World) -> None:
    pays = victim_transfers(world, "order_brushing")
    steps = pays.group_by("episode_id").agg(pl.col("amount"), pl.col("time").min().alias("first_top_up"))
    multi = steps.filter(pl.col("amount").list.len() >= 2)
    assert multi.height >= 10
    for amounts in multi["amount"].to_list():
        assert amounts == sorted(amounts)
        assert amounts[-1] > amounts[0]
    rebates = (
        world.transfers.join(world.truth_transfers, on="transfer_id")
        .filter((pl.col("kind") == "rebate") & (pl.col("typology") == "order_brushing"))
        .group_by("episode_id")
        .agg(pl.col("time").min().alias("rebate"), pl.col("amount").max().alias("rebate_amount"))
    )
    both = steps.join(rebates, on="episode_id")
    assert both.height >= 10
    assert (both["rebate"] < both["first_top_up"]).all()
    assert (both["rebate_amount"] < 100).all()
    victims = world.truth_episodes.filter(pl.col("typology") == "order_brushing")
    assert victims["victim_age_band"].is_in(["<18", "18-24", "25-34"]).mean() > 0.8


def test_fake_investment_grooming_then_one_large_deposit(small_world: World) -> None:
    # Grooming lasts days to weeks, so this needs the longer world to see whole episodes.
    world = small_world
    pays = victim_transfers(world, "fake_investment")
    last = pays.group_by("episode_id").agg(
        pl.col("time").max().alias("deposit"),
        pl.col("amount").last().alias("big"),
        pl.col("amount").max().alias("largest"),
    )
    assert (last["big"] == last["largest"]).all()
    assert (last["big"] >= 10_000).all()
    calls = episode_calls(world, "fake_investment").join(last, on="episode_id")
    groomed = (
        calls.filter(pl.col("start_time") < pl.col("deposit"))
        .group_by("episode_id")
        .agg(pl.len().alias("calls"), (pl.col("deposit").first() - pl.col("start_time").min()).alias("span"))
    )
    many = groomed.filter(pl.col("calls") >= 3)
    assert many.height >= 5
    assert (many["span"].dt.total_hours() >= 24).mean() > 0.5


def test_fake_loan_fees_after_calls(world: World) -> None:
    pays = victim_transfers(world, "fake_loan")
    per = pays.group_by("episode_id").agg(pl.col("amount"))
    assert (
        per["amount"].list.eval(pl.element().diff().drop_nulls().min() >= 0).list.first().fill_null(True)
    ).all()
    joined = first_payments(world, "fake_loan").filter(
        pl.col("episode_id").is_in(began_in_window(world).implode())
    )
    called_first = joined.group_by("episode_id").agg((pl.col("start_time") < pl.col("first_pay")).any())
    assert called_first.height >= 10
    assert called_first["start_time"].all()


def test_wangiri_one_ring_international_bursts_and_call_backs(world: World) -> None:
    calls = world.calls.join(world.truth_calls, on="call_id")
    rings = calls.filter(pl.col("kind") == "wangiri")
    assert rings.height > 0
    assert (rings["caller_type"] == "international").all()
    assert (rings["duration_s"] == 0).all()
    assert (rings["disposition"] != "answered").all()
    per_number = rings.group_by("caller").agg(pl.col("callee").n_unique())
    assert (per_number["callee"] >= 20).all()
    backs = calls.filter(pl.col("kind") == "wangiri_callback")
    assert backs.height > 0
    assert backs["callee"].is_in(rings["caller"].implode()).all()
    earliest_ring = rings.group_by(pl.col("callee").alias("caller"), pl.col("caller").alias("callee")).agg(
        pl.col("start_time").min().alias("rang")
    )
    joined = backs.join(earliest_ring, on=["caller", "callee"])
    assert joined.height == backs.height
    assert (joined["rang"] < joined["start_time"]).all()


def test_simbox_many_sims_on_one_device(world: World) -> None:
    simbox = world.truth_entities.filter(pl.col("role") == "simbox")["entity_id"]
    calls = world.calls.filter(pl.col("device_id").is_not_null())
    per_device = calls.group_by("device_id").agg(
        pl.col("caller").n_unique().alias("sims"),
        pl.col("caller").is_in(simbox.implode()).all().alias("is_box"),
        pl.col("cell_id").n_unique().alias("cells"),
    )
    boxes = per_device.filter(pl.col("is_box"))
    assert boxes.height >= 1
    assert (boxes["sims"] >= 20).all()
    assert (boxes["cells"] == 1).all()
    assert per_device.filter(~pl.col("is_box"))["sims"].max() < boxes["sims"].min()


def test_mules_fan_in_and_forward_fast(world: World) -> None:
    frame = world.transfers.join(world.truth_transfers, on="transfer_id")
    inbound = frame.filter(pl.col("kind") == "victim")
    fan_in = inbound.group_by("payee_account").agg(pl.col("payer_account").n_unique().alias("payers"))
    assert fan_in["payers"].max() >= 5
    assert (fan_in["payers"] >= 3).sum() >= 5
    onward = frame.filter(pl.col("kind") == "mule_onward")
    assert onward["payer_account"].is_in(inbound["payee_account"].implode()).all()
    # Each victim payment is forwarded by its mule within hours (mule → mule → out).
    pairs = (
        inbound.select(
            "episode_id", "payee_account", pl.col("time").alias("t_in"), pl.col("amount").alias("a_in")
        )
        .join(
            onward.select(
                "episode_id",
                pl.col("payer_account").alias("payee_account"),
                pl.col("time").alias("t_out"),
                pl.col("amount").alias("a_out"),
            ),
            on=["episode_id", "payee_account"],
        )
        .filter((pl.col("t_out") > pl.col("t_in")) & (pl.col("a_out") <= pl.col("a_in")))
    )
    forwarded = pairs.filter((pl.col("t_out") - pl.col("t_in")).dt.total_hours() <= 12)
    assert forwarded.select(pl.struct("episode_id", "t_in").n_unique()).item() / inbound.height > 0.8
    cash_out = frame.filter(pl.col("kind") == "cash_out")
    assert cash_out["payer_account"].is_in(onward["payee_account"].implode()).all()


def test_rings_rotate_numbers_and_use_new_sims(world: World) -> None:
    calls = world.calls.join(world.truth_calls, on="call_id").filter(
        pl.col("kind").is_in(["cold_call", "episode"])
    )
    per_ring = calls.group_by("ring_id").agg(pl.col("caller").n_unique().alias("numbers"))
    assert per_ring["numbers"].min() >= 3
    sim_age = calls["sim_age_days"].drop_nulls()
    assert (sim_age <= 7).mean() > 0.1
    assert calls["caller_type"].is_in(["voip", "international"]).any()


def test_tactics_drift_after_the_drift_day(small_world: World) -> None:
    config = small_world.config
    cut = config.start_ms + config.drift_start_day * 86_400_000
    boxes = small_world.truth_entities.filter(pl.col("role") == "simbox")["entity_id"]
    # The rings' own numbers (SIM-box SIMs are a separate tactic).
    calls = (
        small_world.calls.join(small_world.truth_calls, on="call_id")
        .filter(pl.col("kind").is_in(["cold_call", "episode"]) & ~pl.col("caller").is_in(boxes.implode()))
        .with_columns(after=pl.col("start_time").dt.epoch("ms") >= cut)
    )
    by_regime = (
        calls.group_by("after")
        .agg(
            pl.col("caller_type").is_in(["voip", "international"]).mean().alias("overseas"),
            (pl.col("sim_age_days") >= 90).mean().alias("aged"),
        )
        .sort("after")
    )
    before, after = by_regime.row(0, named=True), by_regime.row(1, named=True)
    assert after["overseas"] < before["overseas"] - 0.1
    assert after["aged"] > before["aged"] + 0.1
    pays = small_world.transfers.join(small_world.truth_transfers, on="transfer_id").filter(
        pl.col("kind") == "victim"
    )
    digital = (
        pays.with_columns(
            after=pl.col("time").dt.epoch("ms") >= cut,
            digital=pl.col("payee_bank").is_in(["WEBANK", "MYBANK", "XWBANK"]),
        )
        .group_by("after")
        .agg(pl.col("digital").mean())
        .sort("after")
    )
    channel = (
        pays.filter(pl.col("typology").is_in(["fake_customer_service", "impersonating_police"]))
        .with_columns(after=pl.col("time").dt.epoch("ms") >= cut)
        .group_by("after")
        .agg((pl.col("channel") == "third_party_pay").mean().alias("third_party"))
        .sort("after")
    )
    assert channel["third_party"][1] > channel["third_party"][0] + 0.1
    # Before the drift only the odd recruited local mule banks digitally.
    assert digital["digital"][0] < 0.05
    assert digital["digital"][1] > 0.3


def _victim_payments(world: World) -> pl.DataFrame:
    """Victims' payments with their episode's start and whether any ring call reached the victim."""
    called = (
        world.calls.join(world.truth_calls, on="call_id")
        .filter(pl.col("kind") == "episode")
        .select("episode_id")
        .unique()
        .with_columns(called=pl.lit(True))
    )
    return (
        world.transfers.join(world.truth_transfers, on="transfer_id")
        .filter(pl.col("kind") == "victim")
        .join(world.truth_episodes.select("episode_id", "anchor_time"), on="episode_id")
        .join(called, on="episode_id", how="left")
        .with_columns(
            pl.col("called").fill_null(False),
            after=pl.col("anchor_time").dt.epoch("ms") >= world.config.drift_start_ms,
            local_hour=pl.col("time").dt.convert_time_zone("Asia/Shanghai").dt.hour(),
        )
    )


def test_after_a_strong_drift_most_episodes_run_over_apps(app_world: World) -> None:
    pays = _victim_payments(app_world)
    before = pays.filter(~pl.col("after")).unique("episode_id")
    after = pays.filter(pl.col("after")).unique("episode_id")
    # Episodes wholly inside the window: before the drift (nearly) every one has a ring call.
    assert before.filter(pl.col("anchor_time").dt.epoch("ms") >= app_world.config.start_ms)["called"].mean() > 0.95
    share_over_apps = 1 - after["called"].mean()
    assert 0.7 < share_over_apps < 0.97  # drift_strength 0.85


def test_app_run_payments_are_late_at_night_by_third_party_pay_to_shared_accounts(app_world: World) -> None:
    pays = _victim_payments(app_world)
    apps = pays.filter(pl.col("after") & ~pl.col("called"))
    phone = pays.filter(pl.col("called"))
    assert apps.height > 50
    assert apps["local_hour"].is_in([23, 0, 1, 2, 3, 4]).all()
    assert (apps["channel"] == "third_party_pay").all()
    # The running-points accounts belong to no ring: the truth lists them as mules of no typology.
    points = app_world.truth_entities.filter((pl.col("role") == "mule") & pl.col("ring_id").is_null())
    assert apps["payee_account"].is_in(points["entity_id"].implode()).all()
    assert not phone["payee_account"].is_in(points["entity_id"].implode()).any()
    # Shared by every ring, each is paid by many more victims than a ring's own mule.
    def fan_in(frame: pl.DataFrame) -> pl.Series:
        return frame.group_by("payee_account").agg(pl.col("payer_account").n_unique())["payer_account"]

    assert fan_in(apps).mean() > 2 * fan_in(phone).mean()
    # Those accounts are ordinary residents' accounts: they also receive legitimate money.
    legit = app_world.transfers.join(app_world.truth_transfers, on="transfer_id").filter(~pl.col("is_scam"))
    assert legit["payee_account"].is_in(points["entity_id"].implode()).any()


def test_drift_strength_zero_keeps_every_episode_on_the_phone(small_world: World) -> None:
    pays = _victim_payments(small_world)
    inside = pays.filter(pl.col("anchor_time").dt.epoch("ms") >= small_world.config.start_ms)
    assert inside["called"].mean() > 0.95
    assert small_world.truth_entities.filter(pl.col("ring_id").is_null()).is_empty()
