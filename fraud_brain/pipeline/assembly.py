"""The composition root: the one place the product is built from one configuration.

``fraud-brain run`` (a data folder in event time), ``fraud-brain serve`` (the live brain behind
the API), ``fraud-brain actions`` (the workflow over decisions) and the tests all describe what
they want with an :class:`~fraud_brain.pipeline.config.AppConfig` and get their parts here:
the feature spec, the champion models of every scored stream, the rules, the escalation policy,
the subscribers (features, victims' profiles, officers' districts), the adapters, the store and
the clock. Reloads of models, rules and policy go through it too, and a failing reload keeps the
version that runs.

It sits above actions, rules and scoring and below the api and cli, which only call it.

>>> from fraud_brain.pipeline.config import AppConfig
>>> assembly = Assembly(AppConfig())
>>> sorted(assembly.load_scorers())
['call', 'transfer']
>>> assembly.policy().stop_payment_max_per_account
2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from fraud_brain.errors import MissingInputError
from fraud_brain.pipeline.config import AppConfig

if TYPE_CHECKING:
    from fraud_brain.actions import Adapter, EscalationPolicy, Orchestrator, ReplayResult
    from fraud_brain.actions.clock import Clock
    from fraud_brain.durability import DurableState
    from fraud_brain.features import Spec
    from fraud_brain.pipeline.batch import RunResult, ScoredHistory
    from fraud_brain.pipeline.brain import Brain
    from fraud_brain.rules import RuleEngine, RuleSet
    from fraud_brain.scoring.scorer import Scorer
    from fraud_brain.store.base import Repository


class FunctionClock:
    """A clock reading time from a function (a service whose clock follows its feeds, a test's)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> datetime:
        """What the function says."""
        return self._now()

    def sleep(self, seconds: float) -> None:
        """Really wait (the function is not advanced)."""
        import time

        time.sleep(seconds)


class Assembly:
    """Builds every part of the product from one :class:`AppConfig` (clock, adapters and store injectable)."""

    def __init__(
        self,
        config: AppConfig,
        *,
        clock: Clock | Callable[[], datetime] | None = None,
        adapters: Mapping[str, Adapter] | None = None,
        store: Repository | None = None,
    ) -> None:
        from fraud_brain.actions.clock import Clock, SystemClock

        config.check()
        self.config = config
        self.clock: Clock
        if clock is None:
            self.clock = SystemClock()
        elif isinstance(clock, Clock):
            self.clock = clock
        else:
            self.clock = FunctionClock(clock)
        self._adapters = adapters
        self._store = store

    # ------------------------------------------------------------------ parts
    @cached_property
    def spec(self) -> Spec:
        """The feature spec; its scored streams are what the product scores."""
        from fraud_brain.features import resolve_spec

        return resolve_spec(self.config.spec)

    @property
    def models_dir(self) -> Path:
        """The model registry: the configured one, else the one bundled with the package."""
        if self.config.models_dir is not None:
            if not self.config.models_dir.is_dir():
                raise MissingInputError(f"model registry {self.config.models_dir} does not exist (--models-dir)")
            return self.config.models_dir
        from fraud_brain import bundled

        return bundled.models_dir()

    @cached_property
    def subscribers(self) -> pl.DataFrame | None:
        """Subscriber profiles from the configured file, validated; None without one."""
        from fraud_brain.io.files import load_kind

        path = self.config.subscribers
        if path is None:
            return None
        if not path.is_file():
            raise MissingInputError(f"subscriber file {path} does not exist (--subscribers)")
        return load_kind(path.parent, "subscriber", path.stem)

    @staticmethod
    def districts_of(subscribers: pl.DataFrame | None) -> dict[str, str]:
        """Victim phone → home district, so an officer alert reaches the right community officer."""
        from fraud_brain.actions import district_lookup

        return {} if subscribers is None else district_lookup(subscribers)

    def policy(self) -> EscalationPolicy:
        """The escalation policy: the configured file, else the defaults."""
        from fraud_brain.actions import EscalationPolicy, load_policy

        return load_policy(self.config.policy_path) if self.config.policy_path else EscalationPolicy()

    def reload_policy(self, orchestrator: Orchestrator) -> Exception | None:
        """Re-read the policy file into ``orchestrator`` (audited); a bad file keeps the running policy."""
        from fraud_brain.actions.policy import DEFAULT_POLICY_PATH

        return orchestrator.reload_policy(self.config.policy_path or DEFAULT_POLICY_PATH)

    def load_scorers(self) -> dict[str, Scorer]:
        """The champion scorer of every scored stream of the spec (model name and reason threshold from it)."""
        from fraud_brain.scoring.scorer import load_champion_scorer

        models = self.models_dir
        return {stream: load_champion_scorer(models, self.spec, self.spec.scoring(stream).model)
                for stream in self.spec.scored_streams()}

    @property
    def rules_path(self) -> Path:
        """The rule file: the configured one, else the one bundled for the spec (refused when none is)."""
        from fraud_brain.rules import bundled_rules_path

        return self.config.rules_path or bundled_rules_path(self.spec.name)

    def rule_set(self, schemas: Mapping[str, pl.Schema]) -> RuleSet:
        """The rule file, validated against the scored frames' real schemas (a batch run)."""
        from fraud_brain.rules import RuleSet, event_facts

        return RuleSet.load(self.rules_path, dict(schemas), event_facts(self.spec))

    def rule_engine(self, schemas: dict[str, pl.Schema]) -> RuleEngine:
        """The hot-reloadable rules with cooldowns kept in the state folder (the live brain)."""
        from fraud_brain.rules import RuleEngine, RuleManager, event_facts

        state = self.config.state_dir / "cooldowns.sqlite" if self.config.state_dir is not None else None
        return RuleEngine(RuleManager(self.rules_path, schemas, event_facts(self.spec)), state_path=state)

    def adapters(self) -> Mapping[str, Adapter]:
        """The action adapters: the injected ones, else the embedded simulators (seeded)."""
        from fraud_brain.actions import simulated_adapters

        return self._adapters if self._adapters is not None else simulated_adapters(self.config.seed)

    def store(self, path: Path | str | None = None, *, fresh: bool = False) -> Repository:
        """The case store: the injected one, else SQLite at ``path`` (default: the state folder's,
        in memory without one); ``fresh`` starts it empty (a batch run)."""
        from fraud_brain.store import SQLiteRepository

        if self._store is not None:
            return self._store
        if path is None and self.config.state_dir is not None:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            path = self.config.state_dir / "brain.sqlite"
        if path is None:
            return SQLiteRepository(":memory:")
        if fresh:
            Path(path).unlink(missing_ok=True)
        return SQLiteRepository(path)

    def orchestrator(self, store: Repository, districts: Mapping[str, str], clock: Clock | None = None) -> Orchestrator:
        """Decisions → cases and outbox actions, with the policy and the victims' districts."""
        from fraud_brain.actions import Orchestrator
        from fraud_brain.actions.labels import label_entities

        return Orchestrator(store, self.policy(), clock or self.clock, districts, label_entities(self.spec))

    # ------------------------------------------------------------------ products
    def brain(self) -> Brain:
        """The live brain over ``config.state_dir`` (continuing from its snapshot when there is one)."""
        from fraud_brain.durability import DurableState

        if self.config.state_dir is None:
            raise MissingInputError("the live brain needs a state folder (--state-dir)")
        state_dir = self.config.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        # First the lock (a second server stops here), then the newest good snapshot and the log.
        durable = DurableState(state_dir)
        try:
            return self._recovered_brain(durable)
        except BaseException:
            durable.close()
            raise

    def _recovered_brain(self, durable: DurableState) -> Brain:
        """The brain from the newest good snapshot of ``durable`` (or the plain files of an older
        state folder), with the log after it replayed."""
        from fraud_brain.actions import Dispatcher
        from fraud_brain.actions.cases import CaseService
        from fraud_brain.features import FeatureEngine
        from fraud_brain.io.deadletter import DeadLetterStore
        from fraud_brain.pipeline.brain import Brain
        from fraud_brain.schema.records import schema_for

        state_dir = durable.folder
        snapshot = durable.snapshot

        def part(name: str) -> Path | None:
            if snapshot is not None:
                return snapshot.path(name) if name in snapshot.parts() else None
            legacy = {"engine": state_dir / "engine", "online": state_dir / "online"}.get(name)
            return legacy if legacy is not None and legacy.exists() else None

        subscribers = self.subscribers
        reference = {"subscribers": subscribers if subscribers is not None else schema_for("subscriber").empty()}
        # The engine hands back whole records with their features: the rules read both.
        horizon = int(self.config.dedupe_horizon_hours * 3_600_000)
        engine_dir = part("engine")
        if engine_dir is not None and (engine_dir / "state.npz").exists():
            engine = FeatureEngine.restore(engine_dir, self.spec, reference, keep_records=True,
                                           dedupe_horizon_ms=horizon)
        else:
            engine = FeatureEngine(self.spec, reference, keep_records=True, dedupe_horizon_ms=horizon)
        store = self.store()
        orchestrator = self.orchestrator(store, self.districts_of(subscribers))
        dispatcher = Dispatcher(store, self.adapters(), orchestrator.clock, orchestrator.policy.outbox,
                                seed=self.config.seed)
        online = part("online")
        brain = Brain(
            self.config, spec=self.spec, parts=self, store=store, orchestrator=orchestrator,
            cases=CaseService(store, orchestrator), dispatcher=dispatcher, clock=self.clock,
            subscribers=subscribers, learners={}, engine=engine,
            dead_letters=DeadLetterStore(state_dir / "dead_letters"), state_dir=state_dir,
            durable=durable, online_dir=online if online is not None else state_dir / "online",
        )
        if snapshot is not None:
            brain.restore_extras(part, snapshot.meta.get("label_cursor"))
        brain.recover()
        return brain

    def score_history(self, data_dir: str | Path, progress: Callable[[int, int], None] | None = None) -> ScoredHistory:
        """Replay and score a data folder with the champion models (what the rules of a run see)."""
        from fraud_brain.pipeline.batch import score_history

        return score_history(data_dir, self, progress=progress)

    def run(self, data_dir: str | Path, progress: Callable[[str, int, int], None] | None = None) -> RunResult:
        """The main job: a data folder through features → models → rules → actions, in event time."""
        from fraud_brain.pipeline.batch import run_folder

        return run_folder(data_dir, self, progress=progress)

    def replay_decisions(
        self,
        decisions: pl.DataFrame,
        store: Repository,
        *,
        districts: Mapping[str, str] | None = None,
        step: timedelta = timedelta(minutes=1),
        drain: timedelta = timedelta(hours=6),
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplayResult:
        """Decisions through cases, escalations and the adapters on a simulated clock."""
        from fraud_brain.actions import replay
        from fraud_brain.actions.labels import label_entities

        return replay(
            decisions, store, policy=self.policy(), adapters=dict(self.adapters()), seed=self.config.seed,
            step=step, drain=drain, progress=progress, labels=label_entities(self.spec),
            districts=districts if districts is not None else self.districts_of(self.subscribers),
        )

