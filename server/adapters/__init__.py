"""I/O other than the database: hashing, tokens, SMS, file storage."""
