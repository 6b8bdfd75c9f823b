"""The trainer on a small synthetic latent cache: resume is exact, two gloo processes
(torchrun) compute what one process computes, the export is a denoiser file, and a warm
start from a model without a sketch input begins as that model."""

import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from lora_train import package, st
from lora_train.model import CONFIGS, Denoiser, positions
from lora_train.train import bridge_noise, clean_gradients

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# Two gloo processes reduce gradients in another order than one process sums them.
DDP_TOLERANCE = 1e-5


def cache(path, n=12, frames=3, size=4):
    g = np.random.default_rng(5)
    clips = lambda k: (g.standard_normal((k, frames, 32, size, size)) * 0.8 + 0.1).astype(np.float16)
    sketches = lambda k: (g.standard_normal((k, 2, 2, 32, size, size)) * 0.5).astype(np.float16)
    st.write(path, {"train": clips(n), "dev": clips(2), "train_sketches": sketches(n), "dev_sketches": sketches(2)})


def train(data, out, *args, procs=1):
    cmd = ["-m", "lora_train.train", "--data", data, "--out", out, "--config", "tiny-sketch", "--device", "cpu", "--quiet", "--lr", "1e-3", "--time-flip", *args]
    if procs > 1:
        cmd = ["-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_port", "29517", *cmd]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, check=True)
    return torch.load(os.path.join(out, "checkpoint.pt"), weights_only=False)


class Train(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.dir.name, "cache.safetensors")
        cache(cls.data)
        cls.whole = train(cls.data, os.path.join(cls.dir.name, "whole"), "--steps", "6", "--batch", "4", "--val-every", "3")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def assert_same(self, a, b, atol):
        for name in ("model", "ema"):
            for n, v in a[name].items():
                torch.testing.assert_close(v, b[name][n], rtol=0, atol=atol, msg=f"{name} {n}")

    def test_resume_is_exact(self):
        out = os.path.join(self.dir.name, "resumed")
        train(self.data, out, "--steps", "3", "--batch", "4", "--val-every", "3")
        resumed = train(self.data, out, "--steps", "6", "--batch", "4", "--val-every", "3")
        self.assertEqual(resumed["step"], 6)
        self.assert_same(resumed, self.whole, 0)
        self.assertEqual([h["val"] for h in resumed["history"]], [h["val"] for h in self.whole["history"]])

    def test_two_gloo_processes_match_one(self):
        ddp = train(self.data, os.path.join(self.dir.name, "ddp"), "--steps", "6", "--batch", "4", "--val-every", "3", procs=2)
        self.assertEqual((ddp["step"], ddp["world"], self.whole["world"]), (6, 2, 1))
        self.assert_same(ddp, self.whole, DDP_TOLERANCE)
        moved = max((self.whole["model"][n] - v).abs().max().item() for n, v in Denoiser(CONFIGS["tiny-sketch"]).state_dict().items())
        self.assertGreater(moved, 100 * DDP_TOLERANCE, "training must move the weights for the comparison to mean anything")

    def test_training_lowers_the_training_loss_and_logs_validation(self):
        h = self.whole["history"]
        self.assertEqual([x["step"] for x in h], [0, 3, 6])
        self.assertTrue(all(np.isfinite(x["val"]) and np.isfinite(x["val_plain"]) for x in h))

    def test_export_is_a_denoiser_file_of_the_ema(self):
        config, state, norm = package.read(os.path.join(self.dir.name, "whole", "denoiser.safetensors"))
        self.assertEqual(config, CONFIGS["tiny-sketch"])
        self.assertEqual(len(norm[0]), 32)
        for n, v in self.whole["ema"].items():
            torch.testing.assert_close(state[n], v.half().float(), rtol=0, atol=0, msg=n)

    def test_warm_start_from_a_plain_model_begins_as_it(self):
        plain = Denoiser(CONFIGS["tiny"])
        with torch.no_grad():
            for p in plain.parameters():
                p.normal_(0, 0.1)
        path = os.path.join(self.dir.name, "plain.safetensors")
        package.write(path, plain, ([0.0] * 32, [1.0] * 32))
        sketch = Denoiser(CONFIGS["tiny-sketch"])
        package.warm_start(sketch, path)
        x, t = torch.randn(1, 2, 32, 4, 4), torch.tensor([0.4])
        with torch.no_grad():
            want = Denoiser(CONFIGS["tiny"])
            package.warm_start(want, path)
            torch.testing.assert_close(sketch(x, t), want(x, t), rtol=0, atol=1e-6)


