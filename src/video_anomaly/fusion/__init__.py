"""From the cues' raw region maps to one calibrated score: per-region calibration and fusion, the table of named
scores, thresholds that hold on new footage, the guard, feedback."""
