"""gpt specifics beyond the harness (tests/checks/test_harness.py): the course's corpus and tokenizer, the checks'
trusted helpers agree with the reference, code written in another reasonable style gets full marks, and a forbidden
attention module costs the class that uses it."""

import pytest
import torch

from autograder.grading import grade
from dlcourse.text import CharTokenizer, lecture_corpus, random_windows, split
from tests.helpers import (failed_targets, load_check_module, load_reference, mutate, reference_source,
                           write_submission)

SLUG = "gpt"


@pytest.fixture(scope="module")
def ref():
    return load_reference(SLUG)


@pytest.fixture(scope="module")
def common():
    return load_check_module(SLUG, "_common")


# ----------------------------------------------------------------------------------------------- corpus, tokenizer


def test_the_lecture_corpus_round_trips_through_the_tokenizer():
    text = lecture_corpus()
    assert len(text) > 50_000 and "Transformer" in text
    tok = CharTokenizer(text)
    assert 40 <= tok.vocab_size <= 300
    ids = tok.encode(text)
    assert min(ids) == 0 and max(ids) == tok.vocab_size - 1
    assert tok.decode(ids) == text


def test_the_tokenizer_names_an_unknown_character_and_id():
    tok = CharTokenizer("abc ab")
    assert tok.vocab_size == 4 and tok.encode("cab ") == [3, 1, 2, 0]
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="token id 9"):
        tok.decode([0, 9])
    with pytest.raises(ValueError):
        CharTokenizer("")


def test_split_and_windows():
    data = torch.arange(100)
    train, val = split(data, 0.9)
    assert len(train) == 90 and torch.equal(val, torch.arange(90, 100))
    x, y = random_windows(train, 8, 5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8) and torch.equal(y, x + 1)


# ----------------------------------------------------------------------------------------------- trusted helpers


def test_the_parameter_count_formula_matches_the_reference(ref, common):
    for V, block, L, C in ((11, 8, 2, 8), (65, 32, 4, 64), (5, 3, 0, 12)):
        model = ref.GPT(V, block, L, 2 if C % 2 == 0 else 1, C)
        assert sum(p.numel() for p in model.parameters()) == common.gpt_param_count(V, block, L, C)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the check marks
def test_the_public_oracles_agree_with_the_reference(ref, common):
    """The built-in oracles of the public checks (nn.MultiheadAttention, nn.TransformerEncoderLayer) compute what
    the reference computes, so a correct submission cannot fail them."""
    public = load_check_module(SLUG, "test_public")
    g = torch.Generator().manual_seed(0)
    config = dict(vocab_size=11, block_size=8, n_layers=2, n_heads=2, d_model=16, dropout=0.0)
    state = common.gpt_state(g, config, "cpu", torch.float64, with_blocks=True)
    idx = torch.randint(0, 11, (3, 8), generator=g)
    model = ref.GPT(**config).double()
    with torch.no_grad():
        for name, value in state.items():
            model.get_parameter(name).copy_(value)
    torch.testing.assert_close(public.torch_gpt(config, state, idx), model(idx)[0])


# ----------------------------------------------------------------------------------------------- other styles

# nanoGPT's style: one batched matmul per einsum, a persistent (1, 1, T, T) float buffer named "bias", the mask
# applied with == 0; sampling by inverse CDF with the generator, top-k through a sort.
_OTHER_ATTENTION = [
    ('        mask = torch.ones(block_size, block_size, dtype=torch.bool).tril()  # (block_size, block_size)\n'
     '        self.register_buffer("mask", mask, persistent=False)\n',
     '        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, '
     'block_size))\n'),
    ('        att = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T), Vaswani et al. Equation 1\n'
     '        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))  # no attention to the future\n',
     '        att = torch.einsum("bhtd,bhsd->bhts", q, k) * (1.0 / math.sqrt(k.size(-1)))\n'
     '        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))\n'),
]
_OTHER_SAMPLING = [
    ('''                    if top_k is not None and top_k < logits.size(-1):
                        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    probs = torch.softmax(logits, dim=-1)  # (B, V)
                    nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)''',
     '''                    if top_k:
                        ordered, _ = torch.sort(logits, dim=-1, descending=True)
                        kth = ordered[:, min(top_k, logits.size(-1)) - 1].unsqueeze(-1)
                        logits = torch.where(logits < kth, torch.full_like(logits, -float("inf")), logits)
                    probs = torch.softmax(logits, dim=-1)  # (B, V)
                    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device)
                    nxt = (probs.cumsum(-1) < u).sum(-1, keepdim=True).clamp(max=probs.size(-1) - 1)'''),
]


def test_another_reasonable_style_gets_full_marks(tmp_path):
    source = reference_source(SLUG)
    for old, new in _OTHER_ATTENTION + _OTHER_SAMPLING:
        source = mutate(source, old, new)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source, "style"), seed=3,
                   select=["CausalSelfAttention:", "generate:"])
    assert report.results and report.score == report.max_score, \
        {r.name: r.output for r in report.results if not r.passed}


def test_forbidden_attention_module_costs_the_class_that_uses_it(tmp_path):
    source = mutate(reference_source(SLUG), "        x = x + self.attn(self.ln1(x))  # (B, T, C)\n",
                    "        h = self.ln1(x)\n"
                    "        x = x + torch.nn.functional.scaled_dot_product_attention(h, h, h, is_causal=True)\n")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source, "forbidden"), seed=3,
                   select=["Block: with a stand-in", "CausalSelfAttention: qkv is"])
    assert failed_targets(report) == {"Block"}
    assert all("forbidden" in r.output for r in report.results if not r.passed)
