"""A model as the coding core holds it, whatever backend loaded it (codec.weights chooses)."""
import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import CodecError
from .step_code import UNIFORM

FORMAT = "ibc-weights-1"  # the .pt files' format tag


@dataclass(frozen=True)
class LoadedModel:
    """A wavelet (Shannon-AE v2) model, or a gc model: its base's coder with a randomized decoder."""
    name: str
    sha256: str
    model: object         # torch backend: the WaveletCodec (codec.training), frozen, eval mode; onnx: None
    meta: dict            # how it was made (name, training run)
    coder: object         # the numpy coding engine (codec.engine.WaveletCoder)
    backend: str = "torch"
    noise: object = None  # a gc model: its randomized decoder (codec.noise_fill.NoiseFill)
    postfilter: object = None  # the decoder post-filter (codec.postfilter), if the model ships one
    head: object = None  # a gc model's trained generative head (codec.generative_head), if it has one
    tunes: dict | None = None  # tune name → step weight codes (codec.tune), beyond "psnr" (uniform)
    tune_filters: dict | None = None  # tune name → its post-filter (codec.postfilter), beyond "psnr" (`postfilter`)

    def step_weights(self, tune: str = "psnr") -> tuple:
        """The step weight codes (codec.step_code) an encoder of this model writes for `tune`."""
        if tune == "psnr":
            return UNIFORM
        if self.mode == "gc":
            raise CodecError(f"the generative decoder of {self.name} is trained on the psnr tune's files: "
                             "--tune psnr only")
        if tune not in (self.tunes or {}):
            have = ", ".join(["psnr", *sorted(self.tunes or {})])
            raise CodecError(f"model {self.name} has no {tune} tune (it has: {have}; `ibc train PHOTOS --base "
                             f"{self.name} --name {self.name}` fits the others)")
        return tuple(self.tunes[tune])

    def filter_of(self, tune: str = "psnr") -> str:
        """The post-filter an encoder of this model names in a file of `tune` (codec.bitstream): the tune's
        own when the model has one, else the model's ("psnr")."""
        return tune if tune in (self.tune_filters or {}) else "psnr"

    def postfilter_for(self, name: str = "psnr"):
        """The post-filter that renders a file naming `name`: the tune's, or the model's own when it has
        none (a file tuned with a filter fitted elsewhere: its indices decode the same, its pixels through
        the model's filter)."""
        return (self.tune_filters or {}).get(name, self.postfilter)

    @property
    def mode(self) -> str:
        """"shannon", or "gc" for a generative model."""
        return "gc" if self.noise is not None else "shannon"

    @property
    def weights_hash(self) -> bytes:
        """What the .ibc header stores: the first 8 bytes of the weights file's sha256."""
        return bytes.fromhex(self.sha256[:16])

    @property
    def base_hash(self) -> bytes | None:
        """For a generative (gc) model, the header hash of the Shannon-AE weights whose files it also reads."""
        base = self.meta.get("base", {}).get("sha256")
        return bytes.fromhex(base[:16]) if base else None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def find_beside(weights: Path, name: str, elsewhere: Path | None = None) -> Path | None:
    """The file `name` (a path relative to the weights' folder) beside the weights, else in the folder
    `elsewhere` (the user model directory: what a user fitted for a shipped model); None if neither has it."""
    for folder in (Path(weights).parent, *([Path(elsewhere)] if elsewhere is not None else [])):
        if (folder / name).is_file():
            return folder / name
    return None

