"""The codec model: encoder, residual VQ, entropy model and decoder tied together."""
import torch
from torch import nn

from .config import ModelConfig
from .decoder import Decoder
from .encoder import Encoder
from .entropy import EntropyModel, contexts
from .generator import RandomizedDecoder
from .quantizer import ResidualVQ


class CodecModel(nn.Module):
    """Shannon-AE (eq. 35): L = H(Ẑ) + λ·C, one model for S quality levels; in mode "gc" it also holds the
    randomized decoder of generative compression (eq. 36), which reads the same indices.

        x (B,3,H,W) ─ f_φ ─► y (B,C,H/8,W/8) ─ ResidualVQ ─► indices (B,S,G,h,w) ─┬─ EntropyModel ─► bits
                                                                                    └─ lookup Σ_{s≤L} ─► ẑ ─ g_θ ─► x̂

    `forward` is for training; `encode`/`decode` map images ⇄ index tensors; `freeze` turns the
    learned densities into the integer tables the range coder reads (CompressAI's `update()`).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVQ(cfg)
        self.entropy = EntropyModel(cfg)
        self.decoder = Decoder(cfg)
        self.gen_decoder = RandomizedDecoder(cfg) if cfg.mode == "gc" else None  # eq. 36: g_θ(ẑ, u)
        self.register_buffer("frequencies", torch.zeros(cfg.stages, cfg.groups, cfg.codebook_size,
                                                        cfg.codebook_size, dtype=torch.int32))
        self._bits = None  # frequency_bits(), cached for the encoder once the tables are loaded or frozen

    def _load_from_state_dict(self, *args, **kwargs):
        self._bits = None
        super()._load_from_state_dict(*args, **kwargs)

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> dict:
        """x (B,3,H,W), levels (B,) in 1..S → {x_hat, bits (B,S), y, z_q, indices, residuals}."""
        y = self.encoder(x)
        with torch.autocast(x.device.type, enabled=False):  # quantizer and rates in float32 under AMP
            y = y.float()
            indices, residuals = self.quantizer.assign(y, self.entropy.bits_table().detach())
            ctx = contexts(indices, self.quantizer.bins, self.cfg.ctx_buckets)
            bits = self.entropy.bits(indices, ctx)
            z_q = self.quantizer.dequantize(indices, levels)
        x_hat = self.decoder(y + (z_q - y).detach())  # straight-through to the encoder
        return {"x_hat": x_hat, "bits": bits.sum((2, 3, 4)), "y": y, "z_q": z_q,
                "indices": indices, "residuals": residuals}

    @torch.no_grad()
    def encode(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """x (B,3,H,W), H and W multiples of the block → indices (B,level,G,H/b,W/b) int64."""
        if self._bits is None:
            self._bits = self.frequency_bits()
        return self.quantizer.assign(self.encoder(x), self._bits, levels=level)[0]

    @torch.no_grad()
    def decode(self, indices: torch.Tensor, u: tuple | None = None, realism: float = 0.0) -> torch.Tensor:
        """indices (B,L,G,h,w) → x̂ (B,3,hb,wb) clamped to [0,1].

        `realism` A blends the Shannon-AE decoder (A = 0) with the randomized one (A = 1, mode "gc"),
        which reads the noise u = (u_lat, u_pix) (see `generator.seeded_noise`)."""
        z_q = self.quantizer.dequantize(indices)
        if realism == 0:
            return self.decoder(z_q).clamp(0, 1)
        B, L = indices.shape[:2]
        x_gen = self.gen_decoder(z_q, torch.full((B,), L), u).clamp(0, 1)
        return x_gen if realism == 1 else (1 - realism) * self.decoder(z_q).clamp(0, 1) + realism * x_gen

    def frequency_bits(self) -> torch.Tensor:
        """Bits of each index under the frozen integer tables, (S,G,K,K); for the encoder's choices."""
        f = self.frequencies.double()
        return (torch.log2(f.sum(-1, keepdim=True)) - torch.log2(f)).float()

    @torch.no_grad()
    def freeze(self) -> None:
        """Fix what the coder reads that is learned as floats: the integer frequency tables. A gc model
        keeps its base model's tables untouched: the two share one bitstream."""
        if self.cfg.mode == "gc":
            return
        self.frequencies.copy_(self.entropy.frequencies())
        self._bits = None

    @torch.no_grad()
    def init_block_transform(self, blocks: torch.Tensor) -> None:
        """Start as a KLT codec: blocks (N,C) are unshuffled pixel blocks; PCA sets analysis/synthesis."""
        mean = blocks.mean(0)
        cov = torch.cov((blocks - mean).T.double())
        _, vecs = torch.linalg.eigh(cov)
        W = vecs.flip(-1).T.float()  # rows = principal directions, largest variance first
        C = W.shape[0]
        self.encoder.analysis.weight.copy_(W.view(C, C, 1, 1))
        self.encoder.analysis.bias.copy_(-W @ mean)
        self.decoder.synthesis.weight.copy_(W.T.contiguous().view(C, C, 1, 1))
        self.decoder.synthesis.bias.copy_(mean)

    @torch.no_grad()
    def frozen_bits(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B,L,G,h,w) → ideal code length in bits under the frozen tables, (B,)."""
        L = indices.shape[1]
        ctx = contexts(indices, self.quantizer.bins, self.cfg.ctx_buckets)
        table = self.frequency_bits()[:L]
        s = torch.arange(L).view(1, L, 1, 1, 1)
        g = torch.arange(self.cfg.groups).view(1, 1, -1, 1, 1)
        return table[s, g, ctx, indices].sum((1, 2, 3, 4))

    TRAINING_ONLY = ("entropy.logits", "quantizer.ema_count", "quantizer.ema_sum")

    def inference_state_dict(self) -> dict:
        """The state a frozen model needs to code: no learned logits, no EMA statistics."""
        return {k: v for k, v in self.state_dict().items() if k not in self.TRAINING_ONLY}
