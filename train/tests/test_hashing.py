"""`lora_train.hashing` against the Rust golden vectors (`shared/tests/golden.rs`)."""

import hashlib
import unittest

import numpy as np

from lora_train.hashing import INDEX_MAP, index_map, u64s


class IndexMapGolden(unittest.TestCase):
    def test_u64_draws(self):
        got = ",".join(f"{int(v):016x}" for v in u64s(42, INDEX_MAP, 4))
        self.assertEqual(got, "ecba94ea97907da9,1d9cc73d07dea2c9,146515f0f7bc4fb8,bf35da17df9e59b1")

    def test_index_map(self):
        index, scale = index_map(3072, 1000, 0xFEED)
        self.assertEqual(",".join(map(str, index[:12])), "878,376,104,753,608,28,370,0,972,510,94,986")
        sha = lambda a: hashlib.sha256(np.ascontiguousarray(a).astype("<u4").tobytes()).hexdigest()
        self.assertEqual(sha(index), "da9c50ab98c82ae36efb62d92aa704e7f0ae160db74470c2ea34e22dd0ac1330")
        self.assertEqual(sha(scale.view(np.uint32)), "906a35ae32b0d77a1313cc929c63f420807c98f3ab2e1e4d3e1d5db4b73aa9ae")

    def test_rejects_a_vector_longer_than_the_entries(self):
        with self.assertRaises(ValueError):
            index_map(10, 11, 0)
