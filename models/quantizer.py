"""Residual vector quantizer with learned (EMA k-means) codebooks and entropy-constrained assignment."""
import math

import torch
import torch.distributed as dist
from torch import nn

from .config import ModelConfig
from .entropy import anchor_mask, codeword_bins, neighbour_context


class ResidualVQ(nn.Module):
    """y (B,C,h,w) → indices (B,S,G,h,w), ẑ per quality level.

        y ─split into G groups of D─► r₁ ─VQ₁─► i₁, c₁ ─► r₂ = r₁ - c₁ ─VQ₂─► i₂, c₂ ─► … (S stages)
        ẑ at level L = Σ_{s≤L} c_s

    Each index is chosen by entropy-constrained VQ (Chou, Lookabaugh & Gray 1989):
    argmin_k  w_s·‖r - c_k‖² + bits(k | context), with w_s = λ_s·255²/3 the weight that the loss
    H(Ẑ) + λ·C puts on latent squared error, so each stage sits at its level's rate–distortion point.
    Codebooks follow their assigned residuals by EMA; codes that fall unused are restarted.
    """

    def __init__(self, cfg: ModelConfig, decay: float = 0.99):
        super().__init__()
        S, G, K, D = cfg.stages, cfg.groups, cfg.codebook_size, cfg.group_dim
        self.cfg = cfg
        self.decay = decay
        self.register_buffer("codebooks", torch.randn(S, G, K, D) * 0.1)
        self.register_buffer("ema_count", torch.ones(S, G, K))
        self.register_buffer("ema_sum", self.codebooks.clone())
        self.register_buffer("lmbdas", torch.logspace(-3, -1.5, S))  # λ of each quality level
        # What the neighbour contexts of the entropy model read: the bin (G,K) of every first-stage
        # codeword's first component between fixed edges. A code keeps its bin from data init (or
        # restart) on, so contexts mean the same thing to the entropy model while codewords drift.
        self.register_buffer("bin_edges", torch.linspace(-1, 1, cfg.ctx_buckets - 1).repeat(G, 1))
        self.register_buffer("bins", codeword_bins(self.codebooks[0], self.bin_edges))

    RENAMED = {"levels": "bins", "level_edges": "bin_edges"}  # buffer names of older weights and checkpoints

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Older files name the codeword bins by their former names: read them under the new ones."""
        for old, new in self.RENAMED.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- shapes -----------------------------------------------------------------------------------
    def split(self, y: torch.Tensor) -> torch.Tensor:
        """(B,C,h,w) → (B,G,h,w,D)."""
        B, C, h, w = y.shape
        return y.view(B, self.cfg.groups, self.cfg.group_dim, h, w).permute(0, 1, 3, 4, 2)

    def merge(self, v: torch.Tensor) -> torch.Tensor:
        """(B,G,h,w,D) → (B,C,h,w)."""
        B, G, h, w, D = v.shape
        return v.permute(0, 1, 4, 2, 3).reshape(B, G * D, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B,L,G,h,w) → codewords (B,L,G,h,w,D)."""
        B, L, G, h, w = indices.shape
        s = torch.arange(L, device=indices.device).view(1, L, 1, 1, 1)
        g = torch.arange(G, device=indices.device).view(1, 1, G, 1, 1)
        return self.codebooks[s, g, indices]

    def dequantize(self, indices: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        """indices (B,L,G,h,w) → ẑ (B,C,h,w), the sum of the first L stages' codewords, or of the first
        levels[b] stages for sample b when `levels` (B,) is given."""
        codewords = self.lookup(indices)
        if levels is not None:
            sent = torch.arange(indices.shape[1], device=indices.device).view(1, -1) < levels.view(-1, 1)
            codewords = codewords * sent.view(*sent.shape, 1, 1, 1, 1)
        return self.merge(codewords.sum(1))

    # -- assignment -------------------------------------------------------------------------------
    def _costs(self, r: torch.Tensor, stage: int) -> torch.Tensor:
        """r (B,G,h,w,D) → w_s·(‖c_k‖² - 2 r·c_k) for every codeword, (B,G,h,w,K): the squared distance
        up to ‖r‖², which is the same for every k and so cannot change the argmin."""
        cb = self.codebooks[stage]  # (G,K,D)
        w = self.lmbdas[stage] * 255.0 ** 2 / 3.0
        cross = torch.einsum("bghwd,gkd->bghwk", r, cb * (-2 * w))
        return cross.add_((w * cb.pow(2).sum(-1))[None, :, None, None, :])

    @staticmethod
    def _choose(costs: torch.Tensor, bits: torch.Tensor, ctx: torch.Tensor | None) -> torch.Tensor:
        """argmin_k costs + bits(k | ctx): costs (B,G,h,w,K), bits (G,Kc,K), ctx (B,G,h,w) or None for
        context 0 everywhere → (B,G,h,w)."""
        if ctx is None:
            return torch.add(costs, bits[:, 0][None, :, None, None, :]).argmin(-1)
        g = torch.arange(costs.shape[1], device=costs.device).view(1, -1, 1, 1)
        return torch.add(costs, bits[g, ctx]).argmin(-1)

    @torch.no_grad()
    def assign(self, y: torch.Tensor, bits_table: torch.Tensor, levels: int | None = None):
        """y (B,C,h,w), bits_table (S,G,K,K) → indices (B,L,G,h,w) and residuals (B,L,G,h,w,D)."""
        L = levels or self.cfg.stages
        r = self.split(y)
        B, G, h, w, _ = r.shape
        anchors = anchor_mask(h, w, y.device)
        g = torch.arange(G, device=y.device).view(1, G, 1, 1)
        indices, residuals = [], []
        for s in range(L):
            costs = self._costs(r, s)
            if s == 0:
                first = self._choose(costs, bits_table[0], None)
                ctx = neighbour_context(first, self.bins, self.cfg.ctx_buckets)
                idx = torch.where(anchors, first, self._choose(costs, bits_table[0], ctx))
            else:
                idx = self._choose(costs, bits_table[s], indices[-1])
            indices.append(idx)
            residuals.append(r)
            r = r - self.codebooks[s][g, idx]
        return torch.stack(indices, 1), torch.stack(residuals, 1)

    # -- learning ---------------------------------------------------------------------------------
    @torch.no_grad()
    def update_codebooks(self, indices: torch.Tensor, residuals: torch.Tensor, revive_below: float = 1e-3):
        """EMA k-means step on (indices, residuals) from `assign`; restart codes used < revive_below."""
        S, G, K, D = self.codebooks.shape
        idx = indices.permute(1, 2, 0, 3, 4).reshape(S, G, -1)        # (S,G,N)
        res = residuals.permute(1, 2, 0, 3, 4, 5).reshape(S, G, -1, D)  # (S,G,N,D)
        count = torch.zeros(S, G, K, device=idx.device).scatter_add_(2, idx, torch.ones_like(idx, dtype=res.dtype))
        total = torch.zeros(S, G, K, D, device=idx.device).scatter_add_(2, idx.unsqueeze(-1).expand_as(res), res)
        if dist.is_available() and dist.is_initialized():  # data-parallel: every replica sees all statistics
            dist.all_reduce(count)
            dist.all_reduce(total)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(total, alpha=1 - self.decay)
        self.codebooks.copy_(self.ema_sum / self.ema_count.clamp(min=1e-5).unsqueeze(-1))
        dead = self.ema_count < revive_below
        if dead.any():
            N = res.shape[2]
            pick = torch.randint(N, (S, G, K), device=res.device)
            fresh = torch.gather(res, 2, pick.unsqueeze(-1).expand(S, G, K, D))
            self.codebooks[dead] = fresh[dead]
            self.ema_sum[dead] = fresh[dead]
            self.ema_count[dead] = 1.0
            fresh_bins = codeword_bins(self.codebooks[0], self.bin_edges)
            self.bins.copy_(torch.where(dead[0], fresh_bins, self.bins))

    @torch.no_grad()
    def kmeans_init(self, y: torch.Tensor, iters: int = 15):
        """Data initialisation, stage by stage: entropy-constrained k-means (ECVQ design) on the residuals
        of encoder outputs y, so that each stage starts at its own λ's rate rather than at log2 K bits.
        Returns the (S,G,K) bits of each codeword's marginal frequency, to start the entropy model."""
        G, D = self.cfg.groups, self.cfg.group_dim
        r = self.split(y).transpose(0, 1).reshape(G, -1, D)  # (G,N,D)
        N = r.shape[1]
        K = self.cfg.codebook_size
        q = torch.linspace(0, 1, self.cfg.ctx_buckets + 1, device=r.device)[1:-1]
        self.bin_edges.copy_(torch.quantile(r[:, :50000, 0], q, dim=1).T)
        marginal_bits = []
        for s in range(self.cfg.stages):
            weight = self.lmbdas[s] * 255.0 ** 2 / 3.0
            cb = r[:, torch.randperm(N)[:K]].clone()  # (G,K,D)
            bits = torch.full((G, 1, K), math.log2(K))
            for it in range(iters):
                cost = torch.cdist(r, cb).pow(2) * weight + (bits if it >= iters // 3 else 0.0)
                idx = cost.argmin(-1)  # (G,N)
                total = torch.zeros_like(cb).scatter_add_(1, idx.unsqueeze(-1).expand_as(r), r)
                count = torch.zeros(G, K, device=r.device).scatter_add_(1, idx, torch.ones_like(idx, dtype=r.dtype))
                cb = torch.where(count.unsqueeze(-1) > 0, total / count.clamp(min=1).unsqueeze(-1), cb)
                if it >= iters // 3:
                    bits = -torch.log2((count + 1e-3) / (count.sum(-1, keepdim=True) + 1e-3 * K)).unsqueeze(1)
            self.codebooks[s] = cb
            self.ema_sum[s] = cb * count.unsqueeze(-1).clamp(min=1e-3) / N * 2048
            self.ema_count[s] = count.clamp(min=1e-3) / N * 2048
            r = r - torch.gather(cb, 1, idx.unsqueeze(-1).expand_as(r))
            marginal_bits.append(bits.squeeze(1))
        self.bins.copy_(codeword_bins(self.codebooks[0], self.bin_edges))
        return torch.stack(marginal_bits)

    @torch.no_grad()
    def usage(self, indices: torch.Tensor) -> dict:
        """Codebook health of a batch: fraction of codes used and perplexity, per stage (means over groups)."""
        S, G, K, _ = self.codebooks.shape
        idx = indices.permute(1, 2, 0, 3, 4).reshape(indices.shape[1], G, -1)  # (L,G,N)
        counts = torch.zeros(idx.shape[0], G, K, device=idx.device).scatter_add_(
            2, idx, torch.ones_like(idx, dtype=torch.float32))
        p = counts / counts.sum(-1, keepdim=True)
        perplexity = torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum(-1))
        return {"used": (counts > 0).float().mean((1, 2)).tolist(),
                "perplexity": perplexity.mean(1).tolist()}
