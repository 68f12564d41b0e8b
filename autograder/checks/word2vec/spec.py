"""The word2vec assignment: skip-gram with negative sampling (Mikolov et al., 2013a, 2013b)."""

from autograder.spec import Assignment

SPEC = Assignment(
    slug="word2vec",
    order=110,
    milestone="Mikolov et al. (2013a, 2013b)",
    lecture="lectures/01-data.md#word2vec",
    budget_s=30,
    title="word2vec: skip-gram with negative sampling (Mikolov et al., 2013a, 2013b)",
    constraint="data",
    framework="torch",
    targets=("skipgram_pairs", "unigram_table", "SkipGramNS", "most_similar"),
    forbidden=(),
    summary="The skip-gram training pairs of a text, the 3/4-power noise distribution, the negative-sampling loss "
            "and nearest neighbours by cosine similarity: unlabelled text becomes a training signal.",
)
