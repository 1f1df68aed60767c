"""MobileNet-v1 layer table, int8 golden model and analytical cost model."""
