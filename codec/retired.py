"""Models ibc no longer ships: a file of one is refused with a message naming the model and the last
version of ibc that decodes it (not as corrupt data: the file is fine, this ibc just cannot read it).

The block models (a residual VQ of learned block transforms, coded by quality level) were retired in
0.2.0. Their files are told apart by the header alone, so `ibc info` still reads them: by the weights
hash of a shipped block model, or by the block layout itself (a level and no step code; format version 2
files are all block files), whatever model made them."""
from .errors import CodecError

RETIRED_IN = "0.2.0"
LAST_VERSION = "0.1.0"  # the last ibc that decodes a block model's files

# the shipped block models: name → the first 8 bytes of the weights' sha256, as the .ibc header stores it
RETIRED = {
    "shannon-rvq5": bytes.fromhex("396124450561ec9f"),
    "gc-rvq5": bytes.fromhex("46cf625e0e4978b0"),
}


def retired_model(header) -> str | None:
    """The name of the retired model that made the file of `header` (a codec.bitstream.Header), if one did."""
    for name, weights_hash in RETIRED.items():
        if header.weights_hash == weights_hash:
            return name
    return header.model if header.level else None


def check_not_retired(header) -> None:
    """CodecError (exit status 2) for a file of a retired model."""
    name = retired_model(header)
    if name is not None:
        raise CodecError(f"this file was made by {name}, a block model retired in ibc {RETIRED_IN}: ibc "
                         f"{LAST_VERSION} is the last version that decodes it (pip install 'ibc=={LAST_VERSION}')")
