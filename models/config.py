"""The architecture of a model, saved in every checkpoint so that `CodecModel(config)` rebuilds it."""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    block: int = 8              # pixel-unshuffle factor: one latent position per block×block pixels
    hidden: int = 128           # width of the residual CNN branches at latent resolution
    refine: int = 16            # width of the full-resolution refinement branch of the decoder
    group_dim: int = 4          # D: channels quantized together by one codeword
    codebook_size: int = 64     # K: codewords per codebook
    stages: int = 5             # S: residual VQ stages; quality level L sends stages 1..L
    ctx_buckets: int = 16       # neighbour-activity contexts for checkerboard non-anchors at stage 1
    mode: str = "shannon"       # the Lagrangian: "shannon" (eq. 35) or "gc" (eq. 36, adds a randomized decoder)
    noise_channels: int = 0     # gc: channels of the decoder noise u at latent resolution
    pixel_noise: int = 0        # gc: channels of the decoder noise u at full resolution
    texture: int = 0            # gc: width of the randomized decoder's full-resolution texture branch
    gc_levels: int = 0          # gc: the randomized decoder is trained for quality levels 1..gc_levels

    @property
    def channels(self) -> int:
        """C: latent channels, one per pixel of an RGB block (an orthogonal block transform)."""
        return 3 * self.block * self.block

    @property
    def groups(self) -> int:
        """G: codeword groups per latent position."""
        return self.channels // self.group_dim

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = cls.__dataclass_fields__
        unknown = set(d) - set(known)
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**d)

    def __post_init__(self):
        if self.channels % self.group_dim:
            raise ValueError("group_dim must divide 3*block*block")
        if not 1 <= self.ctx_buckets < self.codebook_size:
            raise ValueError("ctx_buckets must lie in [1, codebook_size)")
        gc = (self.noise_channels, self.pixel_noise, self.texture, self.gc_levels)
        if self.mode == "shannon" and any(gc):
            raise ValueError("noise, texture and gc_levels belong to mode 'gc'")
        if self.mode == "gc" and not (min(gc) > 0 and self.gc_levels <= self.stages):
            raise ValueError("mode 'gc' needs noise channels, a texture width and 1 <= gc_levels <= stages")
        if self.mode not in ("shannon", "gc"):
            raise ValueError(f"unknown mode {self.mode!r}")
