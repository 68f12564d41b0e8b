"""Tools for course staff: generate skeletons from references, keep README points tables in sync."""
