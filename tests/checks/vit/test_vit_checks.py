"""What is specific to the vit checks (the harness, tests/checks/test_harness.py, grades the reference, the skeleton,
the hollow submissions and every known bug): each target has public and hidden core checks, the end-to-end training
is bounded and passes, a correct solution in another style gets full marks, and a patchify bug costs patchify's
points only (PatchEmbedding and ViT are judged with PyTorch's im2col in its place)."""

from autograder import spec as specs
from autograder.grading import collect_infos, grade
from autograder.authoring.bugfile import load_bugs
from tests.helpers import grade_variant, write_submission

SLUG = "vit"

# A correct solution written differently from the reference: F.unfold patches, einsum attention, a fused loop-free
# split, the head on x[:, 0, :] after an explicit loop.
OTHER_STYLE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


def patchify(images, patch_size):
    b, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError("not divisible")
    return F.unfold(images, patch_size, stride=patch_size).permute(0, 2, 1)


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        if image_size % patch_size:
            raise ValueError("not divisible")
        self.p = patch_size
        self.proj = nn.Linear(in_channels * patch_size ** 2, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim).normal_(std=0.02))
        self.pos_embedding = nn.Parameter(torch.zeros(1, (image_size // patch_size) ** 2 + 1, dim).normal_(std=0.02))

    def forward(self, images):
        z = self.proj(patchify(images, self.p))
        return torch.cat([self.cls_token.repeat(len(z), 1, 1), z], 1) + self.pos_embedding


class EncoderBlock(nn.Module):
    def __init__(self, dim, n_heads, mlp_dim, dropout=0.0):
        super().__init__()
        if dim % n_heads:
            raise ValueError("dim must be divisible by n_heads")
        self.h = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim),
                                 nn.Dropout(dropout))

    def forward(self, x, return_attention=False):
        b, t, d = x.shape
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, self.h, d // self.h)
        q, k, v = qkv.unbind(2)  # (b, t, h, hd) each
        a = torch.einsum("bihd,bjhd->bhij", q, k) * (d // self.h) ** -0.5
        a = a.softmax(-1)
        y = torch.einsum("bhij,bjhd->bihd", a, v).reshape(b, t, d)
        x = x + self.proj(y)
        x = x + self.mlp(self.ln2(x))
        return (x, a) if return_attention else x


class ViT(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, n_heads, mlp_dim, dropout=0.0):
        super().__init__()
        self.embed = PatchEmbedding(image_size, patch_size, in_channels, dim)
        self.blocks = nn.ModuleList(EncoderBlock(dim, n_heads, mlp_dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        x = self.embed(images)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0, :])
'''

CORE_AND_LAYOUT = ["patchify:", "PatchEmbedding:", "EncoderBlock:", "ViT: logits", "ViT: embed"]


def test_every_target_has_public_and_hidden_core_checks():
    infos = collect_infos(SLUG)
    for target in specs.load(SLUG).targets:
        mine = [(info, vis) for info, vis in infos if info.target == target]
        assert {vis for _, vis in mine} == {"public", "hidden"}, target
        assert any(info.core for info, vis in mine if vis == "public"), target
        assert any(info.core for info, vis in mine if vis == "hidden"), target


def test_end_to_end_training_is_bounded_and_passes():
    report = grade(SLUG, specs.load(SLUG).reference, seed=3, select=["ViT: with 2x2 patches"])
    (e2e,) = [r for r in report.results if r.name.startswith("ViT: with 2x2 patches")]
    assert e2e.passed, e2e.output
    # About 700 AdamW steps: several seconds on an idle core; the bound leaves room for a loaded 2-core machine.
    assert e2e.duration < 180, e2e.duration


def test_another_correct_style_gets_full_marks(tmp_path):
    report = grade(SLUG, write_submission(tmp_path, SLUG, OTHER_STYLE), seed=5, select=CORE_AND_LAYOUT)
    assert report.results and report.score == report.max_score, {r.name: r.output for r in report.results
                                                                  if not r.passed}


def test_a_patchify_bug_costs_patchify_only(tmp_path):
    bug = {b.name: b for b in load_bugs(SLUG)}["patches in column-major order"]
    report = grade_variant(tmp_path, SLUG, bug.old, bug.new, select=CORE_AND_LAYOUT, seed=5)
    failed = {r.target for r in report.results if not r.passed}
    assert failed == {"patchify"}, {r.name: r.output for r in report.results if not r.passed}
