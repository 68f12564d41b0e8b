"""Lecture 8: the milestones of the course, by year and by the constraint they moved.

Data: the milestone table of lectures/README.md (read here, so the figure always matches the
index). Each milestone is placed at the year of its earliest paper in the index, dated as the course
cites it (the year of the cited version, e.g. BERT at NAACL 2019, not its 2018 preprint), and coloured by
the lecture (the constraint) that tells its story. The right panel counts milestones per constraint in each
half-decade.
"""
import re
import numpy as np

from _common import FIGURES_DIR, parse_args, plt, save

INDEX = FIGURES_DIR.parent / "README.md"


def read_milestones(path=INDEX):
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("Chapter", "---"):
            continue
        m_lecture = re.match(r"\[(\d)\. ([^\]]+)\]", cells[2])
        years = re.findall(r"\((\d{4})\)", cells[3])
        if m_lecture and years:
            rows.append((cells[1], int(m_lecture.group(1)), m_lecture.group(2), min(map(int, years))))
    return rows


def main():
    args = parse_args(__doc__)
    rows = read_milestones()
    print(f"{len(rows)} milestones read from {INDEX}")
    lectures = sorted({(r[1], r[2]) for r in rows})
    row_of = {num: i for i, (num, _) in enumerate(lectures)}
    colors = plt.get_cmap("tab10")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 6.5), gridspec_kw={"width_ratios": [2.2, 1]})
    ordered = sorted(rows, key=lambda r: (r[3], r[1]))
    for j, (name, num, _, year) in enumerate(ordered):
        c = colors(row_of[num])
        ax0.hlines(j, 1984, year, color=c, lw=0.8, alpha=0.5)
        ax0.plot(year, j, "o", color=c, ms=6)
    ax0.set_yticks(range(len(ordered)), [r[0] for r in ordered], fontsize=7)
    ax0.invert_yaxis()
    ax0.set_xlim(1984, 2024)
    ax0.set_xlabel("year of the earliest cited paper (year of the cited version: BERT is NAACL 2019)")
    ax0.set_title("Course milestones, coloured by the constraint they moved")
    ax0.grid(True, axis="x", alpha=0.3)

    bins = np.arange(1985, 2026, 5)
    bottom = np.zeros(len(bins) - 1)
    for num, title in lectures:
        years = [r[3] for r in rows if r[1] == num]
        h, _ = np.histogram(years, bins=bins)
        ax1.bar(bins[:-1] + 2.5, h, width=4.2, bottom=bottom, color=colors(row_of[num]), label=title)
        bottom += h
    ax1.set_xlabel("half-decade")
    ax1.set_ylabel("milestones")
    ax1.set_title("Milestones per five years")
    ax1.legend(fontsize=7)
    save(fig, args.out, "08-milestones-timeline.png")


if __name__ == "__main__":
    main()
