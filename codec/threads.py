"""One thread for the float parts of coding: a multi-threaded kernel may sum in another order and move a
value by one unit in the last place, which must not reach indices, files or pixels. ONNX Runtime
sessions are made single-threaded (codec.onnx_steps); torch, if the process has loaded it, is pinned
here. This module never imports torch itself."""
import sys
from contextlib import contextmanager


@contextmanager
def one_thread():
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
