"""The review web app for market-regulation staff and auditors.

Entry points (kept out of this module so that `review.db` imports stay light for the nightly push):
`review.app.create_app(review.config.ReviewConfig(...))`, `review.users.add_user / update_user / list_users`,
`review.outcomes.export_research_outcomes / write_research_outcomes / under_disposition`, `review.audit.AuditLog`.
"""
