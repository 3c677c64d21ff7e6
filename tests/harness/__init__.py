"""Reusable harnesses for tests that run real services (WordPress, …)."""
