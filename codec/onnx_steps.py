"""The lifting levels of an exported wavelet model on ONNX Runtime: one graph per level and direction,
(1,3,h,w) float64 in and out, run on one thread with the graph optimiser off. The linear lifting steps
(all of the shipped model) are then the same chain of IEEE operations as in torch, so coefficients,
files and pixels agree to the bit. Learned corrections run as float32 convolutions (ONNX Runtime has no
float64 one), which sum in another order than torch's: coefficients agree to float32 precision there,
a near-tie may then pick another index, and files still decode with either backend (the tables are
integers)."""
from pathlib import Path

import numpy as np


class OnnxSteps:
    """`codec.lifting.LevelSteps` on the graphs `analysis-{level}.onnx` / `synthesis-{level}.onnx` of a
    coding bundle (levels numbered from 1, the finest); sessions open on first use."""

    def __init__(self, folder: Path):
        import onnxruntime as ort
        self.folder, self._ort, self._sessions = Path(folder), ort, {}
        self.options = ort.SessionOptions()
        self.options.intra_op_num_threads = 1  # one summation order whatever the machine
        self.options.inter_op_num_threads = 1
        self.options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # no fused kernels
        self.options.log_severity_level = 3

    def _run(self, kind: str, level: int, x: np.ndarray) -> np.ndarray:
        key = (kind, level)
        if key not in self._sessions:
            path = self.folder / f"{kind}-{level + 1}.onnx"
            self._sessions[key] = self._ort.InferenceSession(str(path), self.options,
                                                             providers=["CPUExecutionProvider"])
        return self._sessions[key].run(None, {"x": np.ascontiguousarray(x, np.float64)[None]})[0][0]

    def analysis_2d(self, x: np.ndarray, level: int) -> np.ndarray:
        return self._run("analysis", level, x)

    def synthesis_2d(self, y: np.ndarray, level: int) -> np.ndarray:
        return self._run("synthesis", level, y)
