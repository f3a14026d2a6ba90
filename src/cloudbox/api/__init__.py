"""HTTP glue only: parsing, authorisation, error rendering, pagination."""
