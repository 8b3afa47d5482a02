"""One module per expectation kind; each registers itself with tutor.checks.registry.register."""
