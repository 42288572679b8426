"""Trainers of the surrogate models (one module per family of models); ``screening.train`` runs them."""
