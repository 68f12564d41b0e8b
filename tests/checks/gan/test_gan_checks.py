"""What is specific to the gan checks (the harness in tests/checks/test_harness.py covers the reference, the
skeleton, hollow code and bugs.py): correct code written in other reasonable styles gets full marks, and the
end-to-end run stays within its time bound."""

from autograder import spec as specs
from autograder.grading import grade
from tests.helpers import mutate, reference_source, write_submission

SLUG = "gan"
QUICK_TRAIN_STEP = ["train_step: D", "train_step: G", "train_step: no", "train_step: one", "train_step: returns",
                    "train_step: both"]

OTHER_STYLE_STEP = '''    for p in D.parameters():
        p.grad = None
    with torch.no_grad():
        fake = G(z_d)
    d_loss = discriminator_loss(D(real), D(fake))
    d_loss.backward()
    opt_D.step()

    D.requires_grad_(False)                   # no gradient into D during G's update
    G.zero_grad(set_to_none=False)
    g_loss = generator_loss(D(G(z_g)), non_saturating=non_saturating)
    g_loss.backward()
    opt_G.step()
    D.requires_grad_(True)
    return float(d_loss), float(g_loss)
'''


def _ref_block(source, start, end):
    i = source.index(start)
    return source[i:source.index(end, i)]


def test_other_styles_get_full_marks(tmp_path):
    source = reference_source(SLUG)
    source = mutate(source, "    real_term = F.softplus(-real_logits).mean()       # (), -E[log D(x)]\n"
                            "    fake_term = F.softplus(fake_logits).mean()        # (), -E[log(1 - D(G(z)))]\n"
                            "    return real_term + fake_term\n",
                    "    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())\n")
    source = mutate(source, "        return F.softplus(-fake_logits).mean()        # (), -E[log D(G(z))]\n"
                            "    return -F.softplus(fake_logits).mean()            # (), E[log(1 - D(G(z)))]\n",
                    "        return -F.logsigmoid(fake_logits).mean()\n"
                    "    return F.logsigmoid(-fake_logits).mean()\n")
    source = mutate(source, "return self.net(x).squeeze(-1)               # (B, 1) -> (B,)",
                    "return self.net(x)[..., 0]")
    body = _ref_block(source, "    opt_D.zero_grad()\n", "    # END SOLUTION")
    source = mutate(source, body, OTHER_STYLE_STEP)
    path = write_submission(tmp_path, SLUG, source, "styles")
    report = grade(SLUG, path, seed=3, select=["discriminator_loss:", "generator_loss:", "Discriminator:",
                                              *QUICK_TRAIN_STEP])
    failed = {r.name: r.output for r in report.results if not r.passed}
    assert report.score == report.max_score, failed


def test_end_to_end_check_is_bounded_and_passes():
    report = grade(SLUG, specs.load(SLUG).reference, seed=5, select=["train_step: end to end"])
    (e2e,) = [r for r in report.results if "end to end" in r.name]
    assert e2e.passed, e2e.output
    assert e2e.duration < 120, e2e.duration
