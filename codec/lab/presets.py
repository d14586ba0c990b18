"""The paper's family of auto-encoders as data: which of the four terms (and H(Ẑ)), with which signs and
weights, and which encoder. One loss (codec.lab.bib.lagrangian) reads a preset; there is no class per model.

    L = Σ_t weights[t] · t,   t ∈ {A, B, C, D, H}            (eq. 26: L = A − B − β·C + β·D; H = H(Ẑ))
    weights: A +1, B ±1 (b_sign), C −β, D +β (or +β_D where the preset weighs D apart), H(Ẑ) +1

Units: every term per sample (a 32×32 patch), summed over its dimensions, averaged over the batch; A and B
in nats, H(Ẑ) in bits; C = E[log p(x|z)] without its constant, −λ‖x − x̂‖₁ (Laplacian, the paper's choice)
with pixels in [0, 1]. The paper's β multiplies C (and D): a larger β keeps more of x (Higgins' β-VAE
weight on the KL is 1/β). Because C sums 3072 pixel errors while B and D are single divergences of a
whole batch's distributions, a term that should matter beside C needs a weight far from the paper's
single β; each preset says where it departs (`departures`), and `weights` is exactly what is optimised.
`ibc lab train --set beta=0.1` changes a field for one run; the run's checkpoint keeps the preset it used.
"""
from dataclasses import dataclass

LMBDA = 20.0   # the Laplacian's λ = 1/b: b = 0.05, about 13 grey levels, near the errors the models make
TERMS = ("A", "B", "C", "D", "H")
ENCODERS = ("gauss", "deterministic", "vq", "none")


@dataclass(frozen=True)
class Preset:
    name: str
    system: str                   # the paper's name for it
    equation: str                 # where the paper writes it
    terms: str                    # which terms L has, e.g. "AC" (VAE) or "HCD" (generative compression)
    encoder: str                  # gauss: q(z|x) = N(μ, σ²); deterministic: z = f(x); vq: ẑ = Q(f(x)); none: z ~ p(z)
    beta: float = 1.0             # the paper's β, on C (and on D unless beta_d)
    beta_d: float | None = None   # D's own weight where the preset departs from the single β (None: β)
    b_sign: float = 1.0           # B's sign: −1 in eq. 26 and InfoVAE (33), +1 where B is a regulariser (AAE, §4.3)
    b_estimator: str | None = None  # (B) by "mmd" (IMQ kernels, WAE) or "ratio" (a latent discriminator, AAE)
    d_form: str = "ratio"         # (D) by a density-ratio discriminator (with R1) or "wasserstein" (a critic, with GP)
    r1_gamma: float = 0.1         # the density-ratio discriminator's R1 weight γ (γ/2·E‖∇ₓr‖², x in [0, 1]); at 1
                                  # the GAN's samples came out smoother, with grid artefacts
    d_fake: str = "reconstructions"  # p_θ(x)'s side of D: "reconstructions" g(z), z ~ q(z|x); "samples" g(z),
                                     # z ~ p(z); "both" (VAE/GAN, the paper's footnote 8)
    likelihood: str = "laplace"   # C's likelihood: laplace (λ‖·‖₁) or gauss (λ‖·‖²)
    lmbda: float = LMBDA
    noise: int = 0                # dimensions of U fed to the decoder beside ẑ (eq. 36: the decoder sees ẑ + U)
    vq_dims: int = 2              # the VQ presets' product quantiser: latent/vq_dims groups of vq_dims dimensions,
    vq_size: int = 64             # each one of vq_size codewords: (latent/vq_dims)·log2(vq_size) bits at most
    ecvq: float = 0.0             # weight of −log2 P(k) in the quantiser's choice (0: nearest codeword)
    commitment: float = 0.0       # the VQ's commitment weight: outside the Lagrangian, reported apart
    decoder_norm: bool = True     # batch normalisation in the decoder (DCGAN's generator: without it the GAN
                                  # fell to a few blurred patch types in 2500 steps), in every preset alike
    steps: int = 5000             # the training length `make lab` gives it: about 3–4 minutes of one core
    shows: str = ""               # what the preset is there to show
    departures: str = ""          # where it departs from the paper, or what the paper leaves open

    def __post_init__(self):
        checks = [(set(self.terms) <= set(TERMS), f"terms {self.terms!r} (of {''.join(TERMS)})"),
                  (self.encoder in ENCODERS, f"encoder {self.encoder!r} (one of {', '.join(ENCODERS)})"),
                  (not self.uses("B") or self.b_estimator in ("mmd", "ratio"), "B needs b_estimator mmd or ratio"),
                  (not self.uses("A") or self.encoder == "gauss", "A needs the gauss encoder"),
                  (not self.uses("H") or self.encoder == "vq", "H(Ẑ) needs the vq encoder"),
                  (self.d_form in ("ratio", "wasserstein"), f"d_form {self.d_form!r} (ratio or wasserstein)"),
                  (self.d_fake in ("reconstructions", "samples", "both"), f"d_fake {self.d_fake!r}"),
                  (self.likelihood in ("laplace", "gauss"), f"likelihood {self.likelihood!r} (laplace or gauss)")]
        bad = [what for ok, what in checks if not ok]
        if bad:
            raise ValueError(f"preset {self.name}: " + "; ".join(bad))

    @property
    def weights(self) -> dict:
        """term → its coefficient in L (signs included); the terms the preset lacks are absent."""
        w = {"A": 1.0, "B": self.b_sign, "C": -self.beta, "D": self.beta if self.beta_d is None else self.beta_d,
             "H": 1.0}
        return {t: w[t] for t in TERMS if t in self.terms}

    def uses(self, term: str) -> bool:
        return term in self.terms

    @property
    def formula(self) -> str:
        """The optimised L with its numbers, in the paper's order, e.g. 'A − 0.25·C' (β-VAE)."""
        parts = []
        for t in ("H", "A", "B", "C", "D"):
            if t in self.weights:
                w = self.weights[t]
                mag = abs(w)
                parts.append(f"{'−' if w < 0 else '+'} {'' if mag == 1 else f'{mag:g}·'}{'H(Ẑ)' if t == 'H' else t}")
        s = " ".join(parts)
        return s[2:] if s.startswith("+ ") else "−" + s[2:]

    def replaced(self, settings: dict) -> "Preset":
        """A copy with some fields changed, from strings ("beta": "0.1"), each typed as its default."""
        from dataclasses import fields, replace
        kinds = {f.name: f for f in fields(self)}
        out = {}
        for key, text in settings.items():
            if key not in kinds or key == "name":
                raise ValueError(f"no preset field {key!r} (one of {', '.join(k for k in kinds if k != 'name')})")
            current = getattr(self, key)
            if text.lower() == "none":
                out[key] = None
            elif isinstance(current, bool):
                out[key] = text.lower() in ("1", "true", "yes")
            elif isinstance(current, int):
                out[key] = int(text)
            elif isinstance(current, float) or current is None:
                out[key] = float(text)
            else:
                out[key] = text
        return replace(self, **out)


