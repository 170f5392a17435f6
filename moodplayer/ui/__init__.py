"""What the user sees: the rich consoles, views and figures, and the Textual player.

Only the command line (:mod:`moodplayer.cli`) imports this package; the core
logs and returns values, and never prints.
"""
