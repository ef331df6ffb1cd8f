from types import SimpleNamespace

from rlcheck.report.terminal import RichProgress


def _unit(key: str) -> SimpleNamespace:
    algo = SimpleNamespace(name="ppo", display=f"ppo-{key}")
    return SimpleNamespace(
        key=key, algo=algo, env=SimpleNamespace(name="CartPole-v1"), seeds=(0, 1)
    )


def test_units_running_side_by_side_each_have_their_bar(capsys):
    # The Ray executor runs several units at once: a unit and a group of two here.
    a, b, c = _unit("a"), _unit("b"), _unit("c")
    done = SimpleNamespace(status="done", wall_s=1.0, reason=None)
    with RichProgress(3) as progress:
        progress.start_unit(a, 4)
        progress.start_group((b, c), 8)
        progress.advance("a", 2)
        progress.advance("b", 8)  # a group's progress comes under its first unit's key

        def bars() -> dict[str, float]:
            return {t.description.strip(): t.completed for t in progress._progress.tasks}

        assert bars() == {
            "units": 0,
            "ppo-a on CartPole-v1": 2,
            "ppo on CartPole-v1: 2 configurations": 8,
        }
        progress.end_unit(b, done)  # the group's bar stays until its last unit is stored
        assert "ppo on CartPole-v1: 2 configurations" in bars()
        progress.end_unit(c, done)
        assert bars() == {"units": 2, "ppo-a on CartPole-v1": 2}
        progress.end_unit(a, done)
        assert bars() == {"units": 3}
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line] == [
        "✓ ppo-b on CartPole-v1",
        "✓ ppo-c on CartPole-v1",
        "✓ ppo-a on CartPole-v1",
    ]
