"""Golden histories: recorded event histories of real scenarios, replayed by tests/unit/test_golden_histories.py."""
