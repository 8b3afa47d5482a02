"""nstutor: learn what a container really is, on your own machine's kernel."""
__version__ = "0.1.0"
