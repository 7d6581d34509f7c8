"""Settings shared by the whole suite.

The CLI's Rich tables wrap their headers to the terminal's width; CI has no terminal (80
columns), so tests that read human output would depend on where they run. A wide virtual
terminal makes them read the same text everywhere. It must be set before parcours.cli
creates its consoles, hence here.
"""

import os

os.environ["COLUMNS"] = "200"
