"""The randomized decoder g_θ(ẑ, u) of generative compression (eq. 36) and its seeded noise u."""
import torch
from .config import ModelConfig
from .decoder import Decoder
from .layers import zero_branch

NOISE_TILE = 32  # u is drawn per tile of NOISE_TILE×NOISE_TILE latent positions, from a generator seeded by
                 # (seed, tile row, tile column): any window of the image gets the same u, whatever its size


class RandomizedDecoder(Decoder):
    """ẑ (B,C,h,w), level (B,), u = (u_lat (B,n,h,w), u_pix (B,m,hb,wb)) → x̂ (B,3,hb,wb).

        ẑ ─┬─ branch(ẑ) ──────────────────────┐
           ├─ detail(ẑ ‖ u_lat ‖ level) ───────+─► 1×1 synthesis ─shuffle(b)─► x_lin ─┬─ + refine(x_lin)
           └───────────────────────────────────┘                                     └─ + texture(x_lin ‖ u_pix)

    It is the Shannon-AE decoder with two noise-driven branches whose last layers start at zero, so training
    starts from the MSE reconstruction and learns only the detail the bits do not carry.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.cfg = cfg
        self.detail = zero_branch(cfg.channels + cfg.noise_channels + 1, cfg.hidden, cfg.channels, depth=3)
        self.texture = zero_branch(3 + cfg.pixel_noise, cfg.texture, 3, depth=4)

    def forward(self, z_q: torch.Tensor, level: torch.Tensor, u: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        u_lat, u_pix = u
        B, _, h, w = z_q.shape
        plane = (level.to(z_q.dtype) / self.cfg.stages).view(B, 1, 1, 1).expand(B, 1, h, w)
        detail = self.detail(torch.cat([z_q, u_lat, plane], 1))
        x_lin = self.shuffle(self.synthesis(z_q + self.branch(z_q) + detail))  # (B,3,H,W)
        return x_lin + self.refine(x_lin) + self.texture(torch.cat([x_lin, u_pix], 1))

    def random_noise(self, z_q: torch.Tensor, generator: torch.Generator | None = None):
        """Fresh u for training, shaped for ẑ (B,C,h,w): (B,n,h,w), (B,m,hb,wb)."""
        B, _, h, w = z_q.shape
        b = self.cfg.block
        return (torch.randn(B, self.cfg.noise_channels, h, w, device=z_q.device, generator=generator),
                torch.randn(B, self.cfg.pixel_noise, h * b, w * b, device=z_q.device, generator=generator))

    @torch.no_grad()
    def copy_from(self, decoder: Decoder) -> None:
        """Start as the given Shannon-AE decoder (the noise branches add nothing until they are trained)."""
        own = self.state_dict()
        own.update(decoder.state_dict())
        self.load_state_dict(own)


def seeded_noise(cfg: ModelConfig, seed: int, rows: slice, cols: slice) -> tuple[torch.Tensor, torch.Tensor]:
    """u for the latent positions rows × cols of an image decoded with `seed`: (1,n,h,w), (1,m,hb,wb).

    u is a function of (seed, absolute position) only, so windows decoded apart join exactly and the same
    file and seed give the same pixels."""
    T, b = NOISE_TILE, cfg.block
    t_rows = range(rows.start // T, (rows.stop - 1) // T + 1)
    t_cols = range(cols.start // T, (cols.stop - 1) // T + 1)
    lat = torch.empty(cfg.noise_channels, len(t_rows) * T, len(t_cols) * T)
    pix = torch.empty(cfg.pixel_noise, len(t_rows) * T * b, len(t_cols) * T * b)
    for i, ti in enumerate(t_rows):
        for j, tj in enumerate(t_cols):
            g = torch.Generator().manual_seed((seed * 4096 + ti) * 4096 + tj)
            lat[:, i * T:(i + 1) * T, j * T:(j + 1) * T] = torch.randn(cfg.noise_channels, T, T, generator=g)
            pix[:, i * T * b:(i + 1) * T * b, j * T * b:(j + 1) * T * b] = torch.randn(
                cfg.pixel_noise, T * b, T * b, generator=g)
    r0, c0 = rows.start - t_rows.start * T, cols.start - t_cols.start * T
    h, w = rows.stop - rows.start, cols.stop - cols.start
    return (lat[None, :, r0:r0 + h, c0:c0 + w],
            pix[None, :, r0 * b:(r0 + h) * b, c0 * b:(c0 + w) * b])
