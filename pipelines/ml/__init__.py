"""Machine learning: training, evaluation, registration and batch scoring of recommenders."""
