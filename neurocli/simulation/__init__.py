"""`neurocli simulate` beyond the command: single-run outputs, chunked sweeps, their figures."""
