"""`neurocli runs`: find, show and compare run directories, reading only their files.

Nothing here imports JAX (or neurocli.config, which does): listing 10⁴ runs takes a second.
"""

from neurocli.runs.keys import KEYS as KEYS
from neurocli.runs.keys import flat_metrics as flat_metrics
from neurocli.runs.query import RunsError as RunsError
from neurocli.runs.record import RunRecord as RunRecord
from neurocli.runs.record import read_run as read_run
from neurocli.runs.record import scan as scan