PRESETS = {p.name: p for p in (
    Preset("vae", "VAE", "eq. 30", "AC", "gauss", steps=7000,
           shows="blur: a Gaussian q(z|x) held near p(z) by A keeps few nats of each patch, so g(z) averages",
           departures="none: A − C (β = 1)"),
    Preset("beta-vae", "β-VAE", "eq. 31", "AC", "gauss", beta=0.25, steps=7000,
           shows="a lower rate than the VAE and more blur (β = 0.25 weighs A 4×: Higgins' β = 4)",
           departures="none: A − β·C, β = 0.25"),
    Preset("aae", "AAE (deterministic encoder)", "eq. 32", "BC", "deterministic", beta=0.002, b_estimator="ratio",
           steps=6000,
           shows="q(z) matched to p(z) = N(0, I) by a latent discriminator, so samples of p(z) decode to patches",
           departures="β = 0.002: B is one divergence per batch, C sums 3072 pixel errors; only the encoder feels "
                      "the balance (Adam scales the decoder's step). B's value: the plug-in E_q[r]; the encoder "
                      "descends E_q[softplus(r)]"),
    Preset("infovae", "InfoVAE", "eq. 33", "ABC", "gauss", b_sign=-1.0, b_estimator="mmd", steps=6000,
           shows="A − B: the encoder may lower I(X;Z) by moving q(z) off p(z), which the VAE may not",
           departures="the paper's sign, −B (A − B = I(X;Z) ≥ 0), where the original InfoVAE adds +λ·MMD (the "
                      "paper's footnote 7); B by MMD, bounded, so −B cannot run away"),
    Preset("vae-gan", "VAE/GAN", "eq. 34", "ACD", "gauss", beta_d=1000.0, d_fake="both", steps=2800,
           shows="sharper reconstructions and samples than the VAE near its rate",
           departures="D weighted 1000, not β = 1: C sums 3072 pixel errors, so β·D would not move the decoder; "
                      "D's fake side is reconstructions and prior samples (the paper's footnote 8)"),
    Preset("gan", "GAN", "remark after eq. 25", "D", "none", d_fake="samples", steps=5000,
           shows="sharp samples and no reconstruction: rate 0, the distortion of an independent sample",
           departures="none: D alone, the generator fed z ~ N(0, I)"),
    Preset("gan-c", "GAN with the likelihood", "eq. 25", "CD", "none", beta=0.001, beta_d=1.0, d_fake="samples",
           steps=5000,
           shows="C with z independent of x pulls every sample towards the data's median patch: mode collapse's "
                 "regulariser, at the price of contrast",
           departures="eq. 25's λ‖x − g(z)‖₁ weighted β = 0.001 beside D at 1 (at β = 1 it is the median patch)"),
    Preset("shannon", "Shannon-AE (deterministic encoder, VQ)", "eq. 35", "HC", "vq", ecvq=0.02, commitment=0.25,
           steps=7000,
           shows="rate–distortion: tens of bits a patch, and the blur of any L1 decoder",
           departures="the rate reaches the encoder only through the ECVQ choice (weight 0.02); the VQ's "
                      "commitment 0.25·‖y − sg(ẑ)‖² is optimised beside L, not in it"),
    Preset("gc", "generative compression", "eq. 36", "HCD", "vq", beta_d=1000.0, noise=16, ecvq=0.02,
           commitment=0.25, steps=4000,
           shows="at the Shannon-AE's rate, lower PSNR but sharper, more realistic reconstructions",
           departures="D weighted 1000, not β = 1 (HiFiC weighs D apart too); U: 16 noise dimensions beside ẑ "
                      "(ẑ + U with U orthogonal to the codewords); ECVQ and commitment as the Shannon-AE"),
    Preset("novelty", "novelty detection (after Pidhorskyi et al. 2018)", "§4.3", "BCD", "deterministic",
           beta=0.002, beta_d=1.0, b_estimator="ratio", d_fake="samples", steps=2500,
           shows="the image discriminator's −r(x) as a novelty score: photos against noise, renders and text",
           departures="the paper gives no weights: B +1 (latent discriminator), β = 0.002 on C (as the AAE), D 1 "
                      "(fake side: samples of p(z), as GPND); the score's sign (low r(x): novel) fixed in advance"),
)}
