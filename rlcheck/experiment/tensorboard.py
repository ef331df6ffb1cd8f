"""TensorBoard event files: scalars read with TensorBoard's own event loader and written with
tensorboardX (both in the optional extra ``rlcheck[tensorboard]``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rlcheck.errors import UserError

INSTALL = "pip install 'rlcheck[tensorboard]'"


class _DataLoss(logging.Handler):
    """Catches the loader's report of a truncated or corrupt record: it logs it at debug level
    and stops, because TensorBoard tails files that are still being written. A file given to
    import is finished, so a lost record means a damaged file."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.problem: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Truncated record in") and self.problem is None:
            self.problem = "a record fails its crc32 check" if "crc32" in message else "truncated"


@contextmanager
def _watch_data_loss() -> Iterator[_DataLoss]:
    logger = logging.getLogger("tensorboard")
    handler, level = _DataLoss(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def read_scalars(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series of one event file, in the order written.

    Args:
      path: a TensorBoard event file (``events.out.tfevents.*``).

    Returns:
      tag → (steps, values) as int64 and float64 arrays.

    Raises:
      UserError: the tensorboard package is missing, or the file is truncated or corrupt
        (one line naming the file).
    """
    try:
        from tensorboard.backend.event_processing.event_file_loader import (
            LegacyEventFileLoader,
        )
        from tensorboard.util import tensor_util
    except ImportError:
        raise UserError(f"{path}: reading TensorBoard files needs tensorboard: {INSTALL}") from None
    steps: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    with _watch_data_loss() as loss:
        # The legacy loader leaves events as written: torch's and tensorboardX's SummaryWriter
        # write simple_value, tf.summary a scalars-plugin tensor. (EventFileLoader would turn
        # every simple_value into a tensor first: half the time of reading a CleanRL file.)
        for event in LegacyEventFileLoader(str(path)).Load():
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number = value.simple_value
                elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tensor_util.make_ndarray(value.tensor))
                else:
                    continue
                steps.setdefault(value.tag, []).append(event.step)
                values.setdefault(value.tag, []).append(number)
    if loss.problem is not None:
        raise UserError(f"{path}: not a complete TensorBoard event file ({loss.problem})")
    return {
        tag: (np.asarray(steps[tag], np.int64), np.asarray(values[tag], np.float64))
        for tag in steps
    }


def write_scalars(directory: Path, scalars: Iterable[tuple[str, int, float]]) -> None:
    """Write (tag, step, value) scalars as one TensorBoard run in ``directory``.

    Raises:
      UserError: tensorboardX is not installed.
    """
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise UserError(f"writing TensorBoard files needs tensorboardX: {INSTALL}") from None
    writer = SummaryWriter(logdir=str(directory))
    try:
        for tag, step, value in scalars:
            writer.add_scalar(tag, value, step)
    finally:
        writer.close()
