"""video-anomaly: find abnormal events in surveillance video without labelled anomalies."""

__version__ = "0.1.0"
