"""Deployment-scale forecasts of rare behaviors from a small evaluation set."""
