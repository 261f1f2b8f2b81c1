"""Loss-landscape and attack analyses of the paper (SPEC section 8): Hessian spectra, landscapes,
perturbation locations, interpolation and gradient distance.

A loss to analyse is given as *parts*: callables ``part(model) -> scalar`` with the inputs (e.g.
adversarial examples) held fixed inside, whose SUM is the loss; ``loss_parts.fixed_input_losses``
builds them so that the sum is the data set's mean loss, one part per batch.
"""
