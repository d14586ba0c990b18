"""Training: one loop (loop.py) and the trainers that run it, one file each: the Shannon-AE (shannon.py),
generative compression on a frozen Shannon-AE (generative.py) and the CompressAI peer (peer.py); and
export, a checkpoint frozen into shipped weights."""
