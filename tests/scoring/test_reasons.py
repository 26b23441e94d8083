"""Reason codes: LightGBM contributions, templates in English and Chinese, fallbacks."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from fraud_brain.scoring.reasons import ReasonTemplates, contributions, top_reasons

NAMES = ["amount", "payee_fan_in_24h", "last_call_duration_s", "minutes_since_last_call", "caller_age_days", "zz_new"]


@pytest.fixture(scope="module")
def model() -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, len(NAMES))) * [1000, 2, 600, 30, 50, 1] + [2000, 2, 900, 60, 100, 0]
    y = ((X[:, 1] > 3) | (X[:, 2] > 1500)).astype(float)
    return lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 30), X


def test_contributions_sum_to_raw_score(model):
    booster, X = model
    contrib = contributions(booster, X[:100])
    assert contrib.shape == (100, len(NAMES) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), booster.predict(X[:100], raw_score=True), atol=1e-9)


def test_reasons_are_the_largest_positive_contributions_in_order(model):
    booster, X = model
    contrib = contributions(booster, X[:200])
    reasons = top_reasons(contrib, X[:200], NAMES, ReasonTemplates.load(), k=2)
    for row, row_reasons in enumerate(reasons):
        positive = sorted((-c, j) for j, c in enumerate(contrib[row, :-1]) if c > 1e-9)[:2]
        assert [r.feature for r in row_reasons] == [NAMES[j] for _, j in positive]
        assert all(r.contribution > 1e-9 for r in row_reasons)
        assert [r.value for r in row_reasons] == [X[row, j] for _, j in positive]


def test_sentences_in_both_languages_with_values_formatted():
    templates = ReasonTemplates.load()
    values = {"payee_fan_in_24h": 9.0, "amount": 12500.0}
    assert templates.sentence("payee_fan_in_24h", values, "en") == (
        "payee account received money from 9 different payers in 24 hours"
    )
    assert templates.sentence("payee_fan_in_24h", values, "zh") == "收款账户24小时内收到9个不同付款人的转账"
    assert templates.sentence("amount", values, "en") == "transfer of 12,500 yuan"
    assert templates.sentence("amount", values, "zh") == "转账金额12,500元"


def test_composite_sentence_falls_back_when_an_input_is_missing():
    templates = ReasonTemplates.load()
    only_duration = {"last_call_duration_s": 1800.0}
    assert templates.sentence("last_call_duration_s", only_duration, "en") == (
        "length of the last call to the payer: 1800 (raises the risk)"
    )
    assert templates.sentence("last_call_duration_s", only_duration, "zh") == "付款人最近一次通话时长为1800（提高风险）"


def test_unknown_feature_gets_the_generic_sentence():
    templates = ReasonTemplates.load()
    assert templates.sentence("zz_new", {"zz_new": 0.25}, "en") == "zz new: 0.25 (raises the risk)"
    assert templates.sentence("zz_new", {"zz_new": 0.25}, "zh") == "zz new为0.25（提高风险）"


def test_every_bundled_template_renders_in_both_languages():
    import string

    templates = ReasonTemplates.load()
    values = {name: 3.0 for name in templates.features}
    for template in templates.features.values():
        for text in (template.en or "", template.zh or ""):
            fields = [field for _, field, _, _ in string.Formatter().parse(text) if field and field != "value"]
            values.update(dict.fromkeys(fields, 3.0))
    for name, template in templates.features.items():
        for language in ("en", "zh"):
            text = templates.sentence(name, values, language)
            assert text and "{" not in text, (name, language, text)
            if template.en is not None and language == "en":
                assert "raises the risk" not in text, (name, text)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[generic]\nen = "x"\n', "must define en and zh"),
        ('[generic]\nen = "x"\nzh = "y"\n[features.a]\nen = "{value.__class__}"\n', r"\[features.a\].en: placeholder"),
        ('[generic]\nen = "x"\nzh = "y"\n[features.a]\ncolour = "red"\n', r"\[features.a\]: unknown key"),
        ('[generic]\nen = "x"\nzh = "y"\n[features.a]\nen = "{value"\n', r"\[features.a\].en: bad template"),
    ],
)
def test_bad_template_files_are_rejected_with_file_and_key(tmp_path, toml, message):
    path = tmp_path / "reasons.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=message) as caught:
        ReasonTemplates.load(path)
    assert str(path) in str(caught.value)


def test_a_value_below_the_template_minimum_uses_the_generic_sentence():
    templates = ReasonTemplates.load()
    assert templates.sentence("new_payee", {"new_payee": 1.0}, "en") == "first transfer from this payer to this payee"
    assert templates.sentence("new_payee", {"new_payee": 0.0}, "en") == "new payee: 0 (raises the risk)"


def test_templates_cover_the_bundled_transfer_and_call_features():
    from fraud_brain.features import bundled_spec

    templates = ReasonTemplates.load()
    spec = bundled_spec("telecom")
    for stream in ("transfer", "call"):
        names = set(spec.feature_groups(stream))
        covered = names & set(templates.features)
        assert len(covered) >= 0.6 * len(names), sorted(names - covered)


def test_a_missing_value_reads_as_no_record():
    templates = ReasonTemplates.load()
    values = {"caller_max_minutes_hl24h": float("nan")}
    assert templates.sentence("caller_max_minutes_hl24h", values, "en") == (
        "longest call in 24 h (minutes): no record yet"
    )
    assert templates.sentence("caller_max_minutes_hl24h", values, "zh") == "24小时内最长通话（分钟）：暂无记录"
