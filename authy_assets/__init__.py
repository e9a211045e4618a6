"""Dagster assets that export Authy users' phone numbers for the move to Twilio Verify."""
