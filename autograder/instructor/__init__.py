"""The instructor's verbs: grade a class (`batch/`: `dlcourse grade-batch`) and ship the course (`release/`:
`dlcourse release`; `gradescope.py`, `classroom.py`, `nbgrader_bridge.py`: `dlcourse export ...`)."""
