"""The MinAtar conv layer on XLA:CPU: ``lax.conv_general_dilated`` against rlcheck's
``im2col_conv`` (rlcheck/agents/common/networks.py), in the same process.

Runs as rlcheck's CPU workers do (pinned to core 0, the workers' XLA flags), in alternating
order, and quotes medians over ``--repeats`` and the ratio lax / im2col:

- the conv's kernel gradient alone (batch 128 of 10×10×4 grids, 16 channels), 16 of them
  unrolled and 16 inside a ``lax.scan`` (a training loop is a scan);
- PPO's update on Breakout-MinAtar: 16 minibatch steps of 128 (4 epochs × 4 minibatches,
  rlcheck's defaults), vmapped over 8 seeds, the loop that PPO's training runs;
- DQN's learner on Breakout-MinAtar: 64 gradient steps of batch 32 on a Huber TD loss with
  the MinAtar paper's network (Adam here; the optimizer does not touch the conv), vmapped over
  8 seeds.

    python benchmarks/conv_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
SEEDS = 8


def child(repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    from rlcheck import envs
    from rlcheck.agents import dqn
    from rlcheck.agents.common import networks
    from rlcheck.registry import make_agent

    def lax_conv(lhs, rhs, window_strides, padding, dimension_numbers=None, **kwargs):
        numbers = dimension_numbers or ("NHWC", "HWIO", "NHWC")  # what flax passes
        return lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, dimension_numbers=numbers, **kwargs
        )

    def use(conv) -> None:
        # networks.MLP and dqn.QNetwork look the function up when a program is traced.
        networks.im2col_conv = conv
        dqn.im2col_conv = conv

    im2col = networks.im2col_conv
    key = jax.random.key(0)
    x = jax.random.uniform(key, (16, 128, 10, 10, 4))
    kernel = jax.random.normal(key, (3, 3, 4, 16)) * 0.1

    def kernel_grad_programs(conv):
        def grad(k, xi):
            return jax.grad(lambda k: jnp.sum(jnp.tanh(conv(xi, k, (1, 1), "SAME"))))(k)

        unrolled = jax.jit(lambda k, x: sum(grad(k, x[i]) for i in range(16)))
        scanned = jax.jit(
            lambda k, x: jax.lax.scan(lambda c, xi: (c + grad(k, xi), None), 0 * k, x)[0]
        )
        return {"unrolled": (unrolled, (kernel, x)), "scan": (scanned, (kernel, x))}

    env = envs.make("gymnax:Breakout-MinAtar")

    def ppo_program():
        agent = make_agent("ppo", env.spec, {}, 100_000)
        state = jax.vmap(agent.init, in_axes=(0, None))(
            jax.random.split(key, SEEDS), agent.hparams()
        )
        shape = (SEEDS, 16, 128)
        batch = {
            "x": jax.random.uniform(key, (*shape, *env.spec.obs_shape)),
            "action": jax.random.randint(key, shape, 0, env.spec.action_space.n),
            "log_prob": jnp.full(shape, -1.1),
            "value": jnp.zeros(shape),
            "advantages": jax.random.normal(key, shape),
            "returns": jnp.ones(shape),
        }

        def steps(params, opt_state, hparams, batch):
            carry = (params, opt_state, hparams, hparams["learning_rate"])
            return jax.lax.scan(agent._minibatch_step, carry, batch)[0][0]

        args = (state.params, state.opt_state, state.hparams, batch)
        return jax.jit(jax.vmap(steps)), args

    def dqn_program():
        cfg = dqn.default_config(env.spec)
        net = dqn.QNetwork(
            num_actions=env.spec.action_space.n,
            hidden_sizes=cfg.hidden_sizes,
            obs_ndim=3,
            activation=cfg.activation,
            weight_init=cfg.weight_init,
        )
        obs = jax.random.uniform(key, (SEEDS, 64, 32, *env.spec.obs_shape))
        actions = jax.random.randint(key, (SEEDS, 64, 32), 0, env.spec.action_space.n)
        targets = jax.random.normal(key, (SEEDS, 64, 32))
        params = jax.vmap(net.init)(jax.random.split(key, SEEDS), obs[:, 0])
        optimizer = optax.adam(cfg.learning_rate)

        def steps(params, obs, actions, targets):
            def step(carry, batch):
                params, opt_state = carry
                o, a, y = batch

                def loss(p):
                    q = jnp.take_along_axis(net.apply(p, o), a[:, None], axis=-1)[:, 0]
                    return jnp.mean(optax.huber_loss(q, y))

                updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state)
                return (optax.apply_updates(params, updates), opt_state), None

            carry = (params, optimizer.init(params))
            return jax.lax.scan(step, carry, (obs, actions, targets))[0][0]

        return jax.jit(jax.vmap(steps)), (params, obs, actions, targets)

    def programs(conv) -> dict:
        use(conv)
        out = kernel_grad_programs(conv)
        out["ppo_update"] = ppo_program()
        out["dqn_64_steps"] = dqn_program()
        for fn, args in out.values():  # compile and warm up
            jax.block_until_ready(fn(*args))
        return out

    contenders = {"lax": programs(lax_conv), "im2col": programs(im2col)}
    use(im2col)
    times: dict = {name: {case: [] for case in contenders[name]} for name in contenders}
    for r in range(repeats):
        for name in ("lax", "im2col") if r % 2 == 0 else ("im2col", "lax"):
            for case, (fn, args) in contenders[name].items():
                start = time.perf_counter()
                jax.block_until_ready(fn(*args))
                times[name][case].append(time.perf_counter() - start)
    return times


def report(times: dict, machine: dict, repeats: int) -> str:
    lines = [
        f"Machine: {machine}; one core (pinned, rlcheck's worker XLA flags); "
        f"{repeats} repetitions, medians.",
        "",
        "| program | lax.conv_general_dilated ms | im2col_conv ms | lax / im2col |",
        "|---|---|---|---|",
    ]
    labels = {
        "unrolled": "16 conv kernel gradients (batch 128), unrolled",
        "scan": "16 conv kernel gradients (batch 128), inside lax.scan",
        "ppo_update": f"PPO update, Breakout-MinAtar, 16 minibatches × 128, {SEEDS} seeds",
        "dqn_64_steps": f"DQN, Breakout-MinAtar, 64 gradient steps × 32, {SEEDS} seeds",
    }
    for case, label in labels.items():
        a = statistics.median(times["lax"][case]) * 1e3
        b = statistics.median(times["im2col"][case]) * 1e3
        lines.append(f"| {label} | {a:.1f} | {b:.1f} | {a / b:.1f}× |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.repeats)))
        return

    from rlcheck import PINNED_WORKER_ENV
    from rlcheck.experiment.provenance import machine
    from rlcheck.experiment.workers import worker_xla_flags

    env = {**os.environ, PINNED_WORKER_ENV: "1"}
    env["XLA_FLAGS"] = worker_xla_flags(os.environ.get("XLA_FLAGS"), pinned=True)
    command = ["taskset", "-c", "0", sys.executable, __file__, "--child"]
    done = subprocess.run(
        [*command, "--repeats", str(args.repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    times = json.loads(done.stdout.strip().splitlines()[-1])
    text = report(times, machine(), args.repeats)
    print(text)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"conv_speed-{stamp}.json").write_text(json.dumps(times))
    (OUT / f"conv_speed-{stamp}.md").write_text(text)


if __name__ == "__main__":
    main()
