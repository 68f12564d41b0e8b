"""dlcourse: a deep-learning course told through seven constraints, and the autograder that checks it.

The engine lives here: `spec` (what an assignment is), `sandbox` (where student code runs), `compare` (how values
are judged), `checking` and `plugin` (checks as pytest tests), `grading` (one submission), `report` (what comes
out), `cli` (the `dlcourse` command).
"""

__version__ = "0.1.0"
