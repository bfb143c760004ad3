"""Red teaming with an attacker LM (Perez et al. 2022; PAIR): methods, metrics, training."""
