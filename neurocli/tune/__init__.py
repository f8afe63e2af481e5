"""`neurocli tune`: an Optuna search over config keys, each trial a normal run directory."""

from neurocli.tune.space import Param as Param
from neurocli.tune.space import load_space as load_space
from neurocli.tune.study import tune as tune
