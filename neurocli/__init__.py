"""neurocli: simulate nerve-impulse models and train neural networks inside them."""

__version__ = "0.1.0"
