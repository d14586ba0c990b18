"""Evaluation: `ibc eval` (every codec × setting × image coded for real and measured) and `ibc plot`, over
the codecs behind one `Coder` protocol: ours and the classical ones through Pillow."""
