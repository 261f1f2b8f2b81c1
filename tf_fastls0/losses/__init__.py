"""Training objectives of SPEC section 5 (sAT, Tradeoff, sTRADES, SAT) and N-FGSM sparse noise.

Every batch-level sum or mean is over the global batch, so one replica or several give the same
update (see ``distributed``).
"""
