"""The PyTorch restorer against the committed golden file (`python -m
lora_train.restorer_golden`), which `shared/tests/restorer_parity.rs` checks burn's
restorer against; and the restorer's training pieces."""

import json
import os
import tempfile
import unittest

import numpy as np
import torch

from lora_train import restorer_golden, st
from lora_train.restore_train import HashedLora
from lora_train.restorer import Config, Pairs, Restorer, cond_of, frame_batch, keyframe_times

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", restorer_golden.PATH)


class Parity(unittest.TestCase):
    def test_forward_matches_the_golden_file(self):
        state, meta = st.read(GOLDEN)
        config = Config(**json.loads(meta["restorer"]))
        self.assertEqual(config, restorer_golden.CONFIG)
        state = {n: torch.from_numpy(v) for n, v in state.items()}
        model = Restorer(config)
        model.load_state_dict({n: v for n, v in state.items() if not n.startswith(("input.", "output."))})
        x, nb, cond, film, theta = (state[f"input.{n}"] for n in ("x", "neighbours", "cond", "film", "theta"))
        lora = json.loads(meta["lora"])
        self.assertEqual(lora, restorer_golden.LORA)
        clip = HashedLora(model, lora["k"], lora["rank"], lora["hash_seed"])
        with torch.no_grad():
            clip.theta.copy_(theta)
            for name, kw in (("y", {}), ("y_film", {"film": film}), ("y_lora", {"delta": clip()})):
                got = model(x, nb, cond, **kw)
                want = state[f"output.{name}"]
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-5, err_msg=name)
                self.assertGreater((want - x).abs().mean().item(), 0.05, "the golden output must differ from its input")
                if name != "y":
                    self.assertGreater((want - state["output.y"]).abs().mean().item(), 0.01, f"{name} must differ from the frozen model's")

    def test_the_golden_file_is_what_the_generator_writes(self):
        want, _ = st.read(GOLDEN)
        got = restorer_golden.tensors()
        self.assertEqual(sorted(want), sorted(got))
        for n in want:
            np.testing.assert_allclose(got[n], want[n], rtol=0, atol=1e-6, err_msg=n)


class Pieces(unittest.TestCase):
    def test_a_new_restorer_is_the_identity(self):
        model = Restorer(Config(width=8, depth=2))
        x = torch.rand(1, 3, 16, 16)
        self.assertTrue(torch.equal(model(x, torch.rand(1, 2, 3, 16, 16), torch.rand(1, 6)), x))

    def test_keyframe_times_match_the_sketch(self):
        # Geometry::keyframe_times: round(k (frames - 1) / (keyframes - 1)), one keyframe in the middle.
        self.assertEqual(keyframe_times(16, 8), [0, 2, 4, 6, 9, 11, 13, 15])
        self.assertEqual(keyframe_times(16, 1), [7])
        self.assertEqual(keyframe_times(8, 2), [0, 7])

    def test_the_phase_is_the_distance_to_the_nearest_keyframe(self):
        m = {"frames": 16, "keyframes": 2, "q_luma": 80, "q_chroma": 80, "cell_log2": 0, "motion": False}
        self.assertEqual(cond_of(m, 0)[-1], 0.0)
        self.assertAlmostEqual(cond_of(m, 5)[-1], 2 * 5 / 15)

    def test_pairs_read_what_sketch_pairs_writes(self):
        with tempfile.TemporaryDirectory() as d:
            src = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
            np.concatenate([src[None], (255 - src)[None]]).tofile(os.path.join(d, "a.bin"))
            with open(os.path.join(d, "index.jsonl"), "w") as f:
                f.write(json.dumps({"file": "a.bin", "frames": 2, "width": 6, "height": 4, "cell_log2": 0, "keyframes": 2, "q_luma": 8, "q_chroma": 8, "motion": True}) + "\n")
            pairs = Pairs(d)
            x, nb, cond, y = frame_batch(pairs, [(0, 1)], 1)
            self.assertEqual(tuple(x.shape), (1, 3, 4, 6))
            self.assertEqual(tuple(nb.shape), (1, 2, 3, 4, 6))
            self.assertAlmostEqual(y[0, 2, 1, 0].item(), src[1, 1, 0, 2] / 255)
            self.assertAlmostEqual(x[0, 2, 1, 0].item(), (255 - src[1, 1, 0, 2]) / 255)
            # Frame 1's neighbours: frame 0 before, frame 1 itself after (the clip ends).
            self.assertAlmostEqual(nb[0, 0, 0, 0, 0].item(), (255 - src[0, 0, 0, 0]) / 255)
            self.assertAlmostEqual(nb[0, 1, 0, 0, 0].item(), x[0, 0, 0, 0].item())


if __name__ == "__main__":
    unittest.main()


class ClipVector(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = Restorer(Config(width=8, depth=2))
        for p in self.model.parameters():
            torch.nn.init.normal_(p, std=0.1)
        self.x = torch.rand(2, 3, 8, 8)
        self.nb = torch.rand(2, 2, 3, 8, 8)
        self.c = torch.rand(2, 6)

    def test_a_zero_update_is_the_frozen_model(self):
        from lora_train.restore_train import HashedLora

        delta = HashedLora(self.model, 16)
        with torch.no_grad():
            delta.theta.zero_()
        self.assertTrue(all(d.abs().max().item() == 0 for d in delta()))
        with torch.no_grad():
            np.testing.assert_allclose(self.model(self.x, self.nb, self.c, delta=delta()).numpy(), self.model(self.x, self.nb, self.c).numpy(), atol=1e-6)

    def test_every_kind_steers_the_output_and_has_a_gradient(self):
        from lora_train.restore_train import Adapter

        for kind in ("film", "lora"):
            a = Adapter(self.model, kind, 16)
            with torch.no_grad():
                a.theta.normal_(std=0.5)
            y = self.model(self.x, self.nb, self.c, **a.kwargs(2))
            self.assertGreater((y - self.model(self.x, self.nb, self.c)).abs().max().item(), 1e-3, kind)
            y.square().mean().backward()
            self.assertGreater(a.theta.grad.abs().max().item(), 0, kind)
