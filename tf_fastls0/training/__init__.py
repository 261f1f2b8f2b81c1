"""Training: the Keras model with a custom train_step, its methods, optimiser, callbacks, export."""
