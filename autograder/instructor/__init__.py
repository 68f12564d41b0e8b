"""The instructor's side: grade a whole class, reports, the student bundle, exports, the course self-test."""
