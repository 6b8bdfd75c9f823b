"""The trainer's noise against the Rust golden vectors (shared/tests/golden.rs)."""

import hashlib
import unittest

from lora_train import noise


class Noise(unittest.TestCase):
    def test_first_eight(self):
        bits = [f"{b:08x}" for b in noise.gaussian(2026, noise.INITIAL, 8).view("uint32")]
        want = "bea8320d,3f8bb052,3f1aaad4,bfa8e60d,3f2a7bf2,beed79a2,3ea68df2,be7728f1"
        self.assertEqual(",".join(bits), want)

    def test_hundred_thousand(self):
        v = noise.gaussian(7, noise.candidate(12, 4095), 100_000)
        want = "00aef3984a5e32412e9f4e820deb21c46aab528a06e949e3bb41641d48ceed2f"
        self.assertEqual(hashlib.sha256(v.astype("<f4").tobytes()).hexdigest(), want)

    def test_odd_length_is_a_prefix(self):
        self.assertEqual(list(noise.gaussian(3, noise.INITIAL, 7)), list(noise.gaussian(3, noise.INITIAL, 8)[:7]))


if __name__ == "__main__":
    unittest.main()
