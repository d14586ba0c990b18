"""The lab (codec.lab): each preset's loss is the paper's equation, term by term; the terms' estimators
behave as the paper needs (A its closed form, B ≈ 0 when q(z) = p(z), D moving the right way); the loop
trains, resumes exactly, and `ibc lab train / eval / plot` run end to end on generated images."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ibc.codec.lab.bib import BIBAE
from ibc.codec.lab.presets import PRESETS

from conftest import run

torch.set_num_threads(1)

# The paper's Lagrangians (the table), written here apart from the presets: which terms, with
# which signs; β is the preset's own (the paper's single β), beta_d the separate weight on D it declares.
PAPER = {
    "vae": ("AC", lambda t, p: t["A"] - t["C"]),                                      # eq. 30 (β = 1)
    "beta-vae": ("AC", lambda t, p: t["A"] - p.beta * t["C"]),                        # eq. 31
    "aae": ("BC", lambda t, p: t["B"] - p.beta * t["C"]),                             # eq. 32
    "infovae": ("ABC", lambda t, p: t["A"] - t["B"] - p.beta * t["C"]),               # eq. 33
    "vae-gan": ("ACD", lambda t, p: t["A"] - p.beta * t["C"] + p.beta_d * t["D"]),    # eq. 34, D weighted apart
    "gan": ("D", lambda t, p: t["D"]),                                                # remark after eq. 25
    "gan-c": ("CD", lambda t, p: t["D"] - p.beta * t["C"]),                           # eq. 25
    "shannon": ("HC", lambda t, p: t["H"] - p.beta * t["C"]),                         # eq. 35
    "gc": ("HCD", lambda t, p: t["H"] - p.beta * t["C"] + p.beta_d * t["D"]),         # eq. 36, D weighted apart
    "novelty": ("BCD", lambda t, p: t["B"] - p.beta * t["C"] + p.beta_d * t["D"]),    # §4.3 (weights ours)
}
ENCODER = {"vae": "gauss", "beta-vae": "gauss", "aae": "deterministic", "infovae": "gauss", "vae-gan": "gauss",
           "gan": "none", "gan-c": "none", "shannon": "vq", "gc": "vq", "novelty": "deterministic"}


def _mmd_imq(a, b, scales=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)):
    """Unbiased MMD² with IMQ kernels C/(C + ‖·‖²), C = 2·d·s, summed over s, written out pair by pair."""
    n, m, d = len(a), len(b), a.shape[1]
    total = 0.0
    for s in scales:
        c = 2.0 * d * s
        k = lambda u, v: c / (c + ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1))  # noqa: E731
        kaa, kbb = k(a, a), k(b, b)
        total = total + (kaa.sum() - kaa.trace()) / (n * (n - 1)) + (kbb.sum() - kbb.trace()) / (m * (m - 1)) \
            - 2 * k(a, b).mean()
    return total


def _independent_terms(net: BIBAE, s) -> dict:
    """Each term the preset names, recomputed from the pass's intermediates without models.losses."""
    p, t = net.preset, {}
    if p.uses("A"):
        q = torch.distributions.Normal(s.mu, torch.exp(0.5 * s.logvar))
        t["A"] = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
    if p.uses("B"):
        t["B"] = _mmd_imq(s.z, s.z_prior) if p.b_estimator == "mmd" else torch.log1p(torch.exp(net.disc_z(s.z))).mean()
    if p.uses("C"):
        err = (s.x - s.x_hat).abs() if p.likelihood == "laplace" else (s.x - s.x_hat) ** 2
        t["C"] = -p.lmbda * err.flatten(1).sum(1).mean()
    if p.uses("D"):
        fake = {"reconstructions": lambda: s.x_hat, "samples": lambda: s.x_sample,
                "both": lambda: torch.cat([s.x_hat, s.x_sample])}[p.d_fake]()
        t["D"] = torch.log1p(torch.exp(-net.disc_x(fake))).mean()
    if p.uses("H"):
        prob = torch.softmax(net.vq.prior_logits, -1)
        t["H"] = -torch.log2(torch.stack([prob[g, s.indices[:, g]] for g in range(net.vq.groups)], 1)).sum(1).mean()
    return t


