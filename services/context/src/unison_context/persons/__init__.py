"""Person erasure (crypto-shredding) and export, for operators and the person."""
