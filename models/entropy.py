"""Entropy model p(index | context) over the codebook indices, and the integer-only contexts it reads.

Decode order inside a tile, and what each index may condition on (all of it already decoded):

    stage 1, anchors     (i+j even): context 0
    stage 1, non-anchors (i+j odd):  context 1..NB, the mean bin of the 4 anchor neighbours
    stage s > 1:                     context = index of stage s-1 at the same place and group

The context code uses integers only, so encoder and decoder agree on any machine.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

FREQ_TOTAL = 1 << 16  # each frozen row of frequencies sums to this


def anchor_mask(h: int, w: int, device=None) -> torch.Tensor:
    """(h,w) bool, True on the checkerboard anchors (i+j even), decoded first."""
    i = torch.arange(h, device=device).view(h, 1)
    j = torch.arange(w, device=device).view(1, w)
    return (i + j) % 2 == 0


def codeword_bins(codebook: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """(G,K,D) first-stage codebooks, (G,NB-1) sorted edges → (G,K) int64 bin in 0..NB-1 of each
    codeword's first component. Fixed edges keep a codeword's bin stable while others move."""
    return torch.searchsorted(edges.contiguous(), codebook[..., 0].contiguous())


def _neighbour_sum(v: torch.Tensor) -> torch.Tensor:
    """Sum of the up/down/left/right neighbours of every position (zero beyond the edges), (...,h,w)."""
    total = torch.zeros_like(v)
    total[..., 1:, :] += v[..., :-1, :]
    total[..., :-1, :] += v[..., 1:, :]
    total[..., :, 1:] += v[..., :, :-1]
    total[..., :, :-1] += v[..., :, 1:]
    return total


def neighbour_context(idx: torch.Tensor, bins: torch.Tensor, buckets: int) -> torch.Tensor:
    """First-stage contexts. idx (B,G,h,w) int64 (only anchors are read), bins (G,K) int64 in 0..NB-1.

    Returns (B,G,h,w) int64: 0 on anchors, 1..buckets on non-anchors (floor of the mean neighbour bin).
    """
    B, G, h, w = idx.shape
    anchors = anchor_mask(h, w, idx.device)
    g = torch.arange(G, device=idx.device).view(1, G, 1, 1)
    known = bins[g, idx] * anchors  # non-anchor values are not known yet when these contexts are used
    count = _neighbour_sum(anchors.to(torch.int64)).clamp(min=1)
    bucket = (1 + _neighbour_sum(known) // count).clamp(max=buckets)
    return torch.where(anchors, torch.zeros_like(bucket), bucket)


def contexts(indices: torch.Tensor, bins: torch.Tensor, buckets: int) -> torch.Tensor:
    """indices (B,L,G,h,w) int64 → contexts of the same shape (see the module docstring)."""
    first = neighbour_context(indices[:, 0], bins, buckets).unsqueeze(1)
    return torch.cat([first, indices[:, :-1]], dim=1)


class EntropyModel(nn.Module):
    """Learned categorical p(index | stage, group, context): logits (S,G,K,K).

    Trained by minimising the rate H(Ẑ) = E[-log2 p(indices)]; `frequencies()` turns it into the
    integer tables the range coder uses.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        K = cfg.codebook_size
        self.logits = nn.Parameter(torch.zeros(cfg.stages, cfg.groups, K, K))

    @torch.no_grad()
    def init_from_counts(self, indices: torch.Tensor, ctx: torch.Tensor, prior: float = 0.5) -> None:
        """Start at the smoothed empirical frequencies of (indices, ctx) (B,S,G,h,w), not at uniform."""
        S, G, Kc, K = self.logits.shape
        flat = ((torch.arange(S).view(1, S, 1, 1, 1) * G + torch.arange(G).view(1, 1, G, 1, 1)) * Kc + ctx) * K + indices
        counts = torch.bincount(flat.flatten(), minlength=S * G * Kc * K).view(S, G, Kc, K).float()
        self.logits.copy_(torch.log(counts + prior))

    def bits_table(self) -> torch.Tensor:
        """(S,G,K_ctx,K) bits of each index under each context."""
        return -F.log_softmax(self.logits, dim=-1) / torch.log(torch.tensor(2.0))

    def bits(self, indices: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """indices, ctx (B,L,G,h,w) → bits (B,L,G,h,w), differentiable in the logits."""
        B, L, G, h, w = indices.shape
        table = self.bits_table()[:L]  # (L,G,Kc,K)
        s = torch.arange(L, device=indices.device).view(1, L, 1, 1, 1)
        g = torch.arange(G, device=indices.device).view(1, 1, G, 1, 1)
        return table[s, g, ctx, indices]

    @torch.no_grad()
    def frequencies(self) -> torch.Tensor:
        """(S,G,K_ctx,K) int32 tables, every entry ≥ 1, every row summing to FREQ_TOTAL exactly."""
        p = F.softmax(self.logits.double(), dim=-1)
        K = p.shape[-1]
        f = torch.floor(p * (FREQ_TOTAL - K)).to(torch.int64) + 1
        short = FREQ_TOTAL - f.sum(-1, keepdim=True)
        f.scatter_add_(-1, p.argmax(-1, keepdim=True), short)
        return f.to(torch.int32)