class ShiftedPositions(unittest.TestCase):
    def test_a_shift_is_the_larger_grid_s_window(self):
        net = Denoiser(CONFIGS["tiny"])
        x = torch.zeros(1)
        shift = torch.tensor([[0, 0], [3, 5]])
        got = net.shifted_positions(2, 4, 6, shift, x)  # [B, T, N, D]
        big = positions(2, 4 + 3, 6 + 5, 48).reshape(2, 7, 11, 48)
        torch.testing.assert_close(got[0], positions(2, 4, 6, 48), rtol=0, atol=0)
        torch.testing.assert_close(got[1], big[:, 3:, 5:].reshape(2, 24, 48), rtol=0, atol=0)

    def test_training_with_shifts_runs_and_logs_unshifted_validation(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "cache.safetensors")
            cache(data, n=4)
            ckpt = train(data, os.path.join(d, "run"), "--steps", "2", "--batch", "2", "--val-every", "2", "--position-shift", "8")
            self.assertEqual(ckpt["step"], 2)
            self.assertTrue(np.isfinite(ckpt["history"][-1]["val"]))


class Bridge(unittest.TestCase):
    def test_the_path_passes_through_the_decoder_s_start(self):
        g = torch.Generator().manual_seed(3)
        z0, e, zs = (torch.randn(3, 2, 32, 4, 4, generator=g) for _ in range(3))
        cond = torch.cat([zs, torch.ones_like(zs[:, :, :1])], 2)
        t0 = 0.1
        t = torch.tensor([0.05, 0.05, 0.5])
        keep = torch.tensor([True, False, True])
        end, weight = bridge_noise(z0, e, cond, t, keep, t0)
        x_t0 = (1 - t0) * z0[0] + t0 * end[0]
        torch.testing.assert_close(x_t0, (1 - t0) * zs[0] + t0 * e[0], rtol=0, atol=1e-5)
        # No sketch, or a time above t0: the ordinary path.
        torch.testing.assert_close(end[1:], e[1:], rtol=0, atol=0)
        torch.testing.assert_close(weight.flatten(), torch.tensor([t0 * t0, 1.0, 1.0]))

    def test_training_on_the_bridge_logs_its_loss_and_lowers_it(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "cache.safetensors")
            cache(data, n=4)
            ckpt = train(data, os.path.join(d, "run"), "--steps", "40", "--batch", "4", "--val-every", "20", "--bridge", "0.1", "--lr", "3e-3")
            h = ckpt["history"]
            self.assertEqual([x["step"] for x in h], [0, 20, 40])
            self.assertLess(h[-1]["val_bridge"], h[0]["val_bridge"])
            with open(os.path.join(d, "run", "log.csv")) as f:
                self.assertTrue(f.readline().strip().endswith("val_bridge"))


class CleanGradients(unittest.TestCase):
    def params(self, *grads):
        out = []
        for g in grads:
            p = torch.nn.Parameter(torch.zeros(len(g)))
            p.grad = torch.tensor(g)
            out.append(p)
        return out

    def test_clips_to_the_global_norm(self):
        ps = self.params([3.0, 0.0], [0.0, 4.0])
        self.assertAlmostEqual(float(clean_gradients(ps, 1.0)), 5.0, places=5)
        torch.testing.assert_close(torch.cat([p.grad for p in ps]), torch.tensor([0.6, 0.0, 0.0, 0.8]), rtol=0, atol=1e-5)

    def test_leaves_small_gradients_alone(self):
        ps = self.params([0.3, -0.4])
        clean_gradients(ps, 1.0)
        torch.testing.assert_close(ps[0].grad, torch.tensor([0.3, -0.4]), rtol=0, atol=0)

    def test_zeroes_a_non_finite_step(self):
        for bad in (float("nan"), float("inf")):
            ps = self.params([1.0, bad], [2.0, 3.0])
            self.assertFalse(torch.isfinite(clean_gradients(ps, math.inf)))
            for p in ps:
                torch.testing.assert_close(p.grad, torch.zeros(2), rtol=0, atol=0)


if __name__ == "__main__":
    unittest.main()
