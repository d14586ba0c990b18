"""Data-parallel training under torchrun (NCCL on GPUs, gloo on CPUs); a no-op when run alone."""
import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """This process's rank and the world size, and the few collectives the loop needs; the default is
    one process alone."""
    world: int = 1
    rank: int = 0

    @classmethod
    def from_environment(cls, device: torch.device) -> "Distributed":
        """The rank and world size torchrun sets, with the process group joined: on GPUs NCCL for CUDA
        tensors and gloo for CPU ones (`any`'s flag), which NCCL alone refuses."""
        ddp = cls(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")))
        if ddp.world > 1 and not dist.is_initialized():
            dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
        return ddp

    @property
    def main(self) -> bool:
        return self.rank == 0

    def local(self, device: torch.device) -> torch.device:
        """This rank's own GPU when several share a machine."""
        if device.type == "cuda" and self.world > 1:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.clone()
            dist.all_reduce(t)
            t /= self.world
        return t

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any: ranks must stop at the same step."""
        return bool(self.mean(torch.tensor([float(flag)])).item() > 0) if self.world > 1 else flag

    def finish(self) -> None:
        """Wait for every rank, then tear the process group down: a process that exits with gloo's
        threads still running aborts ("terminate called without an active exception")."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def state_digests(self, model) -> list[dict]:
        """Each rank's digest of every parameter and buffer (codebooks, λ, …), by name: identical when
        the replicas are in step."""
        state = model.state_dict()
        local = torch.tensor([int.from_bytes(hashlib.sha256(v.detach().cpu().numpy().tobytes()).digest()[:7], "little")
                              for v in state.values()], device=next(model.parameters()).device)
        gathered = [local]
        if self.world > 1:
            gathered = [torch.zeros_like(local) for _ in range(self.world)]
            dist.all_gather(gathered, local)
        return [dict(zip(state, g.tolist())) for g in gathered]
