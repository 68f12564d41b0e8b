"""The course's own library for notebooks and checks: small offline data sets (`dlcourse.datasets`) and the
helpers assignments share. The grading engine is the separate package `autograder`."""
