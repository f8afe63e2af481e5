"""Optional mirrors of a run in TensorBoard and MLflow (`runtime.tracking`; `pip install
'neurocli[tracking]'`). The run directory stays the record: a tracking failure is one warning line
on stderr, never a failed run."""

from neurocli.tracking.tracker import Tracker as Tracker
from neurocli.tracking.tracker import start as start