def _check_pass(net: BIBAE, s) -> None:
    """The pass is wired as the preset says: what the decoder saw, the quantiser's choice, the samples."""
    p = net.preset
    dec_in = s.z if s.u is None else torch.cat([s.z, s.u], 1)
    assert torch.allclose(net.decoder(dec_in), s.x_hat, atol=1e-6)
    assert (s.u is not None) == (p.noise > 0)
    if p.encoder == "gauss":
        mu, logvar = net.encoder(s.x)
        assert torch.allclose(mu, s.mu) and torch.allclose(logvar, s.logvar)
    elif p.encoder == "deterministic":
        assert torch.allclose(net.encoder(s.x), s.z)
    elif p.encoder == "vq":
        y = net.encoder(s.x).view(len(s.x), net.vq.groups, -1)
        cost = ((y[:, :, None] - net.vq.codebook[None]) ** 2).sum(-1) - p.ecvq * F.log_softmax(net.vq.prior_logits, -1) / math.log(2)
        assert torch.equal(cost.argmin(-1), s.indices)
        want = torch.stack([net.vq.codebook[g, s.indices[:, g]] for g in range(net.vq.groups)], 1).flatten(1)
        assert torch.allclose(s.z, want, atol=1e-6)  # ẑ's value is the codeword (straight-through)
    if p.uses("D") and p.d_fake != "reconstructions":
        dec_in = s.z_prior if s.u_sample is None else torch.cat([s.z_prior, s.u_sample], 1)
        assert torch.allclose(net.decoder(dec_in), s.x_sample, atol=1e-6)


@pytest.mark.parametrize("name", list(PAPER))
def test_preset_loss_is_the_papers_equation(name):
    """On a tiny batch with fixed weights, L equals the paper's equation: exactly its terms, its signs and
    its weights, each term computed here independently."""
    p = PRESETS[name]
    terms, equation = PAPER[name]
    assert set(p.weights) == set(terms), f"{name} optimises {sorted(p.weights)}, the paper {sorted(terms)}"
    assert p.encoder == ENCODER[name]
    if name == "vae":
        assert p.beta == 1.0
    torch.manual_seed(0)
    net = BIBAE(p, latent=8, width=4).eval()
    x = torch.rand(5, 3, 32, 32)
    torch.manual_seed(1)
    s = net(x)
    L, lab_terms = net.lagrangian(s)
    _check_pass(net, s)
    mine = _independent_terms(net, s)
    assert set(lab_terms) == set(mine)
    for k in mine:
        assert torch.allclose(lab_terms[k], mine[k], rtol=1e-5, atol=1e-5), k
    assert torch.allclose(L, equation(mine, p), rtol=1e-5, atol=1e-4)


def test_every_preset_of_the_table_is_tested_and_listed(capsys):
    assert set(PAPER) == set(PRESETS)
    with pytest.raises(SystemExit):
        run("lab", "train", "--help")
    out = capsys.readouterr().out
    for p in PRESETS.values():
        assert p.name in out and p.equation in out and p.formula in out


def test_term_a_is_its_closed_form():
    from ibc.models.losses import term_a
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * torch.randn(200_000, 3, 4)
    log_q = torch.distributions.Normal(mu, sigma).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    monte_carlo = (log_q - log_p).mean(0).mean()
    closed = (0.5 * (mu ** 2 + sigma ** 2 - 1 - logvar)).sum(1).mean()
    assert torch.allclose(term_a(mu, logvar), closed, rtol=1e-6)
    assert abs(float(term_a(mu, logvar)) - float(monte_carlo)) < 0.02 * float(closed)
    assert float(term_a(torch.zeros(2, 4), torch.zeros(2, 4))) == 0.0  # q = p: no information


