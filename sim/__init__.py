"""cocotb testbenches that check the generated RTL against the golden model and count cycles."""
