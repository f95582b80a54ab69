"""Hidden suites of vec01."""
