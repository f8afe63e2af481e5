"""train-ude's library: the run's outputs (the setup, objective and task are in neurocli.train for now)."""
