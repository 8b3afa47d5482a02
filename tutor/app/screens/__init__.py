"""The app's screens, one module each: the lesson catalog, a lesson beside its live panel, the
setup of a prepared lab, and the small modal questions (help, name, confirm, solution).

A screen composes widgets (tutor.app.widgets) and the live panel's views (tutor.app.panel);
nothing below a screen imports a screen.
"""
