"""Host side: layer scheduling with DDR tiling, the driver, and reports."""
