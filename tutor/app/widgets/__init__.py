"""The app's own widgets, one module each: the step list and step cards, the notice bar, the
lesson's Markdown, inline Markdown for one-line texts, and the live panel that shows a view.

Widgets know nothing of screens; the live panel draws whatever view (tutor.app.panel) it is given.
"""
