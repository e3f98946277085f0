"""Data parallelism on `torch.distributed`: every process holds the whole model and trains on
its share of each global batch; gradients are averaged before every optimizer step.

What `fit` / `evaluate` / `predict` do when a `DataParallel` distribution is active (set with
`set_distribution`, or found in the environment of `torchrun`):

- `batch_size` is the global batch (as in Keras 3): each global batch, drawn in the same order
  on every process, is cut into `world_size` contiguous parts, and process `rank` takes part
  `rank`.
- Before training, the weights and torch's random generator of process 0 are sent to every
  process, so all start equal and draw the same shuffling order.
- After each backward pass, the gradients are summed over processes, each weighted by its
  number of samples, and divided by the global batch: the mean over the global batch, as one
  process would compute it (up to the order of float additions). Exact for losses that are
  a mean over samples (all built-in losses).
- Epoch losses, metrics (their accumulated sums) and evaluation results are summed over
  processes; `predict` gathers the parts back into the global order on every process.
- Only process 0 prints a progress bar or writes files (`atomic_write` skips elsewhere).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


class DataParallel:
    """Keras 3's `keras.distribution.DataParallel`, on `torch.distributed`.

    Args:
        devices: Ignored beyond checking (one process per device, as `torchrun` starts them);
            accepted for Keras compatibility.
        backend: `"gloo"` (CPU) or `"nccl"` (CUDA); default: `"nccl"` when CUDA is available,
            else `"gloo"`.
        auto_shard_dataset: Keras' argument: must be True (each process takes its share of
            every global batch).

    The process group is created from the `torchrun` environment (`RANK`, `WORLD_SIZE`,
    `MASTER_ADDR`, `MASTER_PORT`) unless one already exists.

    Example:
        >>> # torchrun --nproc_per_node=4 train.py, with in train.py:
        >>> # gated.distribute.set_distribution(gated.distribute.DataParallel())
        >>> # model.fit(x, y, batch_size=256)  # 64 samples per process
    """

    def __init__(self, devices: Any = None, backend: str | None = None,
                 auto_shard_dataset: bool = True) -> None:
        if backend not in (None, "gloo", "nccl"):
            raise ValueError("Argument `backend` of DataParallel must be 'gloo', 'nccl' or "
                             f"None, received backend={backend!r}.")
        if auto_shard_dataset is not True:
            raise ValueError("DataParallel shards every global batch across processes; "
                             f"received auto_shard_dataset={auto_shard_dataset!r}.")
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        self.backend = backend
        self.devices = devices
        if not dist.is_initialized():
            if "WORLD_SIZE" not in os.environ:
                raise RuntimeError(
                    "DataParallel needs a torch.distributed process group: launch the script "
                    "with `torchrun --nproc_per_node=N script.py`, or call "
                    "torch.distributed.init_process_group first.")
            dist.init_process_group(backend=backend)
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = torch.device("cpu")
        if dist.get_backend() == "nccl":
            local = int(os.environ.get("LOCAL_RANK", self.rank % torch.cuda.device_count()))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)

    @property
    def is_primary(self) -> bool:
        """True on process 0, the one that logs and writes files."""
        return self.rank == 0

    def __repr__(self) -> str:
        return (f"DataParallel(rank={self.rank}, world_size={self.world_size}, "
                f"backend={dist.get_backend()!r})")

    # ------------------------------------------------------------------ data
    def check_batch_size(self, batch_size: int, num_samples: int | None) -> None:
        """Every process must get at least one sample of every global batch."""
        last = None if num_samples is None else num_samples % batch_size
        if batch_size < self.world_size or (last and last < self.world_size):
            raise ValueError(
                f"Argument `batch_size` of fit() is the global batch, split over "
                f"{self.world_size} processes: each batch needs >= {self.world_size} samples; "
                f"received batch_size={batch_size}"
                + (f" with a last batch of {last} of {num_samples} samples" if last else "")
                + ". Choose a batch size that leaves every process a sample.")

    def shard(self, index: torch.Tensor | slice, size: int | None = None
              ) -> torch.Tensor | slice:
        """This process's contiguous part of a global batch's `index` (a tensor of sample
        indices, or a slice; `size` is the batch's length when `index` is an open slice)."""
        if isinstance(index, slice):
            start = index.start or 0
            stop = index.stop if index.stop is not None else size
            bounds = _bounds(stop - start, self.world_size, self.rank)
            return slice(start + bounds[0], start + bounds[1])
        lo, hi = _bounds(len(index), self.world_size, self.rank)
        return index[lo:hi]

    @staticmethod
    def is_empty(index: torch.Tensor | slice) -> bool:
        """A process's part of a batch holds no sample (only in a last batch of evaluate /
        predict smaller than the process count; fit refuses such batch sizes)."""
        if isinstance(index, slice):
            return index.stop <= index.start
        return len(index) == 0

    # ------------------------------------------------------------------ training
    def begin_fit(self, model: Any, custom_train_step: bool, batch_size: int,
                  num_samples: int | None) -> None:
        """Check the batch size, move the model to this process's device, and give every
        process process 0's weights, buffers and torch generator state."""
        if custom_train_step:
            raise NotImplementedError(
                f"Model '{model.name}' overrides train_step(): under a DataParallel "
                "distribution, fit() averages gradients inside its own step only; call "
                "distribution.reduce_gradients(model, local_batch_size) after backward() "
                "in your train_step and run it without fit(), or drop the override.")
        self.check_batch_size(batch_size, num_samples)
        if self.device.type != "cpu":
            model.to(self.device)
        with torch.no_grad():
            for tensor in list(model.parameters()) + list(model.buffers()):
                dist.broadcast(tensor.data, src=0)
        state = torch.get_rng_state()
        dist.broadcast(state, src=0) if self.device.type == "cpu" else \
            state.copy_(_broadcast_via(state, self.device))
        torch.set_rng_state(state)

    def reduce_gradients(self, model: Any, local_size: int) -> None:
        """Make every gradient the mean over the global batch (one all-reduce)."""
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params]
                         + [torch.ones(1, dtype=params[0].dtype, device=params[0].device)])
        flat.mul_(local_size)
        dist.all_reduce(flat)
        total = flat[-1]
        flat = flat[:-1] / total
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def sum_logs(self, loss_sum: float, seen: float, parts: dict[str, float],
                 metrics: list) -> tuple[float, float, dict[str, float]]:
        """Sum an epoch's loss totals over processes, and merge the metrics' states."""
        keys = sorted(parts)
        values = torch.tensor([loss_sum, seen, *(parts[k] for k in keys)], dtype=torch.float64,
                              device=self.device)
        dist.all_reduce(values)
        values = values.tolist()
        for metric in metrics:
            sum_metric_state(metric, self.device)
        return values[0], values[1], dict(zip(keys, values[2:], strict=True))

    def gather(self, outputs: list) -> list:
        """`predict`'s per-batch outputs of every process, merged into global batch order."""
        everyone: list = [None] * self.world_size
        local = [_to_cpu(o) for o in outputs]
        dist.all_gather_object(everyone, local)
        merged = []
        for j in range(max(len(outputs) for outputs in everyone)):
            # a short last batch leaves the highest ranks without a part
            parts = [outputs[j] for outputs in everyone if j < len(outputs)]
            if isinstance(parts[0], (list, tuple)):
                merged.append([torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))])
            else:
                merged.append(torch.cat(parts))
        return merged


def _bounds(n: int, parts: int, index: int) -> tuple[int, int]:
    base, extra = divmod(n, parts)
    lo = index * base + min(index, extra)
    return lo, lo + base + (1 if index < extra else 0)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [v.detach().cpu() for v in value]
    return value.detach().cpu()


def _broadcast_via(state: torch.Tensor, device: torch.device) -> torch.Tensor:
    moved = state.to(device)
    dist.broadcast(moved, src=0)
    return moved.cpu()


def sum_metric_state(metric: Any, device: torch.device) -> None:
    """Sum a metric's accumulated tensors (`Mean`'s total and count, a wrapped metric's inner
    state) over processes: right for the additive states of gated's metrics."""
    for name, value in sorted(vars(metric).items()):
        if isinstance(value, torch.Tensor):
            moved = value.to(device)
            dist.all_reduce(moved)
            setattr(metric, name, moved.to(value.device))
        elif hasattr(value, "update_state") and hasattr(value, "result"):
            sum_metric_state(value, device)
