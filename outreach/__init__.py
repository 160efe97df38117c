"""outreach: email blasts, tracking and follow-up queues for B2B sales teams."""

__version__ = "0.1.0"
