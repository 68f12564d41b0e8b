"""Hidden checks for energy: run only by `dlcourse grade`, on sizes and numbers drawn from the grading seed, compared
with the reference (and, for count_flops, with FlopCounterMode too) on the same inputs here."""

from autograder.checking import check, load_sibling
from autograder.compare import expect_close, expect_equal

C = load_sibling(__file__, "_common")


def _random_model(rng):
    kind = ["mlp", "cnn", "block", "cross", "shared"][int(rng.integers(5))]
    r = lambda lo, hi: int(rng.integers(lo, hi))  # noqa: E731
    if kind == "mlp":
        cfg, shape = (r(2, 40), r(2, 80), r(1, 20)), None
        shape = (r(1, 16), cfg[0])
    elif kind == "cnn":
        c1, c2, size = 2 * r(1, 6), 2 * r(1, 8), r(3, 12)
        cfg, shape = (r(1, 5), c1, c2, size, r(1, 12)), None
        shape = (r(1, 4), cfg[0], size, size)
    elif kind == "block":
        heads = r(1, 5)
        E = heads * r(1, 8)
        cfg, shape = (E, heads, r(4, 64)), (r(1, 4), r(1, 12), E)
    elif kind == "cross":
        heads = r(1, 4)
        E = heads * r(1, 8)
        cfg, shape = (E, heads, r(1, 12), r(1, 20)), (r(1, 10), r(1, 4), E)
    else:
        d = r(1, 30)
        cfg, shape = (d,), (r(1, 10), d)
    return kind, cfg, shape


@check("count_flops: matches the reference and FlopCounterMode on random model sizes", points=3, core=True)
def test_count_reference(student, reference, rng, device):
    for _ in range(4):
        kind, cfg, shape = _random_model(rng)
        got = C.nonzero(student.run(C.probe_count, kind, cfg, shape, device), f"count_flops on {kind}")
        want = C.nonzero(C.probe_count(reference, kind, cfg, shape, device), "the reference")
        expect_equal(want, C.probe_count(C.ORACLE, kind, cfg, shape, device),
                     name="the reference against FlopCounterMode (a fault of the check, not yours)")
        expect_equal(got, want, name=f"count_flops(model, {shape}) for the {kind} model of sizes {cfg}")


@check("training_flops: matches the reference on random N and D", points=1, core=True)
def test_training_reference(student, reference, rng):
    for _ in range(5):
        n, d = float(10 ** rng.uniform(3, 12)), float(10 ** rng.uniform(6, 13))
        expect_close(student.training_flops(n, d), reference.training_flops(n, d), rtol=1e-12, atol=0.0,
                     name=f"training_flops({n:.4g}, {d:.4g})")


@check("energy_joules: matches the reference on random runs", points=1, core=True)
def test_energy_reference(student, reference, rng):
    for _ in range(5):
        args = (float(10 ** rng.uniform(15, 25)), float(10 ** rng.uniform(11, 15)), float(rng.uniform(0.05, 1.0)),
                float(rng.uniform(50, 1000)), float(rng.uniform(1.0, 2.0)))
        expect_close(student.energy_joules(*args), reference.energy_joules(*args), rtol=1e-12, atol=0.0,
                     name="energy_joules(flops, peak, utilisation, watts, pue) for " + ", ".join(f"{a:.4g}"
                                                                                              for a in args))


@check("co2_kg: matches the reference on random energies and grid intensities", points=1, core=True)
def test_co2_reference(student, reference, rng):
    for _ in range(5):
        joules, intensity = float(10 ** rng.uniform(3, 13)), float(rng.uniform(10, 900))
        expect_close(student.co2_kg(joules, intensity), reference.co2_kg(joules, intensity), rtol=1e-12, atol=0.0,
                     name=f"co2_kg({joules:.4g}, {intensity:.4g})")
