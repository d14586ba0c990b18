"""A wavelet model's quantiser step ⇄ the header's u16 step code ⇄ the quality q of `ibc compress -q`.

Plain Python, so that `ibc info` shows q without loading torch."""
import math

from .errors import CodecError

STEP_SCALE = 64  # step = 2^(code / STEP_SCALE) / 4


def step_from_code(code: int) -> float:
    return 2.0 ** (code / STEP_SCALE) / 4


def code_from_step(step: float) -> int:
    return int(round(STEP_SCALE * math.log2(4 * step)))


# q 0 … 100 is log-linear in the step: q 0 ↔ step 400 (≈ 0.04 bpp on photos), q 100 ↔ step 8 (≈ 3 bpp),
# 3.6 step codes per unit of q; q 50 (step 57) is about 0.5 bpp.
CODE_AT_Q0, CODE_AT_Q100 = code_from_step(400.0), code_from_step(8.0)
# `--size`/`--target-bpp` search these codes: step 1 (≈ 7 bpp) … step 1000. No encoder writes others,
# so a file with a code outside them is corrupt.
FINEST_CODE, COARSEST_CODE = code_from_step(1.0), code_from_step(1000.0)


def code_of_quality(q: float) -> int:
    """q in [0, 100] → the header's step code."""
    if not 0 <= q <= 100:
        raise CodecError(f"quality must lie in 0..100 for a wavelet model (got {q:g})")
    return round(CODE_AT_Q0 + (CODE_AT_Q100 - CODE_AT_Q0) * q / 100)


def quality_of_code(code: int) -> float:
    """The step code → q (outside 0..100 for steps a rate search chose beyond the q range)."""
    # + 0.0: at q 0 the quotient is -0.0 (a zero over a negative span), which labels would print as "q -0"
    return round(100 * (code - CODE_AT_Q0) / (CODE_AT_Q100 - CODE_AT_Q0), 1) + 0.0


# Step weights (format version 4): the step of each band is step / w, w = 2^((code − WEIGHT_UNITY) / WEIGHT_SCALE),
# one u8 code per level: LL, then level 5 (coarsest details) … level 1 (finest). w > 1 is a finer step. The
# encoder chooses them (`--tune`, from the model's tuned table) and the header carries them, so a decoder
# applies what it reads. Uniform weights are today's single step.
WEIGHT_UNITY, WEIGHT_SCALE = 128, 64   # codes 0 … 255: w 0.25 … 3.96, in steps of 1.1 %
N_WEIGHTS = 6                          # LL and the 5 detail levels
UNIFORM = (WEIGHT_UNITY,) * N_WEIGHTS


def weight_from_code(code: int) -> float:
    return 2.0 ** ((code - WEIGHT_UNITY) / WEIGHT_SCALE)


def level_weight(codes: tuple, level: int, ll: bool = False) -> float:
    """The weight of a band: `codes` (N_WEIGHTS u8), the band's level 1 … 5, `ll` for the low-pass band."""
    return weight_from_code(codes[0] if ll else codes[N_WEIGHTS - level])
