"""The author's verb: `dlcourse author new`, `dlcourse author sync` and `dlcourse verify`.

Create an assignment (`new`), keep everything generated from the references, checks and specs in step (`sync`:
skeletons, README points tables, the course README's table), and self-test the course (`verify`, with the known
bugs of `bugs`, the hollow submissions of `hollow` and the parameter measure of `coverage`). The module table of
autograder/AUTHORING.md says what each module does.
"""
