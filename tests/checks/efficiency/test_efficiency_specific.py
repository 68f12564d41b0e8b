"""efficiency specifics beyond the harness (tests/checks/test_harness.py): the checks' trusted decoder and oracle agree
with the reference, code written in another reasonable style gets full marks, and the memory check sees a whole
score matrix however it is built."""

import pytest
import torch

from autograder.grading import grade
from tests.helpers import (failed_targets, load_check_module, load_reference, mutate, reference_source,
                           write_submission)

SLUG = "efficiency"


@pytest.fixture(scope="module")
def ref():
    return load_reference(SLUG)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the check marks
def test_the_public_decoder_oracle_agrees_with_the_reference(ref):
    public, common = load_check_module(SLUG, "test_public"), load_check_module(SLUG, "_common")
    g = torch.Generator().manual_seed(0)
    parts = common.decoder(g, 13, 12, 3, 2, 10, dtype=torch.float64)
    idx = torch.randint(0, 13, (2, 9), generator=g)
    torch.testing.assert_close(public.torch_decoder(parts, idx), ref.decoder_forward(parts, idx))
    # make_decoder draws the same layout as the checks' decoder
    made = ref.make_decoder(13, 12, 3, 2, 10, generator=torch.Generator().manual_seed(1))
    assert set(made) == set(parts) and set(made["layers"][0]) == set(parts["layers"][0])
    assert all(made["layers"][0][k].shape == parts["layers"][0][k].shape for k in parts["layers"][0])


# Another style: queries tiled too (blocks of 16 queries), the running state kept as log-sum-exp; a KVCache that
# preallocates max_len positions and exposes views; decode_step reusing online_softmax_attention.
_OTHER = [
    ('''    for start in range(0, Lk, block_size):
        k_blk = k[..., start:start + block_size, :]  # (..., Bk, d)''',
     '''    outs = []
    for qs in range(0, Lq, 16):
        qb = q[..., qs:qs + 16, :]
        lse = torch.full((*qb.shape[:-1], 1), float("-inf"), dtype=q.dtype, device=q.device)
        o = torch.zeros((*qb.shape[:-1], v.shape[-1]), dtype=q.dtype, device=q.device)
        for ks in range(0, Lk, block_size):
            s = qb @ k[..., ks:ks + block_size, :].transpose(-2, -1) * scale
            if causal:
                kp = torch.arange(ks, ks + s.shape[-1], device=q.device)[None, :]
                s = s.masked_fill(kp > q_pos[qs:qs + 16], float("-inf"))
            blk_lse = torch.logsumexp(s, dim=-1, keepdim=True)
            new_lse = torch.logaddexp(lse, blk_lse)
            w_old = torch.exp(lse - new_lse).nan_to_num(0.0)
            o = w_old * o + torch.exp(s - new_lse).nan_to_num(0.0) @ v[..., ks:ks + block_size, :]
            lse = new_lse
        outs.append(o)
    return torch.cat(outs, dim=-2)
    for start in range(0, Lk, block_size):
        k_blk = k[..., start:start + block_size, :]  # (..., Bk, d)'''),
    ('''        self.max_len = max_len
        self.k = None  # (B, nh, T, hs) once something is cached
        self.v = None  # (B, nh, T, hs_v)''',
     '''        self.max_len = max_len if max_len is not None else 4096
        self._k = self._v = None
        self.n = 0

    @property
    def k(self):
        return None if self._k is None else self._k[..., :self.n, :]

    @property
    def v(self):
        return None if self._v is None else self._v[..., :self.n, :]'''),
    ("        return 0 if self.k is None else self.k.shape[-2]\n", "        return self.n\n"),
    ('''        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)  # (B, nh, T, hs)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)  # (B, nh, T, hs_v)''',
     '''        if self._k is None:
            self._k = k.new_zeros(*k.shape[:-2], self.max_len, k.shape[-1])
            self._v = v.new_zeros(*v.shape[:-2], self.max_len, v.shape[-1])
        self._k[..., self.n:self.n + k.shape[-2], :] = k
        self._v[..., self.n:self.n + v.shape[-2], :] = v
        self.n += k.shape[-2]'''),
    ('''        att = torch.softmax((q @ k_all.transpose(-2, -1)) / math.sqrt(q.shape[-1]), dim=-1)  # (B, nh, 1, t + 1)
        x = x + F.linear(merge_heads(att @ v_all), layer["proj_w"], layer["proj_b"])  # (B, 1, C)''',
     '''        y = online_softmax_attention(q, k_all, v_all, block_size=4)
        x = x + F.linear(merge_heads(y), layer["proj_w"], layer["proj_b"])  # (B, 1, C)'''),
]


def test_another_reasonable_style_gets_full_marks(tmp_path):
    source = reference_source(SLUG)
    for old, new in _OTHER:
        source = mutate(source, old, new)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source, "style"), seed=3)
    assert report.results and report.score == report.max_score, \
        {r.name: r.output for r in report.results if not r.passed}


def test_a_full_causal_mask_counts_as_a_whole_score_matrix(tmp_path):
    # Tiled scores but an (Lq, Lk) boolean mask built up front: quadratic memory all the same.
    source = mutate(reference_source(SLUG),
                    "    for start in range(0, Lk, block_size):\n",
                    "    full_mask = torch.arange(Lk, device=q.device)[None, :] > q_pos  # (Lq, Lk)\n"
                    "    for start in range(0, Lk, block_size):\n")
    source = mutate(source, "            s = s.masked_fill(k_pos > q_pos, float(\"-inf\"))",
                    "            s = s.masked_fill(full_mask[:, start:start + k_blk.shape[-2]], float(\"-inf\"))")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source, "mask"), seed=3,
                   select=["online_softmax_attention: never"])
    assert failed_targets(report) == {"online_softmax_attention"}
    failing = [r for r in report.results if not r.passed]
    assert [r.name for r in failing] == ["online_softmax_attention: never holds an (Lq, Lk) score matrix: no "
                                         "intermediate over a quarter of its size"]
