"""train-ude's library: the data (`data`), the UDE model (`model`), its objective (`objective`), the
training task the engine runs (`task`), building it from a config (`setup`), and evaluation and
outputs (`evaluate`, `outputs`); sweeps over seeds and data noise: the members (`sweep`), all of them
trained at once (`sweep_task`) and their outputs (`sweep_outputs`)."""
