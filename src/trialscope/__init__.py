"""TrialScope: a self-hosted ClinicalTrials.gov registry explorer."""

__version__ = "0.1.0"
