"""Before training: memory, time and cost formulas, presets, the calibration probe and the lever advisor."""
