"""Lesson files for nstutor (pack `nat`). nstutor reads the .md files beside this one and never
imports this package: it is a package only so that pip can install the lessons."""
