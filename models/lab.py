"""The lab's networks (codec.lab): small convolutional encoders and decoders for 32×32 RGB patches, the two
discriminators that estimate the paper's divergences, and a vector quantiser with a factorised prior.

    x (B,3,32,32) in [0,1] ─► Encoder ─► μ, log σ² (Gaussian q(z|x))  or  z = f(x) (deterministic)
                                              └─► VectorQuantizer ─► ẑ, indices, P(indices)  (H(Ẑ) = −Σ log2 P)
    [z, u] ─► Decoder ─► x̂ (B,3,32,32) in [0,1]          (u: the noise U of eq. 36, or none)
    ImageDiscriminator(x)  ─► logit r(x) ≈ log p_D(x)/p_θ(x)   (term D)
    LatentDiscriminator(z) ─► logit r(z) ≈ log q(z)/p(z)       (term B)

Sizes: three stride-2 convolutions (width, 2·width, 4·width) to 4×4, a linear layer to the latent; the
decoder mirrors it with nearest-neighbour upsampling (no checkerboard). Every module has `config()`, so a
checkpoint knows its architecture.
"""
import torch
import torch.nn.functional as F
from torch import nn

SIDE = 32  # the patch side the networks are built for


def _down(width: int, c_in: int = 3) -> nn.Sequential:
    layers, c = [], c_in
    for k in range(3):
        layers += [nn.Conv2d(c, width << k, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width << k
    return nn.Sequential(*layers, nn.Flatten())


class Encoder(nn.Module):
    """x (B,3,32,32) → (B, outputs): 2·latent (μ, log σ²) for a Gaussian encoder, latent for a deterministic one."""

    def __init__(self, latent: int = 32, width: int = 32, gaussian: bool = True):
        super().__init__()
        self.latent, self.width, self.gaussian = latent, width, gaussian
        self.body = _down(width)
        self.head = nn.Linear((width << 2) * 16, latent * (2 if gaussian else 1))

    def forward(self, x: torch.Tensor):
        h = self.head(self.body(x * 2 - 1))
        if self.gaussian:
            mu, logvar = h.chunk(2, 1)
            return mu, logvar.clamp(-12.0, 6.0)
        return h

    def config(self) -> dict:
        return {"latent": self.latent, "width": self.width, "gaussian": self.gaussian}


class Decoder(nn.Module):
    """z (B, inputs) → x̂ (B,3,32,32) in [0,1]; `inputs` is the latent plus the noise U's dimensions. `norm`
    puts batch normalisation after every hidden layer (DCGAN's generator), which a GAN needs to train fast."""

    def __init__(self, inputs: int = 32, width: int = 32, norm: bool = False):
        super().__init__()
        self.inputs, self.width, self.norm = inputs, width, norm
        bn = (lambda c: nn.BatchNorm2d(c)) if norm else (lambda c: nn.Identity())
        self.head = nn.Linear(inputs, (width << 2) * 16)
        self.head_norm = bn(width << 2)
        layers, c = [], width << 2
        for k in (1, 0, 0):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, width << k, 3, 1, 1), bn(width << k),
                       nn.LeakyReLU(0.2)]
            c = width << k
        self.body = nn.Sequential(*layers, nn.Conv2d(c, 3, 3, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.head_norm(self.head(z).view(len(z), self.width << 2, 4, 4)), 0.2)
        return torch.sigmoid(self.body(h))

    def config(self) -> dict:
        return {"inputs": self.inputs, "width": self.width, "norm": self.norm}


class ImageDiscriminator(nn.Module):
    """x (B,3,32,32) in [0,1] → (B,) logit: trained as a density-ratio estimator (logit ≈ log p_D/p_θ) or a
    Wasserstein critic."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.width = width
        self.body = _down(width)
        self.head = nn.Linear((width << 2) * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x * 2 - 1)).squeeze(1)

    def config(self) -> dict:
        return {"width": self.width}


class LatentDiscriminator(nn.Module):
    """z (B, latent) → (B,) logit ≈ log q(z)/p(z), as the AAE's discriminator."""

    def __init__(self, latent: int = 32, width: int = 256):
        super().__init__()
        self.latent, self.width = latent, width
        self.net = nn.Sequential(nn.Linear(latent, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                                 nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)

    def config(self) -> dict:
        return {"latent": self.latent, "width": self.width}


class VectorQuantizer(nn.Module):
    """A product VQ: the latent (B, latent) in `groups` groups of latent/groups dimensions, each quantised to
    one of `size` codewords of its own codebook; a learned factorised categorical prior P over each
    group's indices is the entropy model, H(Ẑ) = −Σ_groups log2 P(index).

    The choice is entropy-constrained (ECVQ): index = argmin_k ‖y_g − c_k‖² + ecvq·(−log2 P(k)), so the rate
    term reaches the encoder's decision (its gradient cannot: indices are discrete); ecvq = 0 is nearest
    neighbour. Codewords follow their members by an exponential moving average (VQ-VAE-2) and unused ones
    restart at a random member of the batch; the encoder passes through by the straight-through estimator,
    ẑ = y + sg(c − y). `commitment` (‖y − sg(ẑ)‖², per sample) keeps the encoder near its codewords: a device
    of the quantiser, not a term of the paper's Lagrangian.
    """

    def __init__(self, latent: int = 32, groups: int = 16, size: int = 128, ecvq: float = 0.0, decay: float = 0.99):
        super().__init__()
        if latent % groups:
            raise ValueError(f"latent {latent} does not split into {groups} groups")
        self.latent, self.groups, self.size, self.ecvq, self.decay = latent, groups, size, ecvq, decay
        d = latent // groups
        self.register_buffer("codebook", torch.randn(groups, size, d))
        self.register_buffer("ema_count", torch.ones(groups, size))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))
        self.prior_logits = nn.Parameter(torch.zeros(groups, size))

    def log2_prior(self) -> torch.Tensor:
        """(groups, size) log2 P(k) of the factorised prior."""
        return F.log_softmax(self.prior_logits, -1) / torch.log(torch.tensor(2.0))

    def choose(self, y: torch.Tensor) -> torch.Tensor:
        """(B, latent) → (B, groups) indices."""
        yg = y.detach().view(len(y), self.groups, 1, -1)
        cost = (yg - self.codebook[None]).pow(2).sum(-1)
        if self.ecvq:
            cost = cost - self.ecvq * self.log2_prior().detach()[None]
        return cost.argmin(-1)

    def codewords(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, groups) indices → (B, latent) codewords."""
        g = torch.arange(self.groups, device=indices.device)[None].expand_as(indices)
        return self.codebook[g, indices].reshape(len(indices), -1)

    def likelihoods(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, groups) P(index) under the prior, differentiable in the prior's logits."""
        p = F.softmax(self.prior_logits, -1)
        g = torch.arange(self.groups, device=indices.device)[None].expand_as(indices)
        return p[g, indices]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, groups) indices drawn from the prior."""
        p = F.softmax(self.prior_logits.detach(), -1)
        return torch.multinomial(p, n, replacement=True, generator=generator).T

    @torch.no_grad()
    def _update(self, y: torch.Tensor, indices: torch.Tensor) -> None:
        yg = y.detach().view(len(y), self.groups, -1)
        onehot = F.one_hot(indices, self.size).type_as(yg)           # (B, G, K)
        count = onehot.sum(0)                                       # (G, K)
        total = torch.einsum("bgk,bgd->gkd", onehot, yg)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(total, alpha=1 - self.decay)
        self.codebook.copy_(self.ema_sum / self.ema_count.clamp_min(1e-5)[..., None])
        dead = self.ema_count < 1e-3 * len(y) / self.size
        if dead.any():  # restart at random members of the batch
            g, k = dead.nonzero(as_tuple=True)
            pick = torch.randint(len(y), (len(g),), device=y.device)
            self.codebook[g, k] = yg[pick, g]
            self.ema_sum[g, k] = yg[pick, g]
            self.ema_count[g, k] = 1.0

    def forward(self, y: torch.Tensor):
        """y (B, latent) → (ẑ straight-through, indices (B, groups), likelihoods (B, groups), commitment)."""
        if self.training and not bool(self.started):  # codewords start at members of the first batch
            with torch.no_grad():
                yg = y.detach().view(len(y), self.groups, -1)
                pick = torch.randint(len(y), (self.size,), device=y.device)
                self.codebook.copy_(yg[pick].transpose(0, 1))
                self.ema_sum.copy_(self.codebook)
                self.started.fill_(True)
        indices = self.choose(y)
        if self.training:
            self._update(y, indices)
        zq = self.codewords(indices)
        commitment = (y - zq.detach()).pow(2).sum(1).mean()
        return y + (zq - y).detach(), indices, self.likelihoods(indices), commitment

    def config(self) -> dict:
        return {"latent": self.latent, "groups": self.groups, "size": self.size, "ecvq": self.ecvq,
                "decay": self.decay}
