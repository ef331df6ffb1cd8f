import pytest

from rlcheck.errors import UserError
from rlcheck.experiment.spec import load_spec

ISSUE_EXAMPLE = """
seeds = 16
budget = 100_000          # env steps per seed
[eval]
checkpoints = 20
episodes = 8
[[env]]
id = "gymnax:CartPole-v1"
[[algo]]
name = "ppo"
[algo.config]
learning_rate = 2.5e-4
[[algo]]
name = "random"
"""


def _load(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def test_the_issue_example_parses(tmp_path):
    spec = _load(tmp_path, ISSUE_EXAMPLE)
    assert spec.seed_list == list(range(16))
    assert spec.budget == 100_000
    assert spec.eval.checkpoints == 20 and spec.eval.final_episodes == 32
    assert [a.name for a in spec.algo] == ["ppo", "random"]
    assert spec.algo[0].config == {"learning_rate": 2.5e-4}
    assert spec.executor is None  # the command's --executor, else local
    assert _load(tmp_path, 'executor = "ray"\n' + ISSUE_EXAMPLE).executor == "ray"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ISSUE_EXAMPLE.replace("budget = 100_000", "budgett = 1"),
            r"spec.toml: budgett: unknown field",
        ),
        (
            ISSUE_EXAMPLE.replace("100_000", '"many"'),
            r"spec.toml: budget: Input should be a valid int",
        ),
        (
            ISSUE_EXAMPLE.replace("100_000", "-5"),
            r"spec.toml: budget: Input should be greater than",
        ),
        (ISSUE_EXAMPLE.replace("episodes = 8", "episodes = 8.5"), r"spec.toml: eval.episodes: "),
        (
            ISSUE_EXAMPLE.replace('id = "gymnax', 'idd = "gymnax'),
            r"spec.toml: env\[0\].id: required",
        ),
        (ISSUE_EXAMPLE.replace("seeds = 16", "seeds = [1, 1]"), r"spec.toml: seeds: seeds repeat"),
        (
            ISSUE_EXAMPLE + "\n[[algo]]\nname = 3\n",
            r"spec.toml: algo\[2\].name: Input should be a "
            r"valid string",
        ),
        ("seeds = 16\nbudget = [", r"spec.toml: invalid TOML"),
        ('executor = "spark"\n' + ISSUE_EXAMPLE, r"spec.toml: executor: Input should be 'local'"),
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_field(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as error:
        _load(tmp_path, text)
    assert "\n" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"nope\.toml: no such file"):
        load_spec(tmp_path / "nope.toml")
