"""The review web app for market-regulation staff and auditors."""
