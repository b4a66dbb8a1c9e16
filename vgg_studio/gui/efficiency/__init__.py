"""Measuring, sweeping and the efficiency chart (the chapter's closing chart for your own runs)."""
