"""One module per transaction type: a frozen dataclass and `apply_<name>(state, tx, ctx)`."""
