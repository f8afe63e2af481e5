"""Config schemas, one module per command (simulate, pinn, ude, discover), and the loading and
checking they share (base.py: strict YAML, key-path errors, units, bounds). Import the module
you need: this package imports nothing, so a schema's own imports (the member bindings) never
run into a half-imported package."""