def test_term_b_is_about_zero_when_q_is_p():
    """B by MMD and by the latent discriminator's density ratio: ≈ 0 when q(z) = p(z), clearly more when not."""
    from ibc.models.lab import LatentDiscriminator
    from ibc.models.losses import kl_of_ratio, ratio_loss, term_b_mmd
    g = torch.Generator().manual_seed(0)
    p = lambda n: torch.randn(n, 4, generator=g)  # noqa: E731
    same = np.mean([float(term_b_mmd(p(400), p(400))) for _ in range(10)])  # unbiased: its std is ~0.005
    assert abs(same) < 0.005
    assert float(term_b_mmd(p(400) + 0.5, p(400))) > 0.1 and float(term_b_mmd(p(400) + 1.0, p(400))) > 0.5

    def ratio_estimate(shift: float) -> float:
        torch.manual_seed(0)
        disc = LatentDiscriminator(4, 64)
        opt = torch.optim.Adam(disc.parameters(), lr=2e-3)
        for _ in range(300):
            loss = ratio_loss(disc(p(256) + shift), disc(p(256)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return float(kl_of_ratio(disc(p(4000) + shift)))

    same, shifted = ratio_estimate(0.0), ratio_estimate(1.0)  # KL(N(1, I) ‖ N(0, I)) = 4/2 = 2 nats
    assert abs(same) < 0.1
    assert 1.2 < shifted < 3.0


@pytest.mark.parametrize("form", ["ratio", "wasserstein"])
def test_term_d_moves_the_right_way(form):
    """D's estimator, trained on data against decoded images: larger the farther p_θ is from p_D, and its
    generator side, descended, moves p_θ towards p_D."""
    from ibc.models.lab import ImageDiscriminator
    from ibc.models.losses import kl_of_ratio, ratio_loss, term_d, term_d_wasserstein
    g = torch.Generator().manual_seed(0)

    def data(n):  # bright patches with a little texture
        return (0.7 + 0.05 * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 1)

    def fake(n, level):
        return (level + 0.05 * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 1)

    def trained(level):
        torch.manual_seed(0)
        disc = ImageDiscriminator(4)
        opt = torch.optim.Adam(disc.parameters(), lr=1e-3)
        for _ in range(60):
            r_real, r_fake = disc(data(16)), disc(fake(16, level))
            loss = ratio_loss(r_real, r_fake) if form == "ratio" else -term_d_wasserstein(r_real, r_fake) \
                + 0.1 * (r_real.pow(2).mean() + r_fake.pow(2).mean())  # a bounded critic
            opt.zero_grad()
            loss.backward()
            opt.step()
        return disc

    def estimate(disc, level):
        with torch.no_grad():
            real, fk = disc(data(64)), disc(fake(64, level))
            return float(kl_of_ratio(real)) if form == "ratio" else float(term_d_wasserstein(real, fk))

    near, far = trained(0.6), trained(0.2)
    assert estimate(far, 0.2) > estimate(near, 0.6) > 0
    level = torch.tensor(0.3, requires_grad=True)  # the generator: the fake's brightness
    x = (level + 0.05 * torch.randn(16, 3, 32, 32, generator=g)).clamp(0, 1)
    r = far(x)
    (term_d(r) if form == "ratio" else -r.mean()).backward()
    assert level.grad < 0  # descending D raises the fake's brightness towards the data's 0.7


def test_vq_rate_is_minus_log2_of_the_indices_probabilities():
    from ibc.models.lab import VectorQuantizer
    from ibc.models.losses import rate_bits
    torch.manual_seed(0)
    vq = VectorQuantizer(latent=8, groups=4, size=16).eval()
    with torch.no_grad():
        vq.prior_logits.copy_(torch.randn(4, 16))
    _, idx, lik, _ = vq(torch.randn(6, 8))
    logp = F.log_softmax(vq.prior_logits, -1)
    want = -sum(logp[g, idx[:, g]] for g in range(4)) / math.log(2)
    assert torch.allclose(rate_bits(lik), want.mean(), rtol=1e-6)
    with torch.no_grad():
        vq.prior_logits.zero_()  # a uniform prior: exactly groups·log2(size) bits
        assert abs(float(rate_bits(vq(torch.randn(6, 8))[2])) - 4 * 4.0) < 1e-5


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from ibc.codec.lab.data import write_folder
    return write_folder(tmp_path_factory.mktemp("lab-photos"), n=12, side=80)


def _train(folder, out, preset, steps, pool):
    return run("lab", "train", folder, "--preset", preset, "--out", out, "--pool", pool, "--steps", steps,
               "--val-every", 3, "--width", 4, "--latent", 8, "--batch", 8)


def test_training_resumes_exactly(folder, tmp_path):
    """Six steps straight, or three and three more from the checkpoint: the same weights (gc: the VQ, the
    discriminator, U and R1 all in play)."""
    pool = tmp_path / "pool"
    assert _train(folder, tmp_path / "a", "gc", 6, pool) == 0
    assert _train(folder, tmp_path / "b", "gc", 3, pool) == 0
    assert _train(folder, tmp_path / "b", "gc", 6, pool) == 0
    a, b = (torch.load(tmp_path / r / "checkpoint.pt", weights_only=False) for r in "ab")
    assert a["step"] == b["step"] == 6
    for k in a["net"]:
        assert torch.equal(a["net"][k], b["net"][k]), k
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)


def test_train_eval_plot_end_to_end(folder, tmp_path, monkeypatch, capsys):
    import json
    from ibc.codec.lab import evaluate
    monkeypatch.setattr(evaluate, "C2ST_STEPS", 5)
    monkeypatch.setattr(evaluate, "NOVELTY", 8)
    pool = tmp_path / "pool"
    for preset in ("vae", "gan", "shannon", "novelty"):
        assert _train(folder, tmp_path / preset, preset, 2, pool) == 0
    out = tmp_path / "lab" / "results.json"
    assert run("lab", "eval", *(tmp_path / p for p in ("vae", "gan", "shannon", "novelty")), "-o", out) == 0
    report = json.loads(out.read_text())["presets"]
    assert report["gan"]["rate_bits"] == 0.0 and report["novelty"]["rate_bits"] is None
    assert 0 < report["shannon"]["rate_bits"] <= report["shannon"]["bits_bound"]
    assert report["vae"]["rate_bits"] > 0 and "latent_mmd" in report["vae"]
    assert set(report["novelty"]["novelty"]["auroc"]) == {"D", "C", "z"}
    for row in report.values():
        assert 0 <= row["c2st"]["accuracy"] <= 1 and np.isfinite(row["psnr"])
    assert run("lab", "plot", out) == 0
    for name in ("plane.png", "grid.png", "results.md"):
        assert (out.parent / name).stat().st_size > 0
    assert "| novelty |" in (out.parent / "results.md").read_text()


def test_auroc():
    from ibc.codec.lab.evaluate import auroc
    assert auroc([2, 3], [0, 1]) == 1.0 and auroc([0, 1], [2, 3]) == 0.0 and auroc([1, 1], [1, 1]) == 0.5


def test_a_run_may_change_a_preset_field():
    from ibc.codec.lab.presets import PRESETS
    beta = PRESETS["beta-vae"].replaced({"beta": "0.5"})
    assert beta.weights == {"A": 1.0, "C": -0.5} and PRESETS["beta-vae"].beta == 0.25
    assert PRESETS["gc"].replaced({"beta_d": "none"}).weights["D"] == 1.0  # D back on the paper's single β
    with pytest.raises(ValueError):
        PRESETS["vae"].replaced({"betta": "1"})
