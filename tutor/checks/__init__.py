"""Grade: expectation kinds (one module each in kinds/), their registry, and the step runner."""
