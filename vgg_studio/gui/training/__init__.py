"""The training half of the window: the settings panel, live curves, run history and results, the worker
that runs the engine in a thread, and the controller that wires them to the window (`install_training`)."""
