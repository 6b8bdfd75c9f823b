"""The PyTorch mirror against the committed golden file (`python -m lora_train.golden`),
which `shared/tests/parity.rs` checks burn's denoiser against."""

import os
import unittest

import numpy as np
import torch

from lora_train import golden, package, st
from lora_train.model import Denoiser

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", golden.PATH)


def load():
    config, state, _ = package.read(GOLDEN)
    model = Denoiser(config)
    model.load_state_dict({n: v for n, v in state.items() if not n.startswith(("input.", "output."))})
    return config, model, state


class Parity(unittest.TestCase):
    def test_forward_matches_the_golden_file(self):
        config, model, state = load()
        self.assertEqual(config, golden.CONFIG)
        x, t, cond = (state[f"input.{n}"] for n in ("x", "t", "cond"))
        with torch.no_grad():
            for name, c in (("v", None), ("v_cond", cond)):
                got = model(x, t, c).numpy()
                want = state[f"output.{name}"].numpy()
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-4, err_msg=name)
                self.assertGreater(np.abs(want).mean(), 0.1, "a golden output must not be trivial")

    def test_the_golden_file_is_what_the_generator_writes(self):
        want, _ = st.read(GOLDEN)
        got = golden.tensors()
        self.assertEqual(sorted(want), sorted(got))
        for n in want:
            np.testing.assert_allclose(got[n], want[n], rtol=0, atol=1e-6, err_msg=n)

    def test_no_sketch_is_zeros(self):
        config, model, state = load()
        x, t = state["input.x"], state["input.t"]
        zeros = torch.zeros(*x.shape[:2], config.cond_channels, *x.shape[3:])
        with torch.no_grad():
            self.assertTrue(torch.equal(model(x, t), model(x, t, zeros)))


if __name__ == "__main__":
    unittest.main()
