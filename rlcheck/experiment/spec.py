"""The experiment spec (TOML or CLI flags), validated strictly: unknown fields are errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rlcheck.errors import UserError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EvalSpec(_Strict):
    """How policies are evaluated (see :class:`rlcheck.drivers.common.EvalPlan`).

    ``keep_checkpoint_policies``: store the policy evaluated at every checkpoint, not only the
    final one (``rlcheck.load_policy(…, checkpoint=c)`` reads them).
    """

    checkpoints: int = Field(20, ge=1, le=1000)
    episodes: int = Field(8, ge=1)
    final_episodes: int = Field(32, ge=1)
    deterministic: bool = True
    keep_checkpoint_policies: bool = False


class EnvEntry(_Strict):
    """One env of the spec.

    Attributes:
        kwargs: passed to the env's constructor.
        params: env parameters (fields of a gymnax-style env's ``EnvParams``) replaced for
            training and evaluation, derived fields recomputed (``rlcheck.envs.replace_params``).
        reward_scale: the learner sees reward × this; every stored return stays in the env's
            own units.
        randomize: domain randomization, {field of the env's params: [low, high]}, drawn
            uniformly at every episode start during training (rlcheck/envs/randomize.py).
    """

    id: str = Field(min_length=1)
    label: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    solve_threshold: float | None = None
    params: dict[str, float] = Field(default_factory=dict)
    reward_scale: float = Field(1.0, gt=0)
    randomize: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or self.id


class AlgoEntry(_Strict):
    name: str = Field(min_length=1)
    label: str | None = None
    preset: str | None = None  # a published hyperparameter set, e.g. "rl-zoo"
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name


class SweepSpec(_Strict):
    """A hyperparameter sweep (``rlcheck sweep``): what varies, how configurations are chosen,
    and the fresh seeds the best one is evaluated on (see ``rlcheck.experiment.sweep``).

    Attributes:
        vary: {name: values}: a Config field, ``env.<parameter>`` or ``env.reward_scale``; the
            values as text (``A:B:N``, ``A:B:N:log``, ``a,b,c``) or a TOML list.
        method: grid (every combination), random (``trials`` draws) or tpe (Optuna's TPE,
            ``trials`` configurations proposed ``batch`` at a time).
        algos: the labels of the algo entries to sweep; default: every RL algorithm entry.
        fresh_seeds: seeds the chosen and the default configuration are run on after tuning,
            disjoint from the tuning seeds; 0: none.
        sampler_seed: the seed of random search's and TPE's draws.
    """

    vary: dict[str, Any] = Field(min_length=1)
    method: Literal["grid", "random", "tpe"] = "grid"
    trials: int | None = Field(None, ge=1)
    batch: int = Field(16, ge=1)
    algos: list[str] | None = None
    fresh_seeds: int = Field(16, ge=0)
    sampler_seed: int = 0


class AblateSpec(_Strict):
    """An implementation-detail ablation (``rlcheck ablate``): which Config toggles are switched
    off, in which cells, and the learning rates tried per cell (``rlcheck.experiment.ablate``).

    Attributes:
        fields: the toggles (booleans; weight_init, activation, max_grad_norm with the off
            values ``rlcheck.experiment.ablate.CHOICES`` gives); default: Engstrom et al.'s
            code-level optimizations the algorithm has.
        design: one-at-a-time (every field on, then each one off alone) or factorial (all 2^k
            cells).
        lr_grid: learning rates tried in every cell (``A:B:N:log``, ``a,b,c`` or a list): each
            cell's best on the spec's seeds is reported on ``fresh_seeds``; none: every cell
            runs the entry's learning rate on the spec's seeds.
        fresh_seeds: seeds the cells are reported on after an lr grid picked their learning
            rates, disjoint from the tuning seeds.
        batch: configurations (cell × learning rate) per vmapped program at most.
        algos: the labels of the algo entries to ablate; default: every RL algorithm entry.
    """

    fields: list[str] | None = Field(None, min_length=1)
    design: Literal["one-at-a-time", "factorial"] = "one-at-a-time"
    lr_grid: str | float | list[float] | None = None
    fresh_seeds: int = Field(8, ge=0)
    batch: int = Field(16, ge=1)
    algos: list[str] | None = None

    @field_validator("lr_grid", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not isinstance(value, str | None) and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in items
        ):
            raise ValueError(
                'must be text ("1e-4:1e-2:4:log", "a,b,c"), a number or a list of numbers'
            )
        return value


class LoggingSpec(_Strict):
    """What a run writes besides the results store."""

    # Each seed's curves and internals as TensorBoard scalars in DIR/tensorboard, one run per
    # seed (needs the extra rlcheck[tensorboard]).
    tensorboard: bool = False


class RobustnessSpec(_Strict):
    """Stored policies evaluated under perturbations after training (``rlcheck robustness``;
    rlcheck/experiment/robustness.py says how).

    Attributes:
        vary: one quantity and its values, ``{length = "0.05:2.0:32"}``: an env parameter, or
            obs_noise, action_noise or action_delay (values as rlcheck.experiment.ranges reads
            them: "A:B:N", "A:B:N:log", "a,b,c", a number or a list of numbers).
        episodes: episodes per seed and value.
        obs_noise, action_noise, action_delay: perturbations held fixed at every value.
        seed: draw the episodes from this seed (default: replay each seed's final evaluation).
    """

    vary: dict[str, str | float | list[float]]
    episodes: int = Field(32, ge=1)
    obs_noise: float = Field(0.0, ge=0)
    action_noise: float = Field(0.0, ge=0)
    action_delay: int = Field(0, ge=0)
    seed: int | None = Field(None, ge=0)

    @field_validator("vary")
    @classmethod
    def _one_quantity(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) != 1:
            raise ValueError(
                f"vary one quantity per request (got {len(value)}), e.g. "
                'vary = { length = "0.05:2.0:32" }'
            )
        return value


class Spec(_Strict):
    """A whole experiment: every algo on every env, each with the same seeds and budget.

    Attributes:
        seeds: how many seeds (0 … n−1) or an explicit list of seeds.
        budget: env steps per seed.
        workers: processes a unit's seeds are split across (default: one per CPU core, or
            one when JAX has a GPU); with the Ray executor, the shards (tasks) of each unit.
        executor: where units train: local (worker processes here) or ray (Ray tasks;
            ``rlcheck run --executor``/``--address`` override it).
        sweep: a hyperparameter sweep, run by ``rlcheck sweep`` (``rlcheck run`` refuses it).
        ablate: an implementation-detail ablation, run by ``rlcheck ablate``.
        import_: (``import`` in TOML) packages to import before making the envs, for those
            that register Gymnasium ids when imported (``minigrid``, ``ale_py``).
        logging: extra outputs (TensorBoard).
        robustness: evaluate the trained policies under perturbations after training.
    """

    seeds: int | list[int] = 16
    budget: int = Field(100_000, ge=1)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    env: list[EnvEntry] = Field(min_length=1)
    algo: list[AlgoEntry] = Field(min_length=1)
    workers: int | None = Field(None, ge=1)
    executor: Literal["local", "ray"] | None = None
    sweep: SweepSpec | None = None
    ablate: AblateSpec | None = None
    import_: list[str] = Field(default_factory=list, alias="import")
    logging: LoggingSpec = Field(default_factory=LoggingSpec)
    robustness: RobustnessSpec | None = None

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> int | list[int]:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if not is_int and not (
            isinstance(value, list)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise ValueError("must be a number of seeds or a list of integer seeds")
        if is_int:
            if value < 1:
                raise ValueError("must be at least 1")
        else:
            if not value:
                raise ValueError("the list of seeds is empty")
            if len(set(value)) != len(value):
                raise ValueError("seeds repeat")
            if min(value) < 0:
                raise ValueError("seeds must be ≥ 0")
        return value

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def _location(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        elif not item.isidentifier():
            continue  # pydantic's names for union members, e.g. 'list[int]'
        else:
            parts.append(item)
    return ".".join(parts) or "spec"


def validation_message(error: ValidationError, source: str) -> str:
    """The first problem of a pydantic error as one line: ``source: field.path: problem``."""
    first = error.errors()[0]
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "required field is missing"
    message = message.removeprefix("Value error, ")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: {_location(first['loc'])}: {message}{suffix}"


def parse_spec(data: dict[str, Any], source: str) -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        raise UserError(validation_message(e, source)) from None


def load_spec(path: str | Path) -> Spec:
    """Read and validate a TOML spec file; every problem becomes a one-line :class:`UserError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: invalid TOML: {e}") from None
    return parse_spec(data, str(path))
