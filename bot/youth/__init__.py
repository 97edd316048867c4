"""The youth programme: programmes and cohorts, sign-ups (enrolments), the waiting list, guardian consent.

Pure rules live in `eligibility` and `waiting`; `enrolments` applies them to the database; the
scheduler pass, announcements, the export and the `homeward youth …` commands build on those.
"""
