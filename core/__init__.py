"""Pure trading core: value types, policies, execution, risk, venues. Never imports the UI."""
