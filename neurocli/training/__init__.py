"""The training engine shared by train-ude and train-pinn (see `engine`)."""

from neurocli.training.checkpoint import CheckpointCorrupt as CheckpointCorrupt
from neurocli.training.checkpoint import CheckpointError as CheckpointError
from neurocli.training.checkpoint import CheckpointMismatch as CheckpointMismatch
from neurocli.training.engine import BEST as BEST
from neurocli.training.engine import LATEST as LATEST
from neurocli.training.engine import Cursor as Cursor
from neurocli.training.engine import Engine as Engine
from neurocli.training.engine import Record as Record
from neurocli.training.engine import Restored as Restored
from neurocli.training.engine import Settings as Settings
from neurocli.training.engine import TrainingFailed as TrainingFailed
from neurocli.training.history import History as History
from neurocli.training.signals import Interrupted as Interrupted
