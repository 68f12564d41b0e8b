"""CLI commands for the student bundle, exports and the course self-test (registered on the `dlcourse` group by autograder.cli)."""


def register(main) -> None:
    """Add this module's commands to the `dlcourse` click group."""
