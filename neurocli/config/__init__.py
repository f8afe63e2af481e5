from neurocli.config.base import ConfigError as ConfigError
from neurocli.config.base import dump_config as dump_config
from neurocli.config.base import load_config as load_config
from neurocli.config.simulate import SimulateConfig as SimulateConfig
