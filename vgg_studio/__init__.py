"""vgg-studio: explore and train VGG-style convolutional networks (d2l.ai, "Networks Using Blocks")."""

__version__ = "0.1.0"
