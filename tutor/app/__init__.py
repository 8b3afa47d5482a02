"""The Textual app: the lesson catalog, and a lesson beside a live view of the machine.

  app.py            NstutorApp: screens, themes, the one live checker; main.py starts it
  live_checker.py   the background loop: a snapshot about once a second, every step graded on it
  state.py          what the app knows of a lesson's steps (passed, failed, in front)
  progress_link.py  the app's side of the progress store (attempts, lab changes)
  screens/          one module per screen: catalog, lesson, setup, the modal questions
  widgets/          the app's own widgets: step list and cards, notices, the lesson's Markdown, the live panel
  panel/            the live panel's views, one module each, their layout helpers and table engine, focus

Imports run downwards only: screens use widgets and panel; widgets and panel use state.py and the
layers below (observe, checks, lessons), never a screen (tests/test_imports.py keeps tutor/ free of import cycles).
"""
