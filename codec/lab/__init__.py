"""The lab (`ibc lab`): the paper's family of auto-encoders (eq. 26–36) as presets of one loss, trained on
32×32 patches on the codec's loop skeleton and measured on one rate–distortion–perception plane.

presets.py (the family as data) → bib.py (one network and its Lagrangian, models.lab and models.losses) →
train.py (the loop, codec.training.pool_loop) → evaluate.py (rate, distortion, perception, novelty AUROC)
→ plot.py (the plane, the grid, the table). Torch here and in training only, never on the coding path."""
