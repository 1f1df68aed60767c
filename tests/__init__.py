"""Fast tests that need no HDL simulator."""
