"""The architecture half of the window: the document (one spec, its undo history), the block table, the
network form, the problems list, and the views that explain the spec (summary tree, share charts)."""
