"""train-ude's library: the data (`data`), the UDE model (`model`), its objective (`objective`), the
training task the engine runs (`task`), building it from a config (`setup`), and evaluation and
outputs (`evaluate`, `outputs`)."""
