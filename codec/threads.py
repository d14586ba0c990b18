"""One torch thread for the float parts of coding: a multi-threaded kernel may sum in another order and
move a value by one unit in the last place, which must not reach indices, files or pixels."""
from contextlib import contextmanager

import torch


@contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
