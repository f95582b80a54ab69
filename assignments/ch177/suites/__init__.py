"""Hidden property suites of ch177, one module per notebook. Never released to students."""
