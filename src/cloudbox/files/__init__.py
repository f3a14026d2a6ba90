"""Storage buckets and files whose bytes live in the content-addressed blob store."""
