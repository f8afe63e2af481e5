"""Per-member analysis of solutions, in NumPy and inside the compiled solve: spikes and firing
rates (`spikes`), conduction velocity along a cable (`cable`)."""
