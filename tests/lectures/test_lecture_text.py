"""The lectures hang together: links and images resolve (anchors included), the index covers every
milestone of the history with a paper and a lecture section, every lecture has learning goals, a
figure and exercises, and every exercise has a worked answer kept out of the student material."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LECTURES_DIR = ROOT / "lectures"
INDEX = LECTURES_DIR / "README.md"
SOLUTIONS_DIR = ROOT / "solutions" / "lectures"
LECTURES = sorted(LECTURES_DIR.glob("[0-9][0-9]-*.md"))
SYLLABUS = LECTURES_DIR / "syllabus.md"
ALL_MD = [INDEX, SYLLABUS, *LECTURES]

CHAPTERS = {
    "Deep neural networks": ["Backpropagation and the MLP", "CNN and LeNet", "AlexNet", "U-Net"],
    "Optimization & regularization": ["Weight decay", "ReLU", "Residual connections", "Dropout",
                                      "Batch normalization", "Layer normalization", "GELU", "Adam"],
    "Sequence modeling": ["Recurrent neural networks", "LSTM and the forget gate", "word2vec and phrase vectors",
                          "Encoder-decoder and seq2seq", "Attention", "Mixture of experts"],
    "Transformers": ["The Transformer", "BERT", "RoBERTa", "T5", "GPT-2 and GPT-3", "LoRA",
                     "RLHF and InstructGPT", "PPO", "Helpful and harmless assistants", "Vision Transformer"],
    "Image generation": ["GANs", "VAEs", "VQ-VAE and VQ-VAE-2", "Diffusion and DDPM", "Diffusion beats GANs: guidance",
                         "Latent diffusion", "CLIP", "DALL-E", "DALL-E 2"],
    "Compute and hardware": ["GPUs, CUDA and cuDNN", "Data-parallel training and all-reduce", "Model parallelism",
                             "TPUs and other accelerators", "Mixed precision", "FlashAttention and the KV cache"],
}
# Papers the index must cite, each in the row of its topic (the source's reading list, and the additions).
PAPERS = {
    "Recurrent neural networks": "Williams & Zipser (1989)", "RLHF and InstructGPT": "Ziegler et al. (2019)",
    "PPO": "Schulman", "Helpful and harmless assistants": "Bai et al. (2022)",
    "VQ-VAE and VQ-VAE-2": "Razavi", "Diffusion beats GANs: guidance": "Dhariwal & Nichol (2021)",
    "Latent diffusion": "Rombach", "DALL-E 2": "Ramesh", "GPUs, CUDA and cuDNN": "Chetlur et al. (2014)",
    "TPUs and other accelerators": "Jouppi et al. (2017)", "Diffusion and DDPM": "Nichol & Dhariwal (2021)",
}


def released_assignments() -> list[str]:
    """Every assignment with a spec and a README (the specs are the only list of assignments)."""
    from autograder.spec import all_specs

    return [s.slug for s in all_specs() if (ROOT / "assignments" / s.slug / "README.md").is_file()]

LINK_RE = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


# --- Markdown helpers ------------------------------------------------------------------------

def prose(text: str) -> str:
    """The text without fenced code blocks and without LaTeX math (neither holds links)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    return re.sub(r"\$[^$\n]+\$", "", text)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links keep their text
    text = re.sub(r"[`*_]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path: Path) -> list[tuple[int, str]]:
    out = []
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else HEADING_RE.match(line)
        if m:
            out.append((len(m.group(1)), m.group(2)))
    return out


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, text in headings(path):
        slug = github_slug(text)
        n = seen.get(slug, 0)
        result.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return result


def links(path: Path) -> list[tuple[bool, str]]:
    return [(bang == "!", target) for bang, _, target in LINK_RE.findall(prose(path.read_text(encoding="utf-8")))]


def section(path: Path, title: str) -> str:
    """Body of the level-2 section with this title (up to the next level-2 heading)."""
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert m, f"{path.name} has no '## {title}' section"
    return m.group(1)


def exercise_numbers(path: Path) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\.\s+\S", section(path, "Exercises"), flags=re.M)]


def index_rows() -> list[dict[str, str]]:
    lines = INDEX.read_text(encoding="utf-8").splitlines()
    start = next(i for i, l in enumerate(lines) if re.match(r"\|\s*Chapter\s*\|\s*Milestone\s*\|", l))
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(dict(zip(header, cells)))
    return rows


def resolve(source: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return ((source.parent / path).resolve() if path else source), anchor


# --- the tests -------------------------------------------------------------------------------

def test_one_lecture_per_constraint_plus_introduction_and_closing():
    numbers = [int(p.name[:2]) for p in LECTURES]
    assert numbers == list(range(9)), [p.name for p in LECTURES]
    titles = " ".join(p.stem for p in LECTURES)
    for word in ("introduction", "data", "parameters", "optimization", "architecture", "compute",
                 "efficiency", "energy", "leverage"):
        assert word in titles


def test_slug_function_matches_github():
    assert github_slug("AlexNet: deep learning meets the GPU") == "alexnet-deep-learning-meets-the-gpu"
    assert github_slug("Lecture 0 — Introduction") == "lecture-0--introduction"
    assert github_slug("The 6ND rule") == "the-6nd-rule"
    assert github_slug("Optimization & regularization") == "optimization--regularization"


@pytest.mark.parametrize("md", ALL_MD, ids=lambda p: p.name)
def test_links_and_images_resolve(md):
    found = links(md)
    assert found, f"{md.name} has no links"
    for is_image, target in found:
        if re.match(r"[a-z]+:", target):           # http(s), mailto: not checked offline
            continue
        path, anchor = resolve(md, target)
        assert path.exists(), f"{md.name}: broken {'image' if is_image else 'link'} {target}"
        assert "solutions" not in path.relative_to(ROOT).parts, f"{md.name} links into solutions/: {target}"
        if is_image:
            assert path.suffix == ".png" and path.parent == LECTURES_DIR / "figures", target
        if anchor:
            assert path.suffix == ".md", target
            assert anchor in anchors(path), f"{md.name}: no heading #{anchor} in {path.name}"


@pytest.mark.parametrize("md", LECTURES, ids=lambda p: p.name)
def test_lecture_has_goals_figure_and_exercises(md):
    heads = [t for lvl, t in headings(md) if lvl == 2]
    assert "Learning goals" in heads and "Exercises" in heads, heads
    goals = re.findall(r"^- \S", section(md, "Learning goals"), flags=re.M)
    assert len(goals) >= 2, f"{md.name}: fewer than two learning goals"
    figures = [t for img, t in links(md) if img and t.startswith("figures/")]
    assert figures, f"{md.name} shows no figure from lectures/figures"
    for fig in figures:
        script_mentioned = re.search(r"figures/scripts/fig\w+\.py", md.read_text(encoding="utf-8"))
        assert script_mentioned, f"{md.name} does not say which script made its figure"
    n = exercise_numbers(md)
    assert len(n) >= 3 and n == list(range(1, len(n) + 1)), f"{md.name}: exercises numbered {n}"
    words = len(re.findall(r"\w+", prose(md.read_text(encoding="utf-8"))))
    assert words >= 700, f"{md.name} has only {words} words of prose"


@pytest.mark.parametrize("md", LECTURES, ids=lambda p: p.name)
def test_every_exercise_has_a_worked_answer(md):
    sol = SOLUTIONS_DIR / md.name
    assert sol.is_file(), f"no answers for {md.name} in solutions/lectures/"
    text = sol.read_text(encoding="utf-8")
    answered = [int(k) for k in re.findall(r"^## Exercise (\d+)\s*$", text, flags=re.M)]
    assert answered == exercise_numbers(md), f"{sol.name}: answers {answered} vs exercises {exercise_numbers(md)}"
    for k, body in zip(answered, re.split(r"^## Exercise \d+\s*$", text, flags=re.M)[1:]):
        assert len(re.findall(r"\w+", body)) >= 25, f"{sol.name}: answer {k} is too short to be worked"


def test_index_lists_every_lecture():
    targets = {resolve(INDEX, t)[0] for _, t in links(INDEX)}
    for md in LECTURES:
        assert md.resolve() in targets, f"the index does not link {md.name}"


def test_index_covers_every_milestone_with_paper_and_lecture_section():
    rows = index_rows()
    assert rows, "no milestone table in lectures/README.md"
    listed = {(r["Chapter"], r["Milestone"]) for r in rows}
    expected = {(c, m) for c, ms in CHAPTERS.items() for m in ms}
    assert expected <= listed, f"milestones missing from the index: {sorted(expected - listed)}"
    papers = {r["Milestone"]: r["Paper"] for r in rows}
    for milestone, who in PAPERS.items():
        assert who in papers[milestone], f"{milestone}: the index does not cite {who}"
    for r in rows:
        who = r["Milestone"]
        assert re.search(r"[A-Z][a-zà-ÿ]+.*\((19|20)\d{2}\)", r["Paper"]), f"{who}: paper lacks author and year"
        m = re.fullmatch(r"\[[^\]]+\]\(([^)#]+\.md)#([^)]+)\)", r["Lecture"])
        assert m, f"{who}: lecture cell must link to a lecture section, got {r['Lecture']!r}"
        path, anchor = resolve(INDEX, f"{m.group(1)}#{m.group(2)}")
        assert path in {p.resolve() for p in LECTURES}, f"{who}: {path} is not a lecture"
        assert anchor in anchors(path), f"{who}: {path.name} has no section #{anchor}"
        if r["Assignment"] not in ("—", "-", ""):
            a = re.fullmatch(r"\[[^\]]+\]\(\.\./assignments/([a-z0-9_]+)/README\.md\)", r["Assignment"])
            assert a, f"{who}: bad assignment cell {r['Assignment']!r}"
            assert (ROOT / "assignments" / a.group(1) / "README.md").is_file(), f"missing assignment {a.group(1)}"


def test_every_assignment_is_reached_from_a_lecture():
    reached = set()
    for md in LECTURES:
        for _, target in links(md):
            m = re.match(r"\.\./assignments/([a-z0-9_]+)/README\.md$", target)
            if m:
                reached.add(m.group(1))
    expected = set(released_assignments())
    assert expected <= reached, f"assignments no lecture links to: {sorted(expected - reached)}"


def test_lectures_do_not_leak_answers():
    for md in ALL_MD:
        text = md.read_text(encoding="utf-8")
        assert "solutions/" not in text, f"{md.name} mentions solutions/"
