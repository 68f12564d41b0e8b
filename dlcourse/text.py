"""Character-level text for the language-model assignments: the course's own lecture notes as a corpus, a
character tokenizer, and random training windows.

The corpus is read at run time from the ``lectures/`` folder next to this package (the course repository, or a
student bundle laid out the same way), so it is the lectures as they are now: the course wrote every word of it,
and nothing third-party is shipped. Checks never read it (the grading sandbox cannot see the repository); they use
synthetic tasks with exact answers instead.

    >>> text = lecture_corpus()
    >>> tok = CharTokenizer(text)
    >>> tok.decode(tok.encode("attention")) == "attention"
    True
"""

from __future__ import annotations

from pathlib import Path

LECTURES = Path(__file__).resolve().parent.parent / "lectures"


def lecture_corpus(folder: str | Path | None = None) -> str:
    """The prose of every lecture (``lectures/NN-*.md``, in course order), separated by blank lines.

    Only the numbered lecture notes: the folder's index (README.md) and the generated syllabus are tables and
    links, not prose, and as the last files in name order they would be the whole validation split.
    """
    folder = Path(folder) if folder is not None else LECTURES
    files = sorted(folder.glob("[0-9][0-9]-*.md"))
    if not files:
        raise FileNotFoundError(f"no lecture notes (NN-<title>.md) in {folder}: the corpus is read from the "
                                f"course's lectures/ folder")
    return "\n\n".join(f.read_text(encoding="utf-8").strip() for f in files) + "\n"


class CharTokenizer:
    """One token per distinct character of `text`, numbered in sorted order.

    ``encode(str) -> list[int]`` and ``decode(list[int]) -> str`` are exact inverses on any string made of the
    characters of `text`; an unknown character (or token id) raises ValueError naming it.
    """

    def __init__(self, text: str):
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to take its characters from")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        try:
            return [self.stoi[c] for c in s]
        except KeyError as exc:
            c = exc.args[0]
            raise ValueError(f"character {c!r} (U+{ord(c):04X}) at position {s.index(c)} is not in the "
                             f"tokenizer's vocabulary of {self.vocab_size} characters") from None

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{self.vocab_size - 1})")
            out.append(self.chars[i])
        return "".join(out)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def split(ids, fraction: float = 0.9):
    """(train, val): the first `fraction` of a 1-D tensor of token ids and the rest (no shuffling: the validation
    text is text the model has not seen)."""
    n = int(len(ids) * fraction)
    return ids[:n], ids[n:]


def random_windows(data, block_size: int, batch_size: int, generator=None):
    """(x, y), both (batch_size, block_size): random windows of the 1-D LongTensor `data` and the same windows
    shifted by one token (the next-token targets)."""
    import torch

    starts = torch.randint(0, len(data) - block_size - 1, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]
    y = data[starts[:, None] + offsets + 1]
    return x, y
